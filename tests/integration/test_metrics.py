"""/metrics after real CalDAV requests and real sync rounds of a running `bridge serve`:
every family the operations page promises, with values that follow what happened."""

from __future__ import annotations

import caldav
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.http import request, vevent
from tests.support.ops import start_ops

#: Every test here opens the store first (start_ops: its first step migrates it): its
#: MariaDB database may come migrated (tests/conftest.py).
pytestmark = pytest.mark.migrated_first


def scrape(ops) -> dict[tuple[str, tuple], float]:
    answer = ops.get("/metrics")
    assert answer.status == 200, answer.body
    assert answer.headers["content-type"].startswith("text/plain; version=")
    samples = {}
    for family in text_string_to_metric_families(answer.body):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples, name: str, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_follow_requests_and_rounds(tmp_path, db_url, google_emulator):
    # A slow pace (2 requests a second, no burst) makes the round wait for it; one 503
    # makes a retry; public_url opens a push channel.
    ops = start_ops(
        tmp_path,
        db_url,
        google_emulator,
        backend="requests_per_second = 2\nburst = 1\nbackoff_base = 0.1",
    )
    try:
        ops.wait(lambda: ops.binding()["last_success_at"], "no first round")
        before = scrape(ops)
        assert value(before, "bridge_sync_rounds_total", kind="google", outcome="ok") >= 1
        assert value(before, "bridge_push_channels_open") == 0  # no public_url: no push

        google_emulator.faults.server_error(1, status=503)
        client = caldav.DAVClient(url=ops.server.url + "/", username="alice", password="alice")
        meetings = [c for c in client.principal().calendars() if str(c.url).endswith("/meetings/")][
            0
        ]
        meetings.add_event(vevent("m-1", "Measured"))
        missing = request(ops.server.url, "GET", "/alice/meetings/nothing-here.ics")
        assert missing.status == 404
        ops.wait(
            lambda: (
                "Measured"
                in {e.get("summary") for e in google_emulator.events("alice@example.com")}
            ),
            "the meeting did not reach Google",
        )
        ops.wait(
            lambda: (
                value(scrape(ops), "bridge_sync_rounds_total", kind="google", outcome="ok")
                > value(before, "bridge_sync_rounds_total", kind="google", outcome="ok")
            ),
            "the round was not counted",
        )
        after = scrape(ops)
        assert value(after, "bridge_caldav_requests_total", method="PUT", status="201") == 1
        assert value(after, "bridge_caldav_requests_total", method="GET", status="404") == 1
        assert value(after, "bridge_caldav_requests_total", method="PROPFIND", status="207") >= 2
        assert value(after, "bridge_caldav_request_seconds_count", method="PUT") == 1
        assert value(after, "bridge_caldav_request_seconds_bucket", method="PUT", le="+Inf") == 1
        assert value(after, "bridge_caldav_request_seconds_sum", method="PUT") > 0
        ok = value(after, "bridge_sync_round_seconds_count", kind="google", outcome="ok")
        assert ok == value(after, "bridge_sync_rounds_total", kind="google", outcome="ok") >= 2
        calls = value(after, "bridge_remote_calls_total", kind="google")
        assert calls > value(before, "bridge_remote_calls_total", kind="google")
        assert calls >= google_emulator.calls["events.list"] > 0
        assert value(after, "bridge_remote_retries_total", kind="google") == 1  # the 503
        assert value(after, "bridge_throttle_waits_total", kind="google") >= 1
        assert value(after, "bridge_throttle_wait_seconds_total", kind="google") > 0
        assert value(after, "bridge_changes_waiting", binding="alice/google", kind="google") == 0
        assert value(after, "bridge_leases_held") == 0  # no round runs now
        assert ("bridge_push_channels_open", ()) in after
    finally:
        ops.server.stop()


def test_changes_waiting_counts_what_a_failing_binding_has_not_pushed(
    tmp_path, db_url, google_emulator
):
    ops = start_ops(tmp_path, db_url, google_emulator)
    try:
        ops.wait(lambda: ops.binding()["last_success_at"], "no first round")
        google_emulator.faults.error(404, "notFound", times=1000)
        client = caldav.DAVClient(url=ops.server.url + "/", username="alice", password="alice")
        meetings = [c for c in client.principal().calendars() if str(c.url).endswith("/meetings/")][
            0
        ]
        for n in range(3):
            meetings.add_event(vevent(f"w-{n}", f"Waiting {n}"))
        ops.wait(lambda: ops.binding()["state"] == "failing", "the round did not fail")
        samples = scrape(ops)
        assert value(samples, "bridge_changes_waiting", binding="alice/google", kind="google") == 3
        assert value(samples, "bridge_sync_rounds_total", kind="google", outcome="failed") >= 1
    finally:
        ops.server.stop()
