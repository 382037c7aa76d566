"""Business rules for meetings written from a calendar client (CalDAV).

- The writer's own calendar decides membership: if the writer is neither organiser nor
  attendee, they booked it on someone else's behalf (booked_by) and it leaves their
  calendar.
- Fields that iCalendar does not carry (internal notes, CRM persons and organisations,
  custom fields the client dropped) are kept from the stored meeting.
- A UID already used by a meeting the writer cannot see is refused, never merged.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable

import vobject
from radicale import item as radicale_item
from sqlalchemy import Connection, Row, select

from bridge import ical
from bridge.ical_merge import carry_unmodelled
from bridge.ical_overrides import read_overrides, with_overrides
from bridge.model import Meeting, Override
from bridge.store import meetings as meeting_store
from bridge.store import users as user_store
from bridge.store.changes import Tx
from bridge.store.errors import Conflict
from bridge.store.items import ObjectIndex, event_index
from bridge.store.meetings import MeetingWrite
from bridge.store.schema import users


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
        ),
    )


def save_from_caldav(
    tx: Tx,
    *,
    writer: str,
    visible_in_writer_calendar: bool,
    href: str,
    vcal: vobject.base.Component,
    text: str,
    index: ObjectIndex,
) -> Meeting:
    """Create or update the meeting ``vcal`` written by ``writer`` into their calendar.

    ``visible_in_writer_calendar`` says whether the UID is already in the writer's calendar.
    """
    meeting = ical.meeting_from_ical(
        vcal, login_by_email=user_store.login_by_email(tx.conn), owner=writer
    )
    stored = meeting_store.by_uid(tx.conn, meeting.uid)
    if stored is not None:
        if not visible_in_writer_calendar:
            raise Conflict(
                f"UID {meeting.uid!r} is already used by another CRM meeting "
                "that is not in this calendar"
            )
        meeting = _keep_crm_fields(meeting, stored)
    if writer not in meeting_store.member_logins(meeting):
        meeting = dataclasses.replace(meeting, booked_by=meeting.booked_by or writer)
    _store(tx, meeting, href, vcal, text, index)
    return meeting


def stored_overrides(row: Row) -> list[Override]:
    """The moved or changed occurrences in a stored meeting's iCalendar."""
    return read_overrides(ical.parse_calendar(row.ical))


def load_meeting(conn: Connection, row: Row) -> Meeting:
    """The Meeting a stored meeting row holds: its iCalendar plus the CRM-only columns."""
    organiser = conn.execute(select(users.c.login).where(users.c.id == row.organiser_id)).scalar()
    booked_by = conn.execute(select(users.c.login).where(users.c.id == row.booked_by_id)).scalar()
    meeting = ical.meeting_from_ical(
        ical.parse_calendar(row.ical),
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
    index = event_index(vcal, horizon_days=horizon_days, max_occurrences=max_occurrences)
    assert index is not None  # meeting_to_ical always writes one VEVENT
    _store(tx, meeting, href, vcal, text, index)
