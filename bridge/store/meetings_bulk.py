"""The bulk path for new meetings: many creates with a few statements per batch.

``save_many(tx, writes)`` leaves exactly the rows that ``for w in writes: save(tx, w)``
would leave in the same transaction (bridge.store.meetings.save): the meeting rows, their
participants, an entry in each member's meetings calendar with its occurrences, the
calendars touched, and one change per entry (written with the transaction's seq at its
commit); only the wall-clock columns differ. It does so with executemany inserts per
batch instead of a dozen statements per meeting, for imports and the scale benchmark
(bench/scale.py).

It only creates: a UID already stored or given twice, or a writer's calendar href that
holds another object, is refused with ``Conflict`` before the batch writes anything (the
caller's transaction then rolls back the batches before it). Changes go through save().
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable, Sequence

from radicale import item as radicale_item
from sqlalchemy import case, insert, select, tuple_, update

from bridge.ical.parts import render_for_attendee
from bridge.store import limits
from bridge.store.changes import Tx
from bridge.store.collections import MEETINGS
from bridge.store.errors import Conflict
from bridge.store.meetings import MeetingWrite, _participant_rows, _row_values
from bridge.store.schema import (
    collections,
    items,
    meetings,
    occurrences,
    participants,
    users,
)

BATCH = 500


def save_many(tx: Tx, writes: Iterable[MeetingWrite], *, batch: int = BATCH) -> int:
    """Create every meeting of ``writes`` with its entries (see the module); return how many."""
    done = 0
    chunk: list[MeetingWrite] = []
    for write in writes:
        chunk.append(write)
        if len(chunk) >= batch:
            done += _save_batch(tx, chunk)
            chunk = []
    if chunk:
        done += _save_batch(tx, chunk)
    return done


def _logins(write: MeetingWrite) -> set[str]:
    m = write.meeting
    return set(m.internal_users) | m.members() | ({m.booked_by} if m.booked_by else set())


def _ids(tx: Tx, logins: set[str]) -> dict[str, int]:
    if not logins:
        return {}
    rows = tx.conn.execute(select(users.c.login, users.c.id).where(users.c.login.in_(logins)))
    return {row.login: row.id for row in rows}


def _meetings_collections(tx: Tx, owner_ids: set[int]) -> dict[int, int]:
    """owner id -> id of their meetings calendar."""
    if not owner_ids:
        return {}
    rows = tx.conn.execute(
        select(collections.c.id, collections.c.owner_id).where(
            collections.c.kind == MEETINGS, collections.c.owner_id.in_(owner_ids)
        )
    )
    return {row.owner_id: row.id for row in rows}


def _taken(tx: Tx, wanted: set[tuple[int, str]]) -> set[tuple[int, str]]:
    """Which (calendar, href) pairs of ``wanted`` already hold an object."""
    pairs = sorted(wanted)
    found: set[tuple[int, str]] = set()
    for start in range(0, len(pairs), 500):
        part = pairs[start : start + 500]
        rows = tx.conn.execute(
            select(items.c.collection_id, items.c.href).where(
                tuple_(items.c.collection_id, items.c.href).in_(part)
            )
        )
        found.update((row.collection_id, row.href) for row in rows)
    return found


def _free_href(taken: set[tuple[int, str]], collection_id: int, write: MeetingWrite) -> str:
    """As meetings._free_href: ``write.href`` unless taken, else the UID's hash (-n)."""
    if (collection_id, write.href) not in taken:
        return write.href
    base = hashlib.sha256(write.meeting.uid.encode()).hexdigest()[:24]
    candidate, n = f"{base}.ics", 1
    while (collection_id, candidate) in taken:
        n += 1
        candidate = f"{base}-{n}.ics"
    return candidate


def _refuse_existing(tx: Tx, writes: Sequence[MeetingWrite]) -> None:
    uids = [w.meeting.uid for w in writes]
    if len(set(uids)) != len(uids):
        raise Conflict("the bulk path got the same UID twice; it only creates meetings")
    stored = tx.conn.execute(select(meetings.c.uid).where(meetings.c.uid.in_(uids))).first()
    if stored is not None:
        raise Conflict(f"meeting {stored.uid!r} exists; the bulk path only creates meetings")


def _entry_rows(
    writes: Sequence[MeetingWrite],
    targets: list[list[int]],
    ids: dict[str, int],
    owner_of: dict[int, int],
    taken: set[tuple[int, str]],
) -> list[list[tuple[dict, Sequence[tuple[int, int]]]]]:
    """Per write, its entries as save() makes them: (item row without meeting_id, spans).
    Refuses a writer's href that an object (stored, or an earlier write's) holds."""
    now = time.time()
    result = []
    for w, calendars in zip(writes, targets, strict=True):
        if w.collection_id is not None and (w.collection_id, w.href) in taken:
            raise Conflict(f"href {w.href!r} already holds another object in this calendar")
        organiser_id = ids.get(w.meeting.organiser or "")
        index = w.index
        spans = list(index.occurrences) if index.exact else []
        mine = []
        for collection_id in calendars:
            if collection_id == w.collection_id:
                href, personal = w.href, w.personal
            else:
                href, personal = _free_href(taken, collection_id, w), None
            taken.add((collection_id, href))
            organiser = owner_of[collection_id] == organiser_id
            text = None if organiser else render_for_attendee(w.ical, personal)
            row = {
                "collection_id": collection_id,
                "href": href,
                "uid": w.meeting.uid,
                "text": text,
                "etag": radicale_item.get_etag(text) if text is not None else None,
                "personal": None if organiser else personal,
                "component": "VEVENT",
                "start_utc": index.start,
                "end_utc": index.end,
                "exact": index.exact,
                "open_from": index.open_from if index.exact else index.start,
                "last_modified": now,
            }
            limits.check(items, row)
            mine.append((row, spans))
        result.append(mine)
    return result


def _save_batch(tx: Tx, writes: Sequence[MeetingWrite]) -> int:
    conn = tx.conn
    _refuse_existing(tx, writes)
    ids = _ids(tx, set().union(*(_logins(w) for w in writes)))
    calendar_of = _meetings_collections(tx, set(ids.values()))
    owner_of = {c: owner for owner, c in calendar_of.items()}
    # Each write's member calendars, in id order as save() visits them.
    targets = [
        sorted(calendar_of[ids[x]] for x in w.meeting.members() if ids.get(x) in calendar_of)
        for w in writes
    ]
    wanted = {(c, w.href) for w, cs in zip(writes, targets, strict=True) for c in cs}
    wanted |= {(w.collection_id, w.href) for w in writes if w.collection_id is not None}
    entries = _entry_rows(writes, targets, ids, owner_of, _taken(tx, wanted))
    rows = []
    for w in writes:
        values = _row_values(w, ids)
        values["origin"] = tx.origin
        values["created_at"] = values["modified_at"]
        limits.check(meetings, values)
        rows.append(values)
    people = [_participant_rows(0, w.meeting, ids) for w in writes]
    limits.check_all(participants, [row for group in people for row in group])

    conn.execute(insert(meetings), rows)
    uids = [w.meeting.uid for w in writes]
    found = conn.execute(select(meetings.c.uid, meetings.c.id).where(meetings.c.uid.in_(uids)))
    meeting_ids = {row.uid: row.id for row in found}
    ordered = [meeting_ids[uid] for uid in uids]
    people_rows = [
        {**row, "meeting_id": mid}
        for mid, group in zip(ordered, people, strict=True)
        for row in group
    ]
    if people_rows:
        conn.execute(insert(participants), people_rows)
    flat = [
        ({**row, "meeting_id": mid}, spans)
        for mid, mine in zip(ordered, entries, strict=True)
        for row, spans in mine
    ]
    if flat:
        conn.execute(insert(items), [row for row, _ in flat])
    item_ids = _item_ids(tx, ordered)
    occurrence_rows = [
        {
            "item_id": item_ids[(row["collection_id"], row["href"])],
            "collection_id": row["collection_id"],
            "start_utc": s,
            "end_utc": e,
        }
        for row, spans in flat
        for s, e in spans
    ]
    for start in range(0, len(occurrence_rows), 2000):
        conn.execute(insert(occurrences), occurrence_rows[start : start + 2000])
    _touch(tx, flat)
    _log(tx, [row for row, _ in flat])
    return len(writes)


def _item_ids(tx: Tx, meeting_ids: list[int]) -> dict[tuple[int, str], int]:
    rows = tx.conn.execute(
        select(items.c.id, items.c.collection_id, items.c.href).where(
            items.c.meeting_id.in_(meeting_ids)
        )
    )
    return {(row.collection_id, row.href): row.id for row in rows}


def _touch(tx: Tx, entries: list[tuple[dict, Sequence[tuple[int, int]]]]) -> None:
    """As items.upsert's collections.touch per entry: modified now, max_span widened."""
    longest: dict[int, int] = {}
    for row, spans in entries:
        span = max((e - s for s, e in spans), default=0)
        longest[row["collection_id"]] = max(longest.get(row["collection_id"], 0), span)
    now = time.time()
    for collection_id, span in sorted(longest.items()):
        widened = case((collections.c.max_span < span, span), else_=collections.c.max_span)
        tx.conn.execute(
            update(collections)
            .where(collections.c.id == collection_id)
            .values(modified_at=now, max_span=widened)
        )


def _log(tx: Tx, entries: list[dict]) -> None:
    """One "put" change per entry, recorded as ``save()`` records it (``Tx.record``: the
    rows are written with the transaction's seq when it commits), the calendars locked
    first as ``save()`` locks them (per collection on MariaDB)."""
    if not entries:
        return
    tx.lock_collections(row["collection_id"] for row in entries)
    for row in entries:
        tx.record(row["collection_id"], row["href"], "put", row["meeting_id"], row["uid"])
