"""bridge.sync.rules: defaults, parsing, and errors that name the key and the reason."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bridge.model import APPOINTMENT, MEETING
from bridge.sync.rules import DirectionRules, SyncRules

WHERE = "users.alice.bindings.google"
NOW = datetime(2026, 3, 2, 12, tzinfo=UTC)


def test_defaults():
    rules = SyncRules()
    assert rules.conflict_policy == "crm-wins"
    for direction in (rules.crm_to_calendar, rules.calendar_to_crm):
        assert direction.history_days == 30 and direction.forward_days == 365
        assert direction.create_types == direction.sync_types == {MEETING, APPOINTMENT}
        assert direction.default_activity_type == APPOINTMENT
        assert direction.private_policy == "full"


def test_from_mapping_reads_every_key():
    rules = SyncRules.from_mapping(
        {
            "conflict_policy": "newest",
            "crm_to_calendar": {
                "history_days": 60,
                "forward_days": 0,
                "create_types": ["meeting"],
                "sync_types": [],
                "private_policy": "busy",
            },
            "calendar_to_crm": {"default_activity_type": " ", "private_policy": "skip"},
        },
        where=WHERE,
    )
    assert rules.conflict_policy == "newest"
    assert rules.crm_to_calendar.history_days == 60 and rules.crm_to_calendar.forward_days == 0
    assert rules.crm_to_calendar.create_types == {"meeting"}
    assert rules.crm_to_calendar.sync_types == frozenset()
    assert rules.crm_to_calendar.private_policy == "busy"
    assert rules.calendar_to_crm.default_activity_type == ""
    assert rules.calendar_to_crm.private_policy == "skip"
    assert rules.calendar_to_crm.history_days == 30


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"crm_to_calendar": {"history_days": 61}}, "crm_to_calendar.history_days: at most 60"),
        ({"calendar_to_crm": {"forward_days": 366}}, "calendar_to_crm.forward_days: at most 365"),
        ({"crm_to_calendar": {"history_days": -1}}, "history_days: must not be negative"),
        ({"crm_to_calendar": {"history_days": True}}, "history_days: must be a whole number"),
        ({"crm_to_calendar": {"forward_days": "30"}}, "forward_days: must be a whole number"),
        ({"crm_to_calendar": {"create_types": "meeting"}}, "create_types: must be a list"),
        ({"crm_to_calendar": {"sync_types": ["", "x"]}}, "sync_types: every activity type"),
        ({"calendar_to_crm": {"default_activity_type": 3}}, "default_activity_type: must be"),
        ({"calendar_to_crm": {"private_policy": "hide"}}, "private_policy: must be one of"),
        ({"conflict_policy": "oldest"}, "conflict_policy: must be one of"),
        ({"crm_to_calendar": {"histroy_days": 3}}, "crm_to_calendar.histroy_days: unknown key"),
        ({"direction": {}}, f"{WHERE}.direction: unknown key"),
        ({"crm_to_calendar": []}, "crm_to_calendar: must be a table"),
    ],
)
def test_errors_name_the_key_and_the_reason(data, message):
    with pytest.raises(ValueError) as caught:
        SyncRules.from_mapping(data, where=WHERE)
    assert message in str(caught.value)
    assert str(caught.value).startswith(WHERE)


def test_constructor_validates_too():
    with pytest.raises(ValueError, match="history_days"):
        DirectionRules(history_days=90)
    with pytest.raises(ValueError, match="conflict_policy"):
        SyncRules(conflict_policy="random")


def test_window_overlap():
    rules = DirectionRules(history_days=10, forward_days=20)
    assert rules.window(NOW) == (NOW - timedelta(days=10), NOW + timedelta(days=20))
    assert rules.in_window(NOW - timedelta(days=11), NOW - timedelta(days=9), NOW)
    assert not rules.in_window(NOW - timedelta(days=12), NOW - timedelta(days=10), NOW)
    assert not rules.in_window(NOW + timedelta(days=20), NOW + timedelta(days=21), NOW)
    assert rules.in_window(NOW - timedelta(days=400), None, NOW)  # open-ended series
