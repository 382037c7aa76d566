"""`bridge serve` with a binding of every kind: an event saved on a phone reaches the
calendar; a binding adopted with other rules is refused."""

from __future__ import annotations

import subprocess
import sys
import time

import caldav

from tests.contract.config import binding_toml, store_secret
from tests.support import server as support
from tests.support.http import vevent


def start_with_binding(tmp_path, db_url, driver, *, rules: str = ""):
    """bridge serve with alice bound to the driver's calendar (secret stored)."""
    port = support.free_port()
    binding = binding_toml(driver, rules)
    config = support.write_config(tmp_path, db_url, port, alice_extra=binding)
    store_secret(config, driver)
    return support.start(config, port, cwd=tmp_path)


def meetings_calendar(server):
    client = caldav.DAVClient(url=server.url + "/", username="alice", password="alice")
    return [c for c in client.principal().calendars() if str(c.url).endswith("/meetings/")][0]


def wait_for_subject(driver, server, subject: str, seconds: float = 20):
    deadline = time.monotonic() + seconds
    while not (found := [e for e in driver.events() if e.subject == subject]):
        assert time.monotonic() < deadline, f"not there:\n{server.output()[-3000:]}"
        time.sleep(0.2)
    return found[0]


def test_phone_change_reaches_the_calendar_within_seconds(tmp_path, db_url, driver):
    server = start_with_binding(tmp_path, db_url, driver)
    try:
        meetings = meetings_calendar(server)
        meetings.add_event(
            vevent("phone-1", "Made on the phone", extra="ATTENDEE:mailto:eve@x.org")
        )
        found = wait_for_subject(driver, server, "Made on the phone")
        assert not found.attendees
        assert driver.mailed() == []
    finally:
        server.stop()


def test_serve_stops_syncing_a_binding_adopted_with_other_rules(tmp_path, db_url, driver):
    """`bridge db upgrade` with another file while serve runs: the store now holds the new
    rules, so serve (whose file differs) refuses the binding and says why in its log."""
    server = start_with_binding(tmp_path, db_url, driver)
    try:
        cal = meetings_calendar(server)
        cal.add_event(vevent("before-1", "Before the new file"))
        wait_for_subject(driver, server, "Before the new file")
        other = tmp_path / "other.toml"
        plain = binding_toml(driver)
        ruled = binding_toml(driver, 'conflict_policy = "calendar-wins"')
        other.write_text(server.config.read_text().replace(plain, ruled, 1))
        adopted = subprocess.run(
            [sys.executable, "-m", "bridge.cli", "db", "upgrade", "--config", str(other)],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert adopted.returncode == 0, adopted.stderr
        cal.add_event(vevent("after-1", "After the new file"))
        deadline = time.monotonic() + 6
        wanted = "rules.conflict_policy: stored 'calendar-wins', this configuration 'crm-wins'"
        while wanted not in server.output():
            assert time.monotonic() < deadline, server.output()[-3000:]
            time.sleep(0.2)
        time.sleep(2)
        assert "After the new file" not in {e.subject for e in driver.events()}
        assert f"binding alice/{driver.kind}" in server.output()
    finally:
        server.stop()
