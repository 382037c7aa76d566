"""Business rules for meetings written from a calendar client (CalDAV).

Who may change what is decided by bridge.meeting_rights; this module applies it:

- The organiser, or a colleague with the booking right for the organiser, writes the
  meeting. A writer who is not the organiser booked it (booked_by is the logged-in
  user, whatever the client claims) and it leaves their calendar.
- An internal attendee's write changes only their PARTSTAT in the meeting and their
  personal part of their own entry; their DELETE declines.
- Fields that iCalendar does not carry (internal notes, CRM persons and organisations,
  custom fields the client dropped) are kept from the stored meeting.
- A UID already used by a meeting the writer may not change is refused, never merged.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable
from typing import Any

import vobject
from radicale import item as radicale_item
from sqlalchemy import Connection, Row

from bridge import ical, meeting_rights
from bridge.ical import parts as ical_parts
from bridge.ical.errors import events
from bridge.ical.merge import carry_unmodelled
from bridge.ical.overrides import read_overrides, with_overrides
from bridge.meeting_rights import Role
from bridge.model import Meeting, Override, Participant
from bridge.store import items as item_store
from bridge.store import meetings as meeting_store
from bridge.store import users as user_store
from bridge.store.changes import Tx
from bridge.store.errors import Conflict
from bridge.store.items import ObjectIndex, event_index
from bridge.store.meetings import MeetingWrite


def _keep_crm_fields(meeting: Meeting, stored: Row) -> Meeting:
    return dataclasses.replace(
        meeting,
        internal_notes=stored.internal_notes,
        crm_persons=meeting.crm_persons or json.loads(stored.crm_persons),
        crm_organisations=meeting.crm_organisations or json.loads(stored.crm_organisations),
        custom_fields={**json.loads(stored.custom_fields), **meeting.custom_fields},
    )


def _store(
    tx: Tx,
    meeting: Meeting,
    href: str,
    vcal: vobject.base.Component,
    text: str,
    index: ObjectIndex,
    *,
    collection_id: int | None = None,
    personal: str | None = None,
) -> None:
    """Save the meeting with its iCalendar text, busy-only rendering and time index."""
    busy = ical.busy_only(vcal)
    meeting_store.save(
        tx,
        MeetingWrite(
            meeting=meeting,
            href=href,
            ical=text,
            etag=radicale_item.get_etag(text),
            busy_ical=busy,
            busy_etag=radicale_item.get_etag(busy),
            index=index,
            collection_id=collection_id,
            personal=personal,
        ),
    )


def _with_booker(vcal: vobject.base.Component, text: str, booker: str | None) -> str:
    """``text`` with X-CRM-BOOKED-BY saying ``booker`` (a client's claim is replaced)."""
    claimed = [
        (str(line.value), "recurrence-id" in event.contents)
        for event in events(vcal)
        for line in event.contents.get(ical_parts.BOOKED_BY.lower(), [])
    ]
    if claimed == ([(booker, False)] if booker else []):
        return text
    ical_parts.set_booked_by(vcal, booker)
    return str(vcal.serialize())


def save_from_caldav(
    tx: Tx,
    *,
    writer: str,
    collection_id: int,
    href: str,
    vcal: vobject.base.Component,
    text: str,
    index: ObjectIndex,
) -> Meeting:
    """Create or update the meeting ``vcal`` written by ``writer`` into their meetings
    calendar ``collection_id`` at ``href``, as far as ``writer`` may."""
    conn = tx.conn
    logins = user_store.login_by_email(conn)
    uid = radicale_item.get_uid_from_object(vcal)
    stored = meeting_store.by_uid(conn, uid)
    previous = load_meeting(conn, stored) if stored is not None else None
    if previous is not None:
        role = meeting_rights.role_of(conn, writer, previous)
        if role is Role.NONE:
            raise meeting_rights.unknown_uid(uid)
        if role is Role.ATTENDEE:
            return _save_answer(tx, writer, stored, previous, vcal, collection_id, href, index)
    if stored is not None and previous is not None:  # attendees' answers are theirs
        emails = user_store.email_by_login(conn)
        others = [emails.get(login, "") for login in previous.internal_users if login != writer]
        kept = ical_parts.keep_answers(text, stored.ical, others)
        if kept is not text:
            text, vcal = kept, ical.parse_calendar(kept)
    owner = previous.organiser if previous is not None and previous.organiser else writer
    meeting = ical.meeting_from_ical(vcal, login_by_email=logins, owner=owner)
    if stored is not None:
        meeting = _keep_crm_fields(meeting, stored)
    meeting_rights.check_organiser(conn, writer, meeting.organiser)
    booker = meeting_rights.booked_by(writer, meeting.organiser, previous)
    meeting = dataclasses.replace(meeting, booked_by=booker)
    text = _with_booker(vcal, text, booker)
    _store(tx, meeting, href, vcal, text, index, collection_id=collection_id)
    return meeting


def _save_answer(
    tx: Tx,
    writer: str,
    stored: Row,
    previous: Meeting,
    sent: vobject.base.Component,
    collection_id: int,
    href: str,
    index: ObjectIndex,
) -> Meeting:
    """An attendee's write: their PARTSTAT into the meeting, their personal part kept for
    their own calendar; anything else is refused."""
    email = user_store.email_of(tx.conn, writer) or ""
    meeting_rights.check_attendee_change(
        ical.parse_calendar(stored.ical), sent, attendee_email=email, organiser=previous.organiser
    )
    text = ical_parts.with_answers(stored.ical, sent, email)
    meeting = _meeting_from_text(tx.conn, stored, text)
    _store(
        tx,
        meeting,
        href,
        ical.parse_calendar(text),
        text,
        index,
        collection_id=collection_id,
        personal=ical_parts.personal_part(sent),
    )
    return meeting


def remove_from_calendar(
    tx: Tx,
    *,
    writer: str,
    meeting_id: int,
    horizon_days: int,
    max_occurrences: int,
) -> None:
    """``writer`` deletes the meeting from their calendar: the organiser deletes it; an
    attendee declines it (PARTSTAT=DECLINED, and it leaves their calendar)."""
    stored = meeting_store.by_id(tx.conn, meeting_id)
    if stored is None:
        return
    previous = load_meeting(tx.conn, stored)
    if previous.organiser == writer or writer not in previous.internal_users:
        meeting_store.delete_meeting(tx, meeting_id)
        return
    email = user_store.email_of(tx.conn, writer) or ""
    text = ical_parts.with_partstat(stored.ical, email, "DECLINED")
    vcal = ical.parse_calendar(text)
    index = event_index(vcal, horizon_days=horizon_days, max_occurrences=max_occurrences)
    assert index is not None  # a stored meeting has its VEVENT
    meeting = _meeting_from_text(tx.conn, stored, text)
    if writer not in meeting.declined:  # invited under an address that is not theirs
        meeting = dataclasses.replace(meeting, declined=[*meeting.declined, writer])
    _store(tx, meeting, stored.href, vcal, text, index)


def new_from_calendar(conn: Connection, login: str, uid: str, fields: dict[str, Any]) -> Meeting:
    """A meeting made in ``login``'s own calendar (sync pulled it): the user organises it;
    attendees who are CRM users become internal participants, the others external."""
    logins = user_store.login_by_email(conn)
    external: list[Participant] = []
    internal: list[str] = []
    for person in fields.get("external", []):
        other = logins.get(person.email.lower())
        if other is None:
            external.append(person)
        elif other != login and other not in internal:
            internal.append(other)
    values = {**fields, "external": external}
    return Meeting(uid=uid, organiser=login, internal_users=internal, **values)


def delete_from_calendar_by_uid(
    tx: Tx, *, writer: str, uid: str, horizon_days: int, max_occurrences: int
) -> None:
    """Deleted in ``writer``'s own calendar (sync pulled the deletion): as a DELETE over
    CalDAV, the organiser deletes the meeting, an attendee declines it (the others keep it)."""
    row = meeting_store.by_uid(tx.conn, uid)
    if row is None:
        return
    remove_from_calendar(
        tx,
        writer=writer,
        meeting_id=row.id,
        horizon_days=horizon_days,
        max_occurrences=max_occurrences,
    )


def rename_in_calendar(tx: Tx, collection_id: int, href: str, new_href: str) -> None:
    """MOVE inside one calendar: the same object under a new name (nothing else changes)."""
    if href == new_href:
        return
    if item_store.href_taken(tx.conn, collection_id, new_href, None):
        raise Conflict(f"href {new_href!r} already holds another object in this calendar")
    item_store.rename(tx, collection_id, href, new_href)


def stored_overrides(row: Row) -> list[Override]:
    """The moved or changed occurrences in a stored meeting's iCalendar."""
    return read_overrides(ical.parse_calendar(row.ical))


def load_meeting(conn: Connection, row: Row) -> Meeting:
    """The Meeting a stored meeting row holds: its iCalendar plus the CRM-only columns."""
    return _meeting_from_text(conn, row, row.ical)


def _meeting_from_text(conn: Connection, row: Row, text: str) -> Meeting:
    """The stored meeting ``row`` with ``text`` as its iCalendar."""
    organiser = user_store.login_of(conn, row.organiser_id)
    booked_by = user_store.login_of(conn, row.booked_by_id)
    meeting = ical.meeting_from_ical(
        ical.parse_calendar(text),
        login_by_email=user_store.login_by_email(conn),
        owner=organiser or "",
    )
    return dataclasses.replace(
        _keep_crm_fields(meeting, row),
        organiser=organiser,
        booked_by=booked_by,
        activity_type=row.activity_type,
    )


def save_from_sync(
    tx: Tx,
    meeting: Meeting,
    *,
    href: str,
    horizon_days: int,
    max_occurrences: int,
    overrides: Iterable[Override] = (),
) -> None:
    """Write a meeting that sync made or changed: iCalendar rendered from its fields, with
    its moved or changed occurrences."""
    conn = tx.conn
    emails = user_store.email_by_login(conn)
    text = with_overrides(
        ical.meeting_to_ical(meeting, email_by_login=emails), overrides, all_day=meeting.all_day
    )
    stored = meeting_store.by_uid(conn, meeting.uid)
    if stored is not None:  # keep alarms, categories, other clients' properties ...
        text = carry_unmodelled(stored.ical, text)
    vcal = ical.parse_calendar(text)
    ical.check_overrides(vcal)  # a calendar's stray instance is refused, as over CalDAV
    index = event_index(vcal, horizon_days=horizon_days, max_occurrences=max_occurrences)
    assert index is not None  # meeting_to_ical always writes one VEVENT
    _store(tx, meeting, href, vcal, text, index)
