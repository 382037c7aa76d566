"""The fuzz campaign against a live `bridge serve`, on SQLite and MariaDB (see campaign.py).

FUZZ_EXCLUDE_KNOWN=1 - TEMPORARY, for running the campaign usefully while the known
failure classes (outcome.KNOWN) are being fixed on other branches: it leaves out the
cases that belong to them and the checks that would report them. CI runs without it.
FUZZ_CASES=N changes the number of cases (default 300).
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, Phase, given, settings

from tests.fuzz.campaign import running
from tests.fuzz.cases import Case, cases
from tests.fuzz.outcome import KNOWN

EXCLUDE = frozenset(KNOWN) if os.environ.get("FUZZ_EXCLUDE_KNOWN") == "1" else frozenset()
CASES = int(os.environ.get("FUZZ_CASES", "300"))


def test_fuzz_campaign(db_url, tmp_path):
    with running(db_url, tmp_path, exclude=EXCLUDE) as campaign:

        @settings(
            max_examples=CASES,
            deadline=None,
            derandomize=True,
            database=None,
            phases=[Phase.generate],  # the server keeps state: no replay, no shrinking
            suppress_health_check=list(HealthCheck),
        )
        @given(cases().filter(lambda c: not (c.known & EXCLUDE)))
        def one(case: Case) -> None:
            campaign.run(case)

        one()
        campaign.run_regressions()
        campaign.finish()
        print(campaign.report())
        assert not campaign.failures, campaign.report()
