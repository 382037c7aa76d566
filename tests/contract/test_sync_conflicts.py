"""Both sides changed: conflict policies, a remote edit between pull and push (412), the
newest rule with deletions (which carry their time), a copy gone on update; and a binding
that changes kind. Every backend kind, SQLite and MariaDB."""

from __future__ import annotations

import time

import pytest

from bridge.store import binding_secrets
from bridge.store import links as link_store
from bridge.sync.rules import SyncRules
from tests.contract.pull import AfterList


@pytest.mark.parametrize(
    ("policy", "winner"), [("crm-wins", "CRM title"), ("calendar-wins", "Calendar title")]
)
def test_both_sides_changed_follows_the_conflict_policy(world_with, driver, policy, winner):
    world = world_with(SyncRules(conflict_policy=policy))
    world.crm_meeting("c-1", "Original")
    world.round()
    (event,) = world.events()
    driver.edit(event.remote_id, subject="Calendar title")
    world.crm_meeting("c-1", "CRM title")
    world.round()
    world.round()  # settles: the loser's copy is overwritten, then all is an echo
    assert world.subjects() == [winner]
    assert world.meeting("c-1").subject == winner
    quiet = world.round()
    assert quiet.pulled == 0 and quiet.pushed == 0


def test_remote_edit_between_pull_and_push_is_a_412_then_resolved(contract_world, driver):
    """The calendar changes the event after the round listed it: the push's If-Match fails
    (412), nothing is lost, and the next round applies the conflict policy (crm-wins)."""
    world = contract_world
    world.crm_meeting("race", "Original")
    world.round()
    (event,) = world.events()
    world.crm_meeting("race", "CRM edit")
    edit = lambda: driver.edit(event.remote_id, subject="Calendar edit")  # noqa: E731
    report = world.round(backend=AfterList(world.backend(), then=edit))
    assert any("changed remotely" in e for e in report.errors)
    assert world.subjects() == ["Calendar edit"]  # our stale write was refused
    world.round()
    world.round()
    assert world.subjects() == ["CRM edit"]
    assert world.meeting("race").subject == "CRM edit"


def test_a_new_kind_starts_a_clean_pairing_matched_by_tag(contract_world, driver, monkeypatch):
    """A binding moved to another kind (here one registered by the test) and back drops
    the old pairing whole (links, cursor, outbound position, credentials); the next round
    lists everything and finds the tagged copy: no duplicate, no stale link."""
    from bridge.backends import kinds
    from bridge.backends.settings_schema import KindSchema, Setting
    from bridge.store import bindings as binding_store

    world = contract_world
    monkeypatch.setattr(kinds, "_KINDS", dict(kinds._KINDS))
    kinds.register(KindSchema("othercal", {"mailbox": Setting(str, identity=True)}))
    world.crm_meeting("kind-1", "Moves with the mailbox")
    world.round()
    copy_ids = {e.remote_id for e in world.events()}
    assert len(copy_ids) == 1 and world.link_count() == 1
    settings = binding_secrets.open_settings(world.binding(), world.keyring)

    def configure(kind: str, backend: dict, *, adopt: bool) -> None:
        keys = tuple(kinds.schema_for(kind).identity(backend))
        record = binding_store.BindingRecord("alice", driver.kind, kind, backend, {}, keys)
        world.store.write(lambda tx: binding_store.sync(tx, [record], world.keyring, adopt=adopt))

    configure("othercal", {"mailbox": "alice@example.com"}, adopt=False)  # only compared
    assert world.binding().kind == driver.kind and world.link_count() == 1

    configure("othercal", {"mailbox": "alice@example.com"}, adopt=True)
    moved = world.binding()
    assert moved.kind == "othercal" and world.link_count() == 0
    assert moved.remote_cursor is None and moved.outbound_seq == 0 and moved.secret is None

    configure(driver.kind, settings, adopt=True)
    assert world.binding().kind == driver.kind and world.binding().remote_cursor is None
    secret = driver.binding_secret()  # authorized again for the new pairing
    if secret:
        world.store.write(
            lambda tx: binding_secrets.set_secret(tx, world.binding_id, secret, world.keyring)
        )
    world.round()
    assert {e.remote_id for e in world.events()} == copy_ids  # no duplicate
    link = world.store.read(lambda c: link_store.by_meeting(c, world.binding_id, "kind-1"))
    assert link is not None and link.remote_id in copy_ids  # the tagged copy, found again
    assert world.link_count() == 1 and world.meeting_count() == 1


# -- deletions carry their time (policy newest); a copy gone on update goes back to plan --


def _assert_made_under(world, key: str, event) -> None:
    """``event`` is the copy the idempotency ``key`` names: creating under it again finds
    it and makes no second one."""
    again = world.backend().create(event, idempotency_key=key)
    assert again.remote_id == event.remote_id and len(world.events()) == 1


@pytest.mark.parametrize("later", ["calendar edit", "crm deletion"])
def test_newest_weighs_a_crm_deletion_by_when_it_happened(world_with, driver, later):
    """The change log dates the deletion: a later calendar edit restores the meeting, an
    earlier one loses to it (it used to lose always: the deletion had no time)."""
    world = world_with(SyncRules(conflict_policy="newest"))
    world.crm_meeting("d-1", "Original")
    world.round()
    (event,) = world.events()
    steps = [
        lambda: world.delete_in_crm("d-1"),
        lambda: driver.edit(event.remote_id, subject="Edited in the calendar"),
    ]
    for step in steps if later == "calendar edit" else steps[::-1]:
        step()
        time.sleep(1.1)  # iCalendar's LAST-MODIFIED has whole seconds: a tie goes to the CRM
    world.round()
    world.round()
    if later == "calendar edit":
        assert world.meeting("d-1").subject == "Edited in the calendar"
        assert world.subjects() == ["Edited in the calendar"]
    else:
        assert world.meeting("d-1") is None and world.events() == []
    quiet = world.round()
    assert quiet.pulled == 0 and quiet.pushed == 0


@pytest.mark.parametrize("crm_edit", ["before the pull", "after the pull listed"])
def test_newest_dates_a_calendar_deletion_when_the_pull_saw_it(world_with, driver, crm_edit):
    """A deletion without a time (Google's carry only their id) counts as made when the
    pull listed it. A CRM edit before that loses (the meeting is deleted); one after it
    wins (the copy is made again, under plan's re-create key)."""
    import hashlib

    world = world_with(SyncRules(conflict_policy="newest"))
    world.crm_meeting("g-1", "Original")
    world.round()
    (old,) = world.events()
    if crm_edit == "before the pull":
        world.crm_meeting("g-1", "Edited in the CRM")
        time.sleep(0.05)
        driver.remove(old.remote_id)
        world.round()
    else:
        driver.remove(old.remote_id)
        then = lambda: world.crm_meeting("g-1", "Edited in the CRM")  # noqa: E731
        world.round(backend=AfterList(world.backend(), then=then))
    world.round()
    if crm_edit == "before the pull":
        assert world.meeting("g-1") is None and world.events() == []
    else:
        key = f"g-1/{hashlib.sha256(old.remote_id.encode()).hexdigest()[:16]}"
        (event,) = world.events()
        assert event.remote_id != old.remote_id and event.subject == "Edited in the CRM"
        assert world.meeting("g-1").subject == "Edited in the CRM"
        quiet = world.round()
        assert quiet.pulled == 0 and quiet.pushed == 0
        _assert_made_under(world, key, event)
        return
    quiet = world.round()
    assert quiet.pulled == 0 and quiet.pushed == 0


def test_a_copy_gone_on_update_goes_back_to_plan(contract_world, driver):
    """The remote answers 404 to our update (the copy went after the round listed): plan
    decides again with the calendar side deleted, and under crm-wins makes the copy anew
    under its own re-create key - not under the meeting's first key, which would bring
    the deleted copy back."""
    import hashlib

    world = contract_world
    world.crm_meeting("u-1", "Original")
    world.round()
    (old,) = world.events()
    world.crm_meeting("u-1", "Edited in the CRM")

    def vanish():
        driver.remove(old.remote_id)
        driver.fail_next("update", 404)

    world.round(backend=AfterList(world.backend(), then=vanish))
    key = f"u-1/{hashlib.sha256(old.remote_id.encode()).hexdigest()[:16]}"
    (event,) = world.events()
    assert event.remote_id != old.remote_id
    assert event.subject == "Edited in the CRM"
    link = world.store.read(lambda c: link_store.by_meeting(c, world.binding_id, "u-1"))
    assert link.remote_id == event.remote_id
    quiet = world.round()
    assert quiet.pulled == 0 and quiet.pushed == 0
    _assert_made_under(world, key, event)
