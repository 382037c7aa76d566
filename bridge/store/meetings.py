"""CRM meetings: one row per meeting, fanned out as entries into its members' calendars.

Members are the organiser and the internal users; a colleague who booked the meeting on
the organiser's behalf is not a member. Every entry added, changed or removed is logged
in the change log within the same transaction as the meeting row.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

from sqlalchemy import Connection, Row, delete, insert, select, update

from bridge.model import Meeting
from bridge.store import items as item_store
from bridge.store import limits
from bridge.store.changes import Tx
from bridge.store.collections import MEETINGS
from bridge.store.errors import Conflict
from bridge.store.items import ItemData, ObjectIndex
from bridge.store.schema import collections, items, meetings, participants, users


@dataclass(frozen=True)
class MeetingWrite:
    meeting: Meeting
    href: str
    ical: str
    etag: str
    busy_ical: str
    busy_etag: str
    index: ObjectIndex


def by_uid(conn: Connection, uid: str) -> Row | None:
    return conn.execute(select(meetings).where(meetings.c.uid == uid)).first()


def by_href(conn: Connection, href: str) -> Row | None:
    return conn.execute(select(meetings).where(meetings.c.href == href)).first()


def _user_ids(conn: Connection, logins: set[str]) -> dict[str, int]:
    if not logins:
        return {}
    rows = conn.execute(select(users.c.login, users.c.id).where(users.c.login.in_(logins)))
    return {row.login: row.id for row in rows}


def _row_values(write: MeetingWrite, ids: dict[str, int]) -> dict[str, object]:
    m = write.meeting
    recurrence = m.recurrence
    return {
        "uid": m.uid,
        "href": write.href,
        "organiser_id": ids.get(m.organiser or ""),
        "booked_by_id": ids.get(m.booked_by or ""),
        "activity_type": m.activity_type,
        "subject": m.subject,
        "location": m.location,
        "description": m.description,
        "internal_notes": m.internal_notes,
        "start_utc": int(m.start.timestamp()),
        "end_utc": int(m.end.timestamp()),
        "timezone": m.timezone,
        "all_day": m.all_day,
        "rrule": recurrence.rrule if recurrence else None,
        "exdates": json.dumps([d.isoformat() for d in recurrence.exdates] if recurrence else []),
        "rdates": json.dumps([d.isoformat() for d in recurrence.rdates] if recurrence else []),
        "overrides": json.dumps(list(recurrence.overrides) if recurrence else []),
        "private": m.private,
        "busy": m.busy.value,
        "custom_fields": json.dumps(m.custom_fields, sort_keys=True),
        "crm_persons": json.dumps(list(m.crm_persons)),
        "crm_organisations": json.dumps(list(m.crm_organisations)),
        "sequence": m.sequence,
        "ical": write.ical,
        "etag": write.etag,
        "busy_ical": write.busy_ical,
        "busy_etag": write.busy_etag,
        "modified_at": time.time(),
        "origin": "",  # set by save(): the last writer
    }


def _participant_rows(meeting_id: int, m: Meeting, ids: dict[str, int]) -> list[dict]:
    rows: list[dict] = []
    for login in m.internal_users:
        rows.append({"kind": "internal", "user_id": ids.get(login), "ref": login})
    for p in m.external:
        rows.append({"kind": "external", "ref": p.email, "name": p.name, "partstat": p.partstat})
    rows += [{"kind": "person", "ref": ref} for ref in m.crm_persons]
    rows += [{"kind": "organisation", "ref": ref} for ref in m.crm_organisations]
    base = {"meeting_id": meeting_id, "user_id": None, "name": "", "partstat": ""}
    return [{**base, **row} for row in rows]


def member_logins(m: Meeting) -> set[str]:
    """Whose meetings calendar shows the meeting: organiser and internal users."""
    return {login for login in [m.organiser, *m.internal_users] if login}


def save(tx: Tx, write: MeetingWrite) -> int:
    """Create or update the meeting and its entries in every member's calendar."""
    m = write.meeting
    ids = _user_ids(tx.conn, member_logins(m) | ({m.booked_by} if m.booked_by else set()))
    existing = by_uid(tx.conn, m.uid)
    clash = by_href(tx.conn, write.href)
    if clash is not None and (existing is None or clash.id != existing.id):
        raise Conflict(f"href {write.href!r} already holds another meeting (UID {clash.uid!r})")
    values = _row_values(write, ids)
    values["origin"] = tx.origin
    limits.check(meetings, values)
    if existing is None:
        values["created_at"] = values["modified_at"]
        meeting_id = int(tx.conn.execute(insert(meetings).values(**values)).inserted_primary_key[0])
    else:
        meeting_id = existing.id
        tx.conn.execute(update(meetings).where(meetings.c.id == meeting_id).values(**values))
        tx.conn.execute(delete(participants).where(participants.c.meeting_id == meeting_id))
    rows = _participant_rows(meeting_id, m, ids)
    limits.check_all(participants, rows)
    if rows:
        tx.conn.execute(insert(participants), rows)

    member_ids = [ids[login] for login in member_logins(m) if login in ids]
    targets = {
        row.id
        for row in tx.conn.execute(
            select(collections.c.id).where(
                collections.c.kind == MEETINGS, collections.c.owner_id.in_(member_ids)
            )
        )
    }
    current = {
        row.collection_id: row.href
        for row in tx.conn.execute(
            select(items.c.collection_id, items.c.href).where(items.c.meeting_id == meeting_id)
        )
    }
    for collection_id, href in current.items():
        if collection_id not in targets or href != write.href:
            item_store.remove(tx, collection_id, href)
    entry = ItemData(
        href=write.href, uid=m.uid, component="VEVENT", index=write.index, meeting_id=meeting_id
    )
    # Meeting UIDs are unique store-wide, so an entry never clashes inside a calendar.
    for collection_id in sorted(targets):
        item_store.upsert(tx, collection_id, entry)
    return meeting_id


def delete_meeting(tx: Tx, meeting_id: int) -> None:
    """Delete the meeting and its entry in every calendar (logged)."""
    entries = list(
        tx.conn.execute(
            select(items.c.collection_id, items.c.href).where(items.c.meeting_id == meeting_id)
        )
    )
    for entry in entries:
        item_store.remove(tx, entry.collection_id, entry.href)
    tx.conn.execute(delete(meetings).where(meetings.c.id == meeting_id))
