"""The Invite action on every backend kind (tests/contract/drivers/): the external copy in
alice's own calendar holds exactly the organiser and the external participants, never the
CRM's notes, description, internal attendees, CRM persons/organisations, custom fields or
id; CRM edits of those write nothing to it; nothing the organiser or a guest does to it
changes the meeting or comes back as one; drift is shown and sent only on request (SEQUENCE
grows); cancel; send=false where the kind can hold an unsent copy, refused where not; a
kind that cannot send is refused clearly, never skipped. Assertions read the service's own
record of the copy (Driver.invite_wire), not our backend.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bridge.backends.base import InviteAbilities
from bridge.config.invite import BUNDLED_TEMPLATES, InviteSettings
from bridge.invite import InviteError, Invites
from bridge.meeting_service import save_from_sync
from bridge.model import Meeting, Override, Participant, Recurrence
from tests.contract.driver import ALICE

UID = "crm-7f3a9c2e-invite"
NOTES = "INTERNAL-NOTE-do-not-leak-4471"
DESCRIPTION = "CRM-DESCRIPTION-internal-9932"
PERSON, ORG = "crm-person-5512", "crm-org-8820"
CUSTOM = "CUSTOM-FIELD-VALUE-3317"
GUESTS = [Participant("ann@partner.test", "Ann Partner"), Participant("ben@client.test", "Ben")]
COLLEAGUE_BY_DOMAIN = Participant("carl@example.com", "Carl Colleague")
SECRETS = (UID, NOTES, DESCRIPTION, PERSON, ORG, CUSTOM, "bob@example.com", "carl@example.com")


@pytest.fixture
def templates(tmp_path: Path) -> Path:
    directory = tmp_path / "templates"
    shutil.copytree(BUNDLED_TEMPLATES, directory)
    (directory / "notes.en.j2").write_text("Notes: {{ internal_notes }}\n", encoding="utf-8")
    (directory / "crmid.en.j2").write_text("Ref {{ meeting.uid }}\n", encoding="utf-8")
    (directory / "typo.en.j2").write_text("Hi {{ external_nams }}\n", encoding="utf-8")
    return directory


@pytest.fixture
def invites(contract_world, templates: Path) -> Invites:
    settings = InviteSettings(
        internal_domains=("example.com",), organisation="Example Ltd", templates_dir=templates
    )
    return Invites(contract_world.store, settings, contract_world.backend_for)


def abilities(world) -> InviteAbilities:
    backend = world.backend()
    try:
        capability = backend.invites()
        assert capability is not None, f"{world.driver.kind} has no invite capability"
        return capability.abilities()
    finally:
        backend.close()


def crm_meeting(world, **fields):
    values = {
        "external": [*GUESTS, COLLEAGUE_BY_DOMAIN],
        "internal_users": ["bob"],
        "internal_notes": NOTES,
        "description": DESCRIPTION,
        "crm_persons": [PERSON],
        "crm_organisations": [ORG],
        "custom_fields": {"x-crm-budget": CUSTOM},
        "location": "Harbour office",
    }
    values |= fields
    return world.crm_meeting(UID, "Quarterly review", **values)


def send_allowed(world) -> bool:
    """The send flag this kind takes: True where it can mail, else False where it can hold
    an unsent copy (a kind that can do neither is no invite kind)."""
    can = abilities(world)
    assert can.can_send or can.can_hold_unsent, f"{world.driver.kind}: {can}"
    return can.can_send


def sent(world, invites: Invites, **fields):
    """The meeting in the CRM, synced once, then invited as far as the kind allows."""
    meeting = crm_meeting(world, **fields)
    world.round()
    state = invites.send(UID, send=send_allowed(world))
    assert state.state in ("sent", "held") and state.remote_id
    return meeting, state


def test_copy_holds_exactly_organiser_and_externals(contract_world, invites):
    world, driver = contract_world, contract_world.driver
    _, state = sent(world, invites)
    wire = driver.invite_wire(state.remote_id)
    assert wire["organiser"].lower() == ALICE
    assert sorted(a.lower() for a in wire["attendees"]) == ["ann@partner.test", "ben@client.test"]
    assert wire["subject"] == "Quarterly review" and wire["location"] == "Harbour office"
    assert "Ann Partner" in wire["description"] and "Example Ltd" in wire["description"]
    for secret in SECRETS:
        assert secret not in wire["raw"], f"{secret!r} reached the external copy"
        assert secret not in " ".join(wire["tags"].values())
    assert state.recipients == ("ann@partner.test", "ben@client.test")
    assert state.sequence == 0 and not state.out_of_date


def test_preview_shows_what_guests_receive_and_what_the_kind_can_do(contract_world, invites):
    world = contract_world
    crm_meeting(world)
    writes = world.driver.write_count()
    preview = invites.preview(UID, language="da")
    assert [a.email for a in preview.attendees] == ["ann@partner.test", "ben@client.test"]
    assert preview.organiser.email == ALICE and preview.subject == "Quarterly review"
    assert "Kære Ann Partner, Ben" in preview.description
    assert NOTES not in preview.description and DESCRIPTION not in preview.description
    assert preview.abilities == abilities(world)
    if not preview.abilities.can_send:
        assert preview.abilities.note, "a kind that cannot send says why in the preview"
    assert world.driver.write_count() == writes, "a preview writes nothing"


@pytest.mark.parametrize(
    ("template", "language", "field"),
    [
        ("notes", "en", "internal_notes"),
        ("crmid", "en", "meeting"),
        ("typo", "en", "external_nams"),
        ("nonesuch", "en", "template"),
        ("notes", "da", "language"),
        ("default", "fr", "language"),
    ],
)
def test_template_errors_are_refused_at_preview(contract_world, invites, template, language, field):
    world = contract_world
    crm_meeting(world)
    world.round()
    writes = world.driver.write_count()
    for attempt in (invites.preview, invites.send):
        with pytest.raises(InviteError) as refused:
            attempt(UID, template=template, language=language)
        assert refused.value.field == field and refused.value.status in (400, 422)
    assert world.driver.write_count() == writes
    assert invites.state(UID).state == "none"


def test_crm_edits_of_internal_fields_write_nothing_to_the_copy(contract_world, invites):
    world, driver = contract_world, contract_world.driver
    meeting, state = sent(world, invites)
    before, mailed = driver.invite_writes(state.remote_id), list(driver.mailed())
    crm_meeting(
        world,
        start=meeting.start,
        end=meeting.end,
        internal_notes=NOTES + " more",
        internal_users=["bob", "alice"],
        crm_persons=[PERSON, "crm-person-2"],
        crm_organisations=[],
        description=DESCRIPTION + " changed",
        custom_fields={"x-crm-budget": "other"},
    )
    world.round()
    assert driver.invite_writes(state.remote_id) == before
    assert driver.mailed() == mailed, "a CRM edit mailed someone"
    assert not invites.state(UID).out_of_date


def test_the_copy_is_never_imported_back(contract_world, invites):
    world, driver = contract_world, contract_world.driver
    meeting, state = sent(world, invites)
    meetings, links = world.meeting_count(), world.link_count()
    moved = meeting.start + timedelta(days=1)
    driver.guest_edit(
        state.remote_id,
        subject="Changed by a guest",
        location="Somewhere else",
        start=moved,
        end=moved + timedelta(hours=1),
        partstat=("ann@partner.test", "ACCEPTED"),
    )
    world.round()
    world.round()
    row = world.meeting(UID)
    assert row.subject == "Quarterly review" and row.location == "Harbour office"
    assert world.meeting_count() == meetings and world.link_count() == links
    sync_copies = [e for e in world.events() if e.crm_meeting_id == UID]
    assert len(sync_copies) == 1 and sync_copies[0].subject == "Quarterly review"
    assert invites.state(UID).state in ("sent", "held")


def test_the_organiser_deleting_the_copy_deletes_no_meeting(contract_world, invites):
    world, driver = contract_world, contract_world.driver
    _, state = sent(world, invites)
    driver.remove(state.remote_id)
    world.round()
    assert world.meeting(UID) is not None
    assert [e.subject for e in world.events() if e.crm_meeting_id == UID] == ["Quarterly review"]


def test_sending_leaves_the_sync_copy_alone(contract_world, invites):
    """The organiser's rule (docs/architecture.md): the sync copy stays as sync wrote it;
    the external copy beside it is the guests' view. Sending writes only the copy."""
    world, driver = contract_world, contract_world.driver
    crm_meeting(world)
    world.round()
    (sync_copy,) = [e for e in world.events() if e.crm_meeting_id == UID]
    writes = driver.write_count()
    state = invites.send(UID, send=send_allowed(world))
    assert driver.write_count() - writes == driver.invite_writes(state.remote_id)
    (after,) = [e for e in world.events() if e.crm_meeting_id == UID]
    assert after.etag == sync_copy.etag
    world.round()
    assert driver.invite_writes(state.remote_id) == 1


def test_drift_is_shown_and_sent_only_on_request(contract_world, invites):
    world, driver = contract_world, contract_world.driver
    meeting, state = sent(world, invites)
    first = driver.invite_wire(state.remote_id)
    writes = driver.invite_writes(state.remote_id)
    later = meeting.start + timedelta(hours=3)
    crm_meeting(
        world,
        start=later,
        end=later + timedelta(hours=1),
        location="Main office",
        external=[GUESTS[0], Participant("dora@third.test", "Dora")],
    )
    world.round()
    world.round()
    assert driver.invite_writes(state.remote_id) == writes, "drift sent nothing by itself"
    drift = invites.state(UID)
    assert drift.out_of_date
    assert [d.field for d in drift.differences] == ["time", "location", "attendees"]
    assert drift.differences[2].now == {"attendees": ["ann@partner.test", "dora@third.test"]}

    updated = invites.update(UID, send=send_allowed(world))
    assert not updated.out_of_date and updated.sequence == 1
    wire = driver.invite_wire(state.remote_id)
    assert wire["location"] == "Main office"
    assert sorted(wire["attendees"]) == ["ann@partner.test", "dora@third.test"]
    assert wire["start"] == later
    assert wire["sequence"] > first["sequence"]
    for secret in SECRETS:
        assert secret not in wire["raw"]


def test_cancel_removes_the_copy_and_keeps_the_meeting(contract_world, invites):
    world, driver = contract_world, contract_world.driver
    _, state = sent(world, invites)
    cancelled = invites.cancel(UID, send=send_allowed(world))
    assert cancelled.state == "cancelled" and not cancelled.out_of_date
    assert state.remote_id not in {e.remote_id for e in driver.events()}
    world.round()
    assert world.meeting(UID) is not None
    with pytest.raises(InviteError) as refused:
        invites.update(UID)
    assert refused.value.status == 409 and refused.value.field == "meeting"
    again = invites.send(UID, send=send_allowed(world))
    assert again.state in ("sent", "held") and again.remote_id != state.remote_id


def test_send_false_holds_the_copy_unsent_or_is_refused(contract_world, invites):
    world, driver = contract_world, contract_world.driver
    crm_meeting(world)
    world.round()
    writes, mailed = driver.write_count(), list(driver.mailed())
    if abilities(world).can_hold_unsent:
        state = invites.send(UID, send=False)
        assert state.state == "held"
        assert driver.mailed() == mailed, "an unsent copy mailed someone"
        wire = driver.invite_wire(state.remote_id)
        assert sorted(wire["attendees"]) == ["ann@partner.test", "ben@client.test"]
    else:
        with pytest.raises(InviteError) as refused:
            invites.send(UID, send=False)
        assert refused.value.status == 409 and refused.value.field == "send"
        assert abilities(world).note in refused.value.reason
        assert driver.write_count() == writes and invites.state(UID).state == "none"


def test_send_true_mails_or_is_refused(contract_world, invites):
    world, driver = contract_world, contract_world.driver
    crm_meeting(world)
    world.round()
    writes, mailed = driver.write_count(), list(driver.mailed())
    if abilities(world).can_send:
        state = invites.send(UID, send=True)
        assert state.state == "sent"
        assert len(driver.mailed()) > len(mailed), "a sent invite mailed nobody"
    else:
        with pytest.raises(InviteError) as refused:
            invites.send(UID, send=True)
        assert refused.value.status == 409 and refused.value.field == "send"
        assert abilities(world).note in refused.value.reason
        assert driver.write_count() == writes and invites.state(UID).state == "none"


def test_a_failed_create_is_retried_with_the_same_key(contract_world, invites):
    world, driver = contract_world, contract_world.driver
    crm_meeting(world)
    world.round()
    driver.fail_next("create", 400)
    with pytest.raises(InviteError) as failed:
        invites.send(UID, send=send_allowed(world))
    assert failed.value.status == 502 and invites.state(UID).state == "pending"
    state = invites.send(UID, send=send_allowed(world))
    assert state.state in ("sent", "held")
    copies = [e for e in driver.events() if e.crm_meeting_id != UID]
    assert [e.remote_id for e in copies] == [state.remote_id]


def test_a_second_send_is_refused_while_one_is_live(contract_world, invites):
    world, driver = contract_world, contract_world.driver
    sent(world, invites)
    writes = driver.write_count()
    with pytest.raises(InviteError) as refused:
        invites.send(UID, send=send_allowed(world))
    assert refused.value.status == 409 and refused.value.field == "meeting"
    assert driver.write_count() == writes


def test_deleting_the_meeting_leaves_the_copy_until_it_is_cancelled(contract_world, invites):
    world, driver = contract_world, contract_world.driver
    _, state = sent(world, invites)
    writes = driver.invite_writes(state.remote_id)
    world.delete_in_crm(UID)
    world.round()
    assert [e.crm_meeting_id for e in world.events() if e.crm_meeting_id == UID] == []
    assert driver.invite_writes(state.remote_id) == writes, "the CRM delete cancelled by itself"
    assert state.remote_id in {e.remote_id for e in driver.events()}
    cancelled = invites.cancel(UID, send=send_allowed(world))
    assert cancelled.state == "cancelled"
    assert state.remote_id not in {e.remote_id for e in driver.events()}
    with pytest.raises(InviteError) as gone:
        invites.cancel(UID)
    assert gone.value.status == 404 and gone.value.field == "meeting"


# --- a series with an excluded date and moved occurrences ------------------------------------

WEEK = timedelta(days=7)


def crm_series(world, start, *, excluded, moved):
    """The weekly meeting (six Mondays-or-whatever from ``start``) in the CRM with the dates
    ``excluded`` and the occurrences ``moved`` ({original start: new start}); each moved one
    carries CRM text of its own that must never reach the guests."""
    overrides = [
        Override(
            original.astimezone(UTC).isoformat(),
            new,
            new + timedelta(hours=1),
            subject="Quarterly review (moved)",
            location="Harbour office, room 2",
            description=f"{DESCRIPTION} for this week only",
        )
        for original, new in sorted(moved.items())
    ]
    meeting = Meeting(
        uid=UID,
        start=start,
        end=start + timedelta(hours=1),
        organiser="alice",
        subject="Quarterly review",
        activity_type="meeting",
        external=[*GUESTS, COLLEAGUE_BY_DOMAIN],
        internal_users=["bob"],
        internal_notes=NOTES,
        description=DESCRIPTION,
        crm_persons=[PERSON],
        crm_organisations=[ORG],
        custom_fields={"x-crm-budget": CUSTOM},
        location="Harbour office",
        recurrence=Recurrence(
            rrule="FREQ=WEEKLY;COUNT=6",
            exdates=list(excluded),
            overrides=[o.recurrence_id for o in overrides],
        ),
    )
    world.store.write(
        lambda tx: save_from_sync(
            tx, meeting, href=f"{UID}.ics", horizon_days=400, max_occurrences=500,
            overrides=overrides,
        ),
        origin="crm",
    )  # fmt: skip
    return meeting


def series_start():
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    return now + timedelta(days=2)


def assert_series(driver, remote_id, start, *, excluded, moved):
    """The guests' series on the wire: the rule, no excluded occurrence, each moved one at
    its new time (stored with the organiser and the externals only), every other one at
    its own time, and no CRM text anywhere in any record of it."""
    series = driver.invite_series(remote_id)
    assert series["rule"], "the copy lost its rule"
    originals = [start + n * WEEK for n in range(6)]
    wanted = {o: moved.get(o, o) for o in originals if o not in excluded}
    assert series["occurrences"] == wanted
    assert set(moved) <= set(series["moved"])
    for original, apart in series["moved"].items():
        if original in moved:
            assert apart["subject"] == "Quarterly review (moved)"
            assert apart["location"] == "Harbour office, room 2"
        else:  # moved back: a service may keep it apart, but as the series has it
            assert apart["subject"] == "Quarterly review"
            assert apart["location"] == "Harbour office"
        assert DESCRIPTION not in apart["description"]
        assert apart["organiser"].lower() in ("", ALICE)
        assert sorted(a.lower() for a in apart["attendees"]) == [
            "ann@partner.test",
            "ben@client.test",
        ]
    for secret in SECRETS:
        assert secret not in series["raw"], f"{secret!r} reached the guests' series"
    return series


def test_a_series_with_an_excluded_date_and_moved_occurrences(contract_world, invites):
    world, driver = contract_world, contract_world.driver
    start = series_start()
    excluded = {start + WEEK}
    moved = {start + 2 * WEEK: start + 2 * WEEK + timedelta(hours=3)}
    crm_series(world, start, excluded=excluded, moved=moved)
    world.round()
    preview = invites.preview(UID)
    assert f"EXDATE:{(start + WEEK).strftime('%Y%m%dT%H%M%SZ')}" in preview.recurrence
    assert [(o["recurrence_id"], o["start"]) for o in preview.occurrences] == [
        ((start + 2 * WEEK).isoformat(), (start + 2 * WEEK + timedelta(hours=3)).isoformat())
    ]
    assert DESCRIPTION not in repr(preview.as_json())
    send = send_allowed(world)
    state = invites.send(UID, send=send)
    assert state.state in ("sent", "held") and not state.out_of_date
    wire = driver.invite_wire(state.remote_id)
    assert wire["organiser"].lower() == ALICE
    assert sorted(a.lower() for a in wire["attendees"]) == ["ann@partner.test", "ben@client.test"]
    for secret in SECRETS:
        assert secret not in wire["raw"], f"{secret!r} reached the external copy"
    assert_series(driver, state.remote_id, start, excluded=excluded, moved=moved)

    # Another occurrence moves in the CRM: out of date, nothing written until update.
    writes, mailed = driver.invite_writes(state.remote_id), list(driver.mailed())
    later = {**moved, start + 3 * WEEK: start + 3 * WEEK + timedelta(days=1)}
    crm_series(world, start, excluded=excluded, moved=later)
    world.round()
    world.round()
    assert driver.invite_writes(state.remote_id) == writes, "drift wrote to the copy"
    assert driver.mailed() == mailed, "drift mailed someone"
    drift = invites.state(UID)
    assert drift.out_of_date
    assert [d.field for d in drift.differences] == ["occurrences"]
    now = drift.differences[0].now["overrides"]
    assert [o["recurrence_id"] for o in now] == [
        (start + 2 * WEEK).isoformat(),
        (start + 3 * WEEK).isoformat(),
    ]
    assert now[1]["start"] == (start + 3 * WEEK + timedelta(days=1)).isoformat()
    assert "description" not in now[1]

    updated = invites.update(UID, send=send)
    assert updated.sequence == 1 and not updated.out_of_date
    assert driver.invite_writes(state.remote_id) > writes
    if send:  # the update (and, where the service mails per occurrence, its own) went out
        assert len(driver.mailed()) > len(mailed), "a sent update mailed nobody"
    else:
        assert driver.mailed() == mailed, "an unsent update mailed someone"
    assert_series(driver, state.remote_id, start, excluded=excluded, moved=later)

    cancelled = invites.cancel(UID, send=send)
    assert cancelled.state == "cancelled"
    assert state.remote_id not in {e.remote_id for e in driver.events()}
    assert world.meeting(UID) is not None


def test_an_update_excludes_a_date_and_moves_an_occurrence_back(contract_world, invites):
    world, driver = contract_world, contract_world.driver
    start = series_start()
    moved = {start + 2 * WEEK: start + 2 * WEEK + timedelta(hours=3)}
    crm_series(world, start, excluded=set(), moved=moved)
    world.round()
    send = send_allowed(world)
    state = invites.send(UID, send=send)
    assert_series(driver, state.remote_id, start, excluded=set(), moved=moved)

    excluded = {start + 4 * WEEK}
    crm_series(world, start, excluded=excluded, moved={})
    world.round()
    drift = invites.state(UID)
    assert [d.field for d in drift.differences] == ["time", "occurrences"]
    assert drift.differences[1].now == {"overrides": []}
    invites.update(UID, send=send)
    assert not invites.state(UID).out_of_date
    assert_series(driver, state.remote_id, start, excluded=excluded, moved={})

    # The excluded date comes back: its guests were sent a cancellation of it. Where the
    # service can bring an occurrence back the update does; elsewhere it is refused by name.
    crm_series(world, start, excluded=set(), moved={})
    world.round()
    if abilities(world).restores_occurrences:
        invites.update(UID, send=send)
        assert not invites.state(UID).out_of_date
        assert_series(driver, state.remote_id, start, excluded=set(), moved={})
    else:
        writes = driver.invite_writes(state.remote_id)
        with pytest.raises(InviteError) as refused:
            invites.update(UID, send=send)
        assert refused.value.status == 409 and refused.value.field == "recurrence"
        assert (start + 4 * WEEK).strftime("%Y%m%dT%H%M%SZ") in refused.value.reason
        assert driver.invite_writes(state.remote_id) == writes
        assert invites.state(UID).out_of_date
        assert_series(driver, state.remote_id, start, excluded=excluded, moved={})


def test_a_failed_occurrence_write_is_finished_by_the_next_send(contract_world, invites):
    """The series is created, then its moved occurrence written apart (CalDAV's one PUT
    carries both, so there the create itself fails): that write refused leaves the invite
    pending, and the next send, with the same key, makes no second copy and finishes it."""
    world, driver = contract_world, contract_world.driver
    start = series_start()
    excluded = {start + WEEK}
    moved = {start + 2 * WEEK: start + 2 * WEEK + timedelta(hours=3)}
    crm_series(world, start, excluded=excluded, moved=moved)
    world.round()
    send = send_allowed(world)
    driver.fail_next("create" if driver.kind == "caldav" else "update", 400)
    with pytest.raises(InviteError) as failed:
        invites.send(UID, send=send)
    assert failed.value.status == 502 and invites.state(UID).state == "pending"
    state = invites.send(UID, send=send)
    assert state.state in ("sent", "held") and not state.out_of_date
    copies = [e for e in driver.events() if e.crm_meeting_id != UID]
    assert [e.remote_id for e in copies] == [state.remote_id]
    assert_series(driver, state.remote_id, start, excluded=excluded, moved=moved)


#: Kinds whose service has no extra dates of a series (RDATE): EWS and Graph patterns.
NO_RDATE = {"exchange", "graph"}


def test_a_series_with_an_extra_date_goes_out_or_is_refused_naming_the_recurrence(
    contract_world, invites
):
    world, driver = contract_world, contract_world.driver
    start = series_start()
    extra = start + 2 * WEEK + timedelta(days=2)
    meeting = crm_series(world, start, excluded=set(), moved={})
    meeting.recurrence.rdates.append(extra)
    world.store.write(
        lambda tx: save_from_sync(
            tx, meeting, href=f"{UID}.ics", horizon_days=400, max_occurrences=500
        ),
        origin="crm",
    )
    world.round()
    writes = driver.write_count()
    send = send_allowed(world)
    if driver.kind in NO_RDATE:
        for attempt in (lambda: invites.preview(UID), lambda: invites.send(UID, send=send)):
            with pytest.raises(InviteError) as refused:
                attempt()
            assert refused.value.status == 409 and refused.value.field == "recurrence"
            assert "RDATE" in refused.value.reason
        assert driver.write_count() == writes and invites.state(UID).state == "none"
    else:
        assert any(line.startswith("RDATE") for line in invites.preview(UID).recurrence)
        state = invites.send(UID, send=send)
        occurrences = driver.invite_series(state.remote_id)["occurrences"]
        assert occurrences[extra] == extra
        assert len(occurrences) == 7
