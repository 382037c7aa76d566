"""The seeded store the campaign guards: objects that must read back byte-identically,
a private meeting with marker strings, and the store-level checks (fingerprint, integrity).

Seeds are written the way they reach a real store: CRM meetings through
``meeting_service.save_from_sync`` (origin "crm", the only way internal notes get in),
client calendars over CalDAV.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select, text

from bridge.config import load_config
from bridge.meeting_service import save_from_sync
from bridge.model import Meeting, Override, Recurrence
from bridge.server import radicale_configuration
from bridge.storage_plugin import Storage
from bridge.store import Store
from bridge.store import meetings as meeting_store
from bridge.store.schema import collections, counters, items, meetings, metadata
from tests.support.http import Response, request, vevent

# Marker strings of bob's private meeting: alice and dave (not in it) must never see them.
PRIVATE_MARKERS = {
    "summary": "ZQXPRIV-SUMMARY-5b1e",
    "location": "ZQXPRIV-LOCATION-77c0",
    "description": "ZQXPRIV-DESCRIPTION-a9d4",
}
# In the private meeting's overridden occurrence, and in a private occurrence of a public one.
OVERRIDE_MARKER = "ZQXPRIV-OVERRIDE-3f62"
NOTES_MARKER = "ZQXNOTES-INTERNAL-e81c"  # internal notes: never in any CalDAV answer
NOT_IN_PRIVATE = ("alice", "dave")
SERIES_START = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)


@dataclass
class SeedGroup:
    """One seeded thing (a meeting and its copies, or a client object)."""

    name: str
    organiser: str
    objects: list[tuple[str, str]]  # (login reading it, path)
    restore: Callable[[], None]
    meeting: bool = False


def _crm_meeting(uid: str, organiser: str, internal: list[str], *, private: bool) -> Meeting:
    marks = PRIVATE_MARKERS if private else {k: f"Public {k}" for k in PRIVATE_MARKERS}
    return Meeting(
        uid=uid,
        start=SERIES_START,
        end=SERIES_START + timedelta(hours=1),
        organiser=organiser,
        internal_users=internal,
        activity_type="meeting",
        subject=marks["summary"],
        location=marks["location"],
        description=marks["description"],
        internal_notes=f"{NOTES_MARKER} {uid}",
        timezone="Europe/Berlin",
        recurrence=Recurrence(rrule="FREQ=WEEKLY;COUNT=10"),
        private=private,
    )


def write_crm_meeting(store: Store, meeting: Meeting, overrides: list[Override]) -> None:
    """Write (or rewrite) a CRM meeting at ``<uid>.ics``, clearing whatever holds the href."""
    href = f"{meeting.uid}.ics"
    if meeting.recurrence is not None:
        meeting.recurrence.overrides = [o.recurrence_id for o in overrides]

    def work(tx):  # noqa: ANN202
        # Hrefs belong to calendars: another meeting an earlier case put at this href in any
        # member's calendar would push the seed's entry to another name there, and a case
        # that renamed the seed (MOVE) left its entries under other names: both go, and the
        # seed is made again at its own href.
        doomed = tx.conn.execute(
            select(items.c.meeting_id).where(
                items.c.meeting_id.isnot(None),
                (items.c.href == href) | (items.c.uid == meeting.uid),
            )
        )
        for meeting_id in {row.meeting_id for row in doomed}:
            meeting_store.delete_meeting(tx, meeting_id)
        save_from_sync(
            tx, meeting, href=href, horizon_days=1830, max_occurrences=5000, overrides=overrides
        )

    store.write(work, origin="crm")


SERIES = (
    vevent(
        "series-seed",
        "Weekly Zürich sync",
        start="20261201T100000",
        end="20261201T110000",
        extra="RRULE:FREQ=WEEKLY;UNTIL=20270301T090000Z\nEXDATE;TZID=Europe/Berlin:20261208T100000",
    )
    .replace("DTSTART:", "DTSTART;TZID=Europe/Berlin:")
    .replace("DTEND:", "DTEND;TZID=Europe/Berlin:")
)
# bob's public weekly meeting with one private occurrence (CLASS:PRIVATE on the override).
OCCURRENCE = vevent(
    "occurrence-seed", "Bob's weekly", extra="RRULE:FREQ=WEEKLY;COUNT=5\nCLASS:PUBLIC"
).replace(
    "END:VCALENDAR",
    "BEGIN:VEVENT\r\nUID:occurrence-seed\r\nDTSTAMP:20261101T000000Z\r\n"
    "RECURRENCE-ID:20261208T100000Z\r\nDTSTART:20261208T120000Z\r\nDTEND:20261208T130000Z\r\n"
    f"SUMMARY:{OVERRIDE_MARKER}\r\nLOCATION:{OVERRIDE_MARKER}\r\nCLASS:PRIVATE\r\n"
    "END:VEVENT\r\nEND:VCALENDAR",
)
TODO = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//fuzz//EN\r\nBEGIN:VTODO\r\nUID:todo-seed\r\n"
    "DTSTAMP:20261101T000000Z\r\nSUMMARY:Einkaufen 🛒\r\nDUE:20261224T170000Z\r\n"
    "END:VTODO\r\nEND:VCALENDAR\r\n"
)


def _put_meeting(url: str, login: str, href: str, body: str) -> None:
    """(Re)write a meeting from the organiser's calendar app."""
    path = f"/{login}/meetings/{href}"
    request(url, "DELETE", path, user=login)
    put = request(url, "PUT", path, body, user=login)
    if put.status != 201:
        raise RuntimeError(f"cannot seed {path}: {put.status} {put.body}")


def _client_object(url: str, login: str, calendar: str, href: str, body: str) -> None:
    """(Re)create a client calendar holding one object, as a client would."""
    path = f"/{login}/{calendar}/"
    request(url, "DELETE", path, user=login)
    made = request(url, "MKCALENDAR", path, user=login)
    put = request(url, "PUT", path + href, body, user=login)
    if made.status != 201 or put.status != 201:
        raise RuntimeError(f"cannot seed {path}{href}: {made.status} {put.status} {put.body}")


def seed(url: str, store: Store) -> list[SeedGroup]:
    """Write every seed and return the groups the campaign guards."""
    private = _crm_meeting("private-seed", "bob", ["carol"], private=True)
    override = Override(
        recurrence_id=(SERIES_START + timedelta(days=7)).isoformat(),
        start=SERIES_START + timedelta(days=7, hours=2),
        end=SERIES_START + timedelta(days=7, hours=3),
        subject=OVERRIDE_MARKER,
        location=OVERRIDE_MARKER,
        description=OVERRIDE_MARKER,
    )
    public = _crm_meeting("public-seed", "alice", ["bob"], private=False)
    dave = _crm_meeting("dave-seed", "dave", [], private=False)
    groups = [
        SeedGroup(
            "private meeting",
            "bob",
            [
                ("bob", "/bob/meetings/private-seed.ics"),
                ("carol", "/carol/meetings/private-seed.ics"),
                ("alice", "/alice/meetings-bob/private-seed.ics"),
                ("alice", "/alice/meetings-carol/private-seed.ics"),
            ],
            lambda: write_crm_meeting(store, private, [override]),
            meeting=True,
        ),
        SeedGroup(
            "public meeting",
            "alice",
            [
                ("alice", "/alice/meetings/public-seed.ics"),
                ("bob", "/bob/meetings/public-seed.ics"),
                ("bob", "/bob/meetings-alice/public-seed.ics"),
            ],
            lambda: write_crm_meeting(store, public, []),
            meeting=True,
        ),
        SeedGroup(
            "dave's meeting",
            "dave",
            [("dave", "/dave/meetings/dave-seed.ics")],
            lambda: write_crm_meeting(store, dave, []),
            meeting=True,
        ),
        SeedGroup(
            "bob's meeting with a private occurrence",
            "bob",
            [
                ("bob", "/bob/meetings/occurrence-seed.ics"),
                ("alice", "/alice/meetings-bob/occurrence-seed.ics"),
            ],
            lambda: _put_meeting(url, "bob", "occurrence-seed.ics", OCCURRENCE),
            meeting=True,
        ),
        SeedGroup(
            "alice's client calendar",
            "alice",
            [("alice", "/alice/work/series.ics")],
            lambda: _client_object(url, "alice", "work", "series.ics", SERIES),
        ),
        SeedGroup(
            "carol's task list",
            "carol",
            [("carol", "/carol/tasks/todo.ics")],
            lambda: _client_object(url, "carol", "tasks", "todo.ics", TODO),
        ),
    ]
    for group in groups:
        group.restore()
    for login in ("alice", "bob", "carol", "dave"):  # an empty client calendar each
        request(url, "MKCALENDAR", f"/{login}/fz-cal-0/", user=login)
    return groups


def fingerprint(store: Store) -> str:
    """A digest of everything a request could change: change position, collections with
    their properties, every item's ETag and every meeting's ETag and internal notes."""

    def read(conn) -> str:  # noqa: ANN001
        digest = hashlib.sha256()
        for row in conn.execute(select(counters.c.name, counters.c.value).order_by("name")):
            digest.update(f"{row.name}={row.value}\n".encode())
        for row in conn.execute(
            select(collections.c.path, collections.c.props).order_by(collections.c.id)
        ):
            digest.update(f"C {row.path} {row.props}\n".encode())
        for row in conn.execute(
            select(
                items.c.collection_id,
                items.c.href,
                items.c.etag,
                items.c.meeting_id,
                func.length(items.c.text).label("size"),
            ).order_by(items.c.collection_id, items.c.href)
        ):
            digest.update(
                f"I {row.collection_id} {row.href} {row.etag} {row.meeting_id} "
                f"{row.size}\n".encode()
            )
        for row in conn.execute(
            select(
                meetings.c.uid,
                meetings.c.etag,
                meetings.c.busy_etag,
                meetings.c.internal_notes,
                func.length(meetings.c.ical).label("size"),
            ).order_by(meetings.c.id)
        ):
            digest.update(
                f"M {row.uid} {row.etag} {row.busy_etag} {row.size} {row.internal_notes}\n".encode()
            )
        return digest.hexdigest()

    return store.read(read)


def integrity_problems(store: Store, config: Path) -> list[str]:
    """SQLite's integrity_check or MariaDB's CHECK TABLE, then the storage's verify()."""
    problems: list[str] = []

    def check(conn) -> None:  # noqa: ANN001
        if conn.dialect.name == "sqlite":
            result = [row[0] for row in conn.execute(text("PRAGMA integrity_check"))]
            if result != ["ok"]:
                problems.append(f"PRAGMA integrity_check: {result}")
            return
        for table in metadata.sorted_tables:
            for row in conn.execute(text(f"CHECK TABLE `{table.name}`")):
                if row.Msg_type in ("error", "warning") or (
                    row.Msg_type == "status" and row.Msg_text != "OK"
                ):
                    problems.append(f"CHECK TABLE {table.name}: {row.Msg_type} {row.Msg_text}")

    store.read(check)
    storage = Storage(radicale_configuration(load_config(config)))
    if not storage.verify():
        problems.append("storage verify() found objects that do not parse (see server log)")
    return problems


def fetch(url: str, login: str, path: str, timeout: float) -> Response:
    return request(url, "GET", path, user=login, timeout=timeout)
