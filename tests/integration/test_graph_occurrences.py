"""``unsupported_recurrence = "occurrences"``: a CRM series whose rule Graph cannot express
is written as single events, one per occurrence in the window, each with the CRM tag and
the occurrence marker; the meeting is linked to the group, never rewritten from a copy, and
no copy ever becomes a meeting. Both directions, SQLite and MariaDB."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bridge.backends.graph import wire
from bridge.model import Recurrence
from bridge.store import links as link_store
from tests.contract.drivers.graph import GraphDriver
from tests.contract.world import ContractWorld, make_contract_world
from tests.emulators.graph import GraphEmulator

HOURLY = "FREQ=HOURLY;INTERVAL=2;COUNT=4"  # Graph's patterns have no hourly one
START = (datetime.now(UTC) + timedelta(days=2)).replace(hour=8, minute=0, second=0, microsecond=0)


def _world(db_url: str, tmp_path: Path, choice: str) -> Iterator[ContractWorld]:
    with GraphEmulator() as graph:
        made = make_contract_world(
            db_url, GraphDriver(graph, tmp_path), unsupported_recurrence=choice
        )
        try:
            yield made
        finally:
            made.close()


@pytest.fixture
def world(db_url: str, tmp_path: Path) -> Iterator[ContractWorld]:
    yield from _world(db_url, tmp_path, "occurrences")


@pytest.fixture
def skipping(db_url: str, tmp_path: Path) -> Iterator[ContractWorld]:
    yield from _world(db_url, tmp_path, "skip")


def _series(world: ContractWorld, subject: str = "Rounds") -> None:
    world.crm_meeting(
        "hourly",
        subject,
        start=START,
        end=START + timedelta(minutes=30),
        recurrence=Recurrence(rrule=HOURLY),
    )


def _copies(world: ContractWorld) -> list[dict]:
    return [
        item
        for item in world.driver.box.events()
        if wire.tags_of(item).get(wire.OCCURRENCE_PROPERTY.lower())
    ]


def _link(world: ContractWorld):
    return world.store.read(lambda c: link_store.by_meeting(c, world.binding_id, "hourly"))


def _writes(world: ContractWorld) -> list[str]:
    return [
        f"{c.method} {c.path}"
        for c in world.driver.graph.calls
        if c.method in ("POST", "PATCH", "DELETE") and "/events" in c.path
    ]


def test_a_rule_graph_cannot_say_is_written_as_occurrences(world: ContractWorld) -> None:
    _series(world)
    report = world.round()
    assert not report.errors and world.quarantine() == []
    copies = _copies(world)
    assert len(copies) == 4
    starts = sorted(wire.parse_time(c["start"]) for c in copies)
    assert starts == [START + timedelta(hours=2 * i) for i in range(4)]
    assert all(c["type"] == "singleInstance" and not c.get("attendees") for c in copies)
    assert all(wire.tags_of(c)[wire.CRM_ID_PROPERTY.lower()] == "hourly" for c in copies)
    assert all(c["subject"] == "Rounds" for c in copies)
    link = _link(world)
    assert link.remote_id.startswith("occurrences:")
    assert world.driver.mailed() == []


def test_pulls_never_rewrite_the_meeting_nor_make_new_ones(world: ContractWorld) -> None:
    _series(world)
    world.round()
    meeting, link = world.meeting("hourly"), _link(world)
    count = world.meeting_count()

    world.driver.graph.reset_counters()
    idle = world.round()  # the pull lists the copies back: no echo, nothing written
    assert idle.pulled == 0 and _writes(world) == []

    first = _copies(world)[0]
    world.driver.edit(first["id"], subject="Edited in Outlook")  # one copy, by the user
    world.driver.remove(_copies(world)[1]["id"])  # and another deleted
    world.driver.graph.reset_counters()
    world.round()
    assert _writes(world) == []
    assert world.meeting("hourly").subject == meeting.subject == "Rounds"
    assert world.meeting("hourly").start_utc == meeting.start_utc
    assert world.meeting_count() == count  # no copy became a meeting
    assert _link(world).remote_id == link.remote_id
    assert _link(world).synced_hash == link.synced_hash

    world.driver.expire_cursor()  # a resync lists every copy again: still nothing
    world.round()
    assert world.meeting_count() == count and world.meeting("hourly").subject == "Rounds"
    assert world.quarantine() == []


def test_a_crm_change_rewrites_the_copies_and_a_delete_removes_them(world: ContractWorld) -> None:
    _series(world)
    world.round()
    before = {c["id"] for c in _copies(world)}
    _series(world, "Rounds (moved)")
    world.round()
    after = _copies(world)
    assert len(after) == 4 and {c["subject"] for c in after} == {"Rounds (moved)"}
    assert before.isdisjoint({c["id"] for c in after})  # the old copies are gone
    world.round()  # and the rewrite is no echo either
    assert world.meeting("hourly").subject == "Rounds (moved)"

    world.delete_in_crm("hourly")
    world.round()
    assert _copies(world) == [] and _link(world) is None
    assert world.driver.mailed() == []


def test_a_rule_graph_can_say_again_turns_the_copies_into_a_series(world: ContractWorld) -> None:
    _series(world)
    world.round()
    world.crm_meeting(
        "hourly",
        "Rounds",
        start=START,
        end=START + timedelta(minutes=30),
        recurrence=Recurrence(rrule="FREQ=DAILY;COUNT=3"),
    )
    world.round()
    assert _copies(world) == []
    (series,) = world.events()
    assert series.recurrence and not _link(world).remote_id.startswith("occurrences:")


def test_skip_stays_the_default_refusal(skipping: ContractWorld) -> None:
    _series(skipping)
    skipping.round()
    assert _copies(skipping) == [] and skipping.events() == []
    (held,) = skipping.quarantine()
    assert "FREQ=HOURLY" in held.reason and "unsupported_recurrence = skip" in held.reason


def test_a_plain_meeting_given_such_a_rule_becomes_occurrences(world: ContractWorld) -> None:
    world.crm_meeting("hourly", "Once", start=START, end=START + timedelta(minutes=30))
    world.round()
    (single,) = world.events()
    _series(world)
    world.round()
    assert len(_copies(world)) == 4
    assert single.remote_id not in {c["id"] for c in world.driver.box.events()}
    assert _link(world).remote_id.startswith("occurrences:")
    assert world.quarantine() == [] and world.driver.mailed() == []


# --- the window slides: occurrences it brings in are written, and nothing else --------------

EVERY_TEN_DAYS = "FREQ=HOURLY;INTERVAL=240"  # unbounded: the window decides what is written


def _sliding(world: ContractWorld, t0: datetime) -> None:
    start = t0.replace(hour=8, minute=0, second=0, microsecond=0) + timedelta(days=1)
    world.crm_meeting(
        "hourly",
        "Ten-daily",
        start=start,
        end=start + timedelta(minutes=30),
        recurrence=Recurrence(rrule=EVERY_TEN_DAYS),
    )


def _by_id(world: ContractWorld) -> dict[str, dict]:
    return {c["id"]: c for c in _copies(world)}


def _reach(world: ContractWorld, now: datetime) -> datetime:
    """How far copies are written for a pull at ``now``: the window's end + rebaseline_days."""
    return world.rules.window(now).end + timedelta(days=7)


def _starts(copies) -> list[datetime]:
    return sorted(wire.parse_time(c["start"]) for c in copies)


def _expected(first: datetime, after: datetime, until: datetime) -> list[datetime]:
    out, when = [], first
    while when < until:
        if when > after:
            out.append(when)
        when += timedelta(days=10)
    return out


def test_the_sliding_window_brings_new_occurrences_and_writes_nothing_else(
    world: ContractWorld,
) -> None:
    t0 = datetime.now(UTC)
    _sliding(world, t0)
    world.round(clock=lambda: t0)
    world.round(clock=lambda: t0)  # the pull that notes the group in the cursor
    first = _by_id(world)
    starts = _starts(first.values())
    assert starts[-1] < _reach(world, t0) and len(starts) >= 30
    meeting, link = world.meeting("hourly"), _link(world)

    world.driver.graph.reset_counters()
    world.round(clock=lambda: t0 + timedelta(days=3))  # still inside the cover: nothing
    assert _writes(world) == []

    t1 = t0 + timedelta(days=25)
    world.driver.graph.reset_counters()
    report = world.round(clock=lambda: t1)
    assert not report.errors and report.pulled == 0
    now = _by_id(world)
    new = [c for i, c in now.items() if i not in first]
    assert _starts(new) == _expected(starts[0], starts[-1], _reach(world, t1))
    assert len(new) >= 2
    assert all(now[i] == first[i] for i in first)  # the copies written before: untouched
    writes = _writes(world)
    assert len(writes) == len(new) and all(w.startswith("POST ") for w in writes)
    assert world.meeting("hourly").subject == meeting.subject
    assert _link(world).synced_hash == link.synced_hash and _link(world).remote_id == link.remote_id

    world.driver.graph.reset_counters()  # the same window again: no duplicate
    world.round(clock=lambda: t1)
    world.round(clock=lambda: t1 + timedelta(hours=1))
    assert _writes(world) == [] and len(_copies(world)) == len(now)
    assert world.driver.mailed() == [] and world.quarantine() == []


def test_the_window_slides_on_after_a_resync_and_never_brings_back_a_deleted_copy(
    world: ContractWorld,
) -> None:
    t0 = datetime.now(UTC)
    _sliding(world, t0)
    world.round(clock=lambda: t0)
    world.round(clock=lambda: t0)
    last = max(_copies(world), key=lambda c: wire.parse_time(c["start"]))
    world.driver.remove(last["id"])  # the user deletes the last copy in Outlook
    world.driver.expire_cursor()  # and the cursor (with its table of groups) is lost
    t1 = t0 + timedelta(days=25)
    world.driver.graph.reset_counters()
    world.round(clock=lambda: t1)
    starts = _starts(_copies(world))
    assert wire.parse_time(last["start"]) not in starts
    assert starts[-1] > wire.parse_time(last["start"])  # the window slid on all the same
    assert len(set(starts)) == len(starts)
    world.driver.graph.reset_counters()
    world.round(clock=lambda: t1)
    assert _writes(world) == []


def test_a_group_deleted_from_the_crm_is_not_extended(world: ContractWorld) -> None:
    t0 = datetime.now(UTC)
    _sliding(world, t0)
    world.round(clock=lambda: t0)
    world.round(clock=lambda: t0)
    world.delete_in_crm("hourly")
    world.round(clock=lambda: t0)
    assert _copies(world) == []
    world.round(clock=lambda: t0 + timedelta(days=25))
    assert _copies(world) == [] and world.meeting_count() == 0
