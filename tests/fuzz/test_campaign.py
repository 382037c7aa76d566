"""The fuzz campaign against a live `bridge serve`, on SQLite and MariaDB (see campaign.py).

A failure in one of the classes the campaign found and that were fixed (outcome.KNOWN)
is reported with its class: a regression. FUZZ_CASES=N changes the number of cases (default 300).
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, Phase, given, settings

from tests.fuzz.campaign import running
from tests.fuzz.cases import Case, cases

CASES = int(os.environ.get("FUZZ_CASES", "300"))


def test_fuzz_campaign(db_url, tmp_path):
    with running(db_url, tmp_path) as campaign:

        @settings(
            max_examples=CASES,
            deadline=None,
            derandomize=True,
            database=None,
            phases=[Phase.generate],  # the server keeps state: no replay, no shrinking
            suppress_health_check=list(HealthCheck),
        )
        @given(cases())
        def one(case: Case) -> None:
            campaign.run(case)

        one()
        campaign.run_regressions()
        campaign.finish()
        print(campaign.report())
        assert not campaign.failures, campaign.report()
