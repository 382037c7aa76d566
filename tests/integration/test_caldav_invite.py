"""CalDAV's invite capability on what only its wire has: whether the server schedules
(RFC 6638 ``calendar-auto-schedule`` in the DAV header of OPTIONS). Stock Radicale does
not: the copy is held unsent, every ORGANIZER/ATTENDEE line marked SCHEDULE-AGENT=CLIENT.
Behind a proxy that announces scheduling, the same Radicale stores a copy a scheduling
server would mail: people lines without SCHEDULE-AGENT (the proxy's mailed()), and an
unsent cancel first marks them CLIENT. The copy is read from Radicale itself."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from bridge.backends.base import InviteCopy, Rejected, RemoteAttendee
from tests.contract.drivers.caldav import open_driver

START = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
COPY = InviteCopy(
    subject="Review",
    start=START,
    end=START + timedelta(hours=1),
    organiser=RemoteAttendee("alice@example.com", "Alice"),
    attendees=(RemoteAttendee("ann@partner.test", "Ann"),),
    description="Hello Ann",
    location="Harbour",
    uid="u-1@invite.crm-bridge.invalid",
)


def unfold(text: str) -> str:
    return re.sub(r"\r?\n[ \t]", "", text)


@pytest.fixture
def driver(tmp_path):
    with open_driver(tmp_path) as made:
        yield made


def test_stock_radicale_cannot_send_and_holds_the_copy(driver):
    backend = driver.make_backend()
    try:
        invites = backend.invites()
        assert invites is not None
        can = invites.abilities()
        assert (can.can_send, can.can_hold_unsent) == (False, True) and "RFC 6638" in can.note
        with pytest.raises(Rejected):
            invites.create_invite(COPY, send=True, idempotency_key="k")
        assert driver.write_count() == 0
        held = invites.create_invite(COPY, send=False, idempotency_key="k")
        again = invites.create_invite(COPY, send=False, idempotency_key="k")
        assert again.remote_id == held.remote_id and not held.mailed
        raw = unfold(driver.invite_wire(held.remote_id)["raw"])
        people = [line for line in raw.splitlines() if line.startswith(("ORGANIZER", "ATTENDEE"))]
        assert len(people) == 2 and all("SCHEDULE-AGENT=CLIENT" in line for line in people)
        assert "UID:u-1@invite.crm-bridge.invalid" in raw and "X-CRM-MEETING-ID" not in raw
        assert driver.mailed() == []
    finally:
        backend.close()


def test_a_scheduling_server_gets_a_copy_it_would_mail(driver):
    driver.proxy.faults.offers_scheduling = True
    backend = driver.make_backend()
    try:
        invites = backend.invites()
        assert invites is not None
        assert invites.abilities().can_send
        sent = invites.create_invite(COPY, send=True, idempotency_key="k")
        assert sent.mailed
        assert any("ATTENDEE" in line and "ann@partner.test" in line for line in driver.mailed())
        driver.guest_edit(sent.remote_id, partstat=("ann@partner.test", "ACCEPTED"))
        moved = replace(COPY, location="Pier", sequence=1)
        before = len(driver.mailed())
        invites.update_invite(sent.remote_id, moved, send=True, etag="")
        wire = driver.invite_wire(sent.remote_id)
        assert wire["location"] == "Pier" and wire["sequence"] >= 1
        assert "PARTSTAT=ACCEPTED" in unfold(wire["raw"]), "the answer is kept"
        assert len(driver.mailed()) > before
        before = len(driver.mailed())
        invites.cancel_invite(sent.remote_id, send=False, etag="")
        assert len(driver.mailed()) == before, "an unsent cancel is marked CLIENT first"
        assert sent.remote_id not in {e.remote_id for e in driver.events()}
    finally:
        backend.close()
