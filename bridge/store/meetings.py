"""CRM meetings: one row per meeting, fanned out as entries into its members' calendars.

Members are the organiser and the internal users who have not declined
(``Meeting.members``); a colleague who booked the meeting on the organiser's behalf is not
a member. Each entry has its own href in its calendar (hrefs belong to calendars, not to
the store), and an attendee's entry shows the meeting with that attendee's personal part
(bridge.ical.parts). Every entry added, changed or removed is logged in the change log
within the same transaction as the meeting row.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass

from radicale import item as radicale_item
from sqlalchemy import Connection, Row, Select, delete, insert, select, update

from bridge.ical.parts import render_for_attendee
from bridge.model import Meeting
from bridge.store import items as item_store
from bridge.store import limits
from bridge.store.changes import Tx
from bridge.store.collections import MEETINGS
from bridge.store.engine import writes_rows
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
    #: The calendar written through: its entry takes ``href`` (other entries keep theirs;
    #: new ones get ``href`` where it is free). None for writes from sync or the CRM.
    collection_id: int | None = None
    #: The writer's personal part for that entry (an attendee's alarms ...), if any.
    personal: str | None = None


def _for_write(conn: Connection, query: Select) -> Select:
    """A meeting read inside a write transaction on MariaDB locks the row until the
    commit: whoever reads a meeting to change it holds it (read, merge, write), as the
    store-wide lock once did. SQLite's one writer needs no row locks."""
    return query.with_for_update() if writes_rows(conn) else query


def by_uid(conn: Connection, uid: str) -> Row | None:
    return conn.execute(_for_write(conn, select(meetings).where(meetings.c.uid == uid))).first()


def by_id(conn: Connection, meeting_id: int) -> Row | None:
    query = select(meetings).where(meetings.c.id == meeting_id)
    return conn.execute(_for_write(conn, query)).first()


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
        answer = "DECLINED" if login in m.declined else ""
        rows.append(
            {"kind": "internal", "user_id": ids.get(login), "ref": login, "partstat": answer}
        )
    for p in m.external:
        rows.append({"kind": "external", "ref": p.email, "name": p.name, "partstat": p.partstat})
    rows += [{"kind": "person", "ref": ref} for ref in m.crm_persons]
    rows += [{"kind": "organisation", "ref": ref} for ref in m.crm_organisations]
    base = {"meeting_id": meeting_id, "user_id": None, "name": "", "partstat": ""}
    return [{**base, **row} for row in rows]


def member_logins(m: Meeting) -> set[str]:
    """Whose meetings calendar shows the meeting (see ``Meeting.members``)."""
    return m.members()


def _free_href(conn: Connection, collection_id: int, write: MeetingWrite, meeting_id: int) -> str:
    """``write.href`` unless another object of that calendar has it; then one of its own."""
    if not item_store.href_taken(conn, collection_id, write.href, meeting_id):
        return write.href
    base = hashlib.sha256(write.meeting.uid.encode()).hexdigest()[:24]
    candidate, n = f"{base}.ics", 1
    while item_store.href_taken(conn, collection_id, candidate, meeting_id):
        n += 1
        candidate = f"{base}-{n}.ics"
    return candidate


def _entry(
    write: MeetingWrite, meeting_id: int, href: str, personal: str | None, *, organiser: bool
) -> ItemData:
    """A member's entry: the organiser sees the meeting's own text; an attendee sees it
    without the organiser's alarms and with their own personal part."""
    text = None if organiser else render_for_attendee(write.ical, personal)
    return ItemData(
        href=href,
        uid=write.meeting.uid,
        component="VEVENT",
        index=write.index,
        meeting_id=meeting_id,
        text=text,
        etag=radicale_item.get_etag(text) if text is not None else None,
        personal=None if organiser else personal,
    )


def save(tx: Tx, write: MeetingWrite) -> int:
    """Create or update the meeting and its entries in every member's calendar."""
    m = write.meeting
    conn = tx.conn
    ids = _user_ids(
        conn, set(m.internal_users) | m.members() | ({m.booked_by} if m.booked_by else set())
    )
    existing = by_uid(conn, m.uid)
    if write.collection_id is not None and item_store.href_taken(
        conn, write.collection_id, write.href, existing.id if existing is not None else None
    ):
        raise Conflict(f"href {write.href!r} already holds another object in this calendar")
    values = _row_values(write, ids)
    values["origin"] = tx.origin
    limits.check(meetings, values)
    if existing is None:
        values["created_at"] = values["modified_at"]
        meeting_id = int(conn.execute(insert(meetings).values(**values)).inserted_primary_key[0])
    else:
        meeting_id = existing.id
        values["href"] = existing.href  # the default for new entries stays the first one
        conn.execute(update(meetings).where(meetings.c.id == meeting_id).values(**values))
        conn.execute(delete(participants).where(participants.c.meeting_id == meeting_id))
    rows = _participant_rows(meeting_id, m, ids)
    limits.check_all(participants, rows)
    if rows:
        conn.execute(insert(participants), rows)

    owners = {
        row.id: row.owner_id
        for row in conn.execute(
            select(collections.c.id, collections.c.owner_id).where(
                collections.c.kind == MEETINGS,
                collections.c.owner_id.in_([ids[x] for x in m.members() if x in ids]),
            )
        )
    }
    current = {
        row.collection_id: row
        for row in conn.execute(
            select(items.c.collection_id, items.c.href, items.c.personal).where(
                items.c.meeting_id == meeting_id
            )
        )
    }
    # Every calendar the meeting enters or leaves, locked in id order (deadlock-free among
    # writers that lock this way; see docs/architecture.md, "Transactions and concurrency").
    tx.lock_collections(set(owners) | set(current))
    for collection_id, row in current.items():
        moved = collection_id == write.collection_id and row.href != write.href
        if collection_id not in owners or moved:
            item_store.remove(tx, collection_id, row.href)
    organiser_id = ids.get(m.organiser or "")
    for collection_id in sorted(owners):
        row = current.get(collection_id)
        if collection_id == write.collection_id:
            href, personal = write.href, write.personal
        elif row is not None:
            href, personal = row.href, row.personal
        else:
            href, personal = _free_href(conn, collection_id, write, meeting_id), None
        organiser = owners[collection_id] == organiser_id
        entry = _entry(write, meeting_id, href, personal, organiser=organiser)
        item_store.upsert(tx, collection_id, entry)
    return meeting_id


def delete_meeting(tx: Tx, meeting_id: int) -> None:
    """Delete the meeting and its entry in every calendar (logged)."""
    entries = list(
        tx.conn.execute(
            select(items.c.collection_id, items.c.href).where(items.c.meeting_id == meeting_id)
        )
    )
    tx.lock_collections(entry.collection_id for entry in entries)
    for entry in entries:
        item_store.remove(tx, entry.collection_id, entry.href)
    tx.conn.execute(delete(meetings).where(meetings.c.id == meeting_id))
