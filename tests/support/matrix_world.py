"""The world of the authorisation matrix (tests/integration/test_authorisation_matrix.py):
what is seeded, with which private markers, how the store is fingerprinted, how allowed
writes are undone, and the table of results."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from sqlalchemy import create_engine, select, update

from bridge.store.schema import collections, counters, items, meetings
from tests.support import dav
from tests.support.http import Response, request
from tests.support.module_server import ModuleServer


def ics(*lines: str) -> str:
    return "\r\n".join(["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//tests//EN", *lines]) + (
        "\r\nEND:VCALENDAR\r\n"
    )


MARKERS = {
    **{f"MKPRIV{p}": {"alice", "carol"} for p in ("SUM", "LOC", "DESC", "ALARM", "FIELD")},
    "mkprivguest@outside.example": {"alice", "carol"},
    **{f"MKOCC{p}": {"alice"} for p in ("SUM", "LOC", "DESC", "ALARM")},
    "mkoccguest@outside.example": {"alice"},
    "MKGENSUM": {"alice"},
    "MKCARDNAME": {"alice"},
    "MKNOTES1": set(),
    "MKNOTES2": set(),
}
NOTES = {"mx-private": "MKNOTES1", "mx-series": "MKNOTES2"}


PRIVATE_MEETING = ics(
    "BEGIN:VEVENT",
    "UID:mx-private",
    "DTSTAMP:20261101T000000Z",
    "DTSTART:20261203T100000Z",
    "DTEND:20261203T110000Z",
    "CLASS:PRIVATE",
    "SUMMARY:MKPRIVSUM",
    "LOCATION:MKPRIVLOC",
    "DESCRIPTION:MKPRIVDESC",
    "X-CRM-FIELD-TOPIC:MKPRIVFIELD",
    "ORGANIZER:mailto:alice@example.com",
    "ATTENDEE:mailto:carol@example.com",
    "ATTENDEE:mailto:mkprivguest@outside.example",
    "BEGIN:VALARM",
    "ACTION:DISPLAY",
    "DESCRIPTION:MKPRIVALARM",
    "TRIGGER:-PT5M",
    "END:VALARM",
    "END:VEVENT",
)
SERIES_WITH_PRIVATE_OCCURRENCE = ics(
    "BEGIN:VEVENT",
    "UID:mx-series",
    "DTSTAMP:20261101T000000Z",
    "DTSTART:20261207T090000Z",
    "DTEND:20261207T093000Z",
    "RRULE:FREQ=DAILY;COUNT=3",
    "SUMMARY:Stand-up",
    "END:VEVENT",
    "BEGIN:VEVENT",
    "UID:mx-series",
    "DTSTAMP:20261101T000000Z",
    "RECURRENCE-ID:20261208T090000Z",
    "DTSTART:20261208T150000Z",
    "DTEND:20261208T160000Z",
    "CLASS:CONFIDENTIAL",
    "SUMMARY:MKOCCSUM",
    "LOCATION:MKOCCLOC",
    "DESCRIPTION:MKOCCDESC",
    "ATTENDEE:mailto:mkoccguest@outside.example",
    "BEGIN:VALARM",
    "ACTION:DISPLAY",
    "DESCRIPTION:MKOCCALARM",
    "TRIGGER:-PT5M",
    "END:VALARM",
    "END:VEVENT",
)
PUBLIC_MEETING = ics(
    "BEGIN:VEVENT",
    "UID:mx-public",
    "DTSTAMP:20261101T000000Z",
    "DTSTART:20261204T120000Z",
    "DTEND:20261204T130000Z",
    "SUMMARY:Team lunch",
    "END:VEVENT",
)
GENERIC_EVENT = ics(
    "BEGIN:VEVENT",
    "UID:mx-generic",
    "DTSTAMP:20261101T000000Z",
    "DTSTART:20261205T080000Z",
    "DTEND:20261205T090000Z",
    "CLASS:PRIVATE",
    "SUMMARY:MKGENSUM",
    "END:VEVENT",
)
CARD = dav.vcard("mx-card", "MKCARDNAME")
MEETINGS = {
    "private.ics": PRIVATE_MEETING,
    "series.ics": SERIES_WITH_PRIVATE_OCCURRENCE,
    "public.ics": PUBLIC_MEETING,
}
CARD_TYPE = {"Content-Type": "text/vcard"}


class World:
    def __init__(self, server: ModuleServer, roles: list[str]) -> None:
        self.server = server
        self.roles = roles  # a home's new collections are named mk-<role>
        self.engine = create_engine(server.db_url)

    def call(self, method: str, path: str, body: str = "", **kw) -> Response:
        return request(self.server.url, method, path, body, **kw)

    def fingerprint(self) -> str:
        digest = hashlib.sha256()
        with self.engine.connect() as conn:
            for query in (
                select(collections).order_by(collections.c.id),
                select(items).order_by(items.c.id),
                select(meetings).order_by(meetings.c.id),
                select(counters).order_by(counters.c.name),
            ):
                for row in conn.execute(query):
                    digest.update(repr(tuple(row)).encode())
        return digest.hexdigest()

    def must(self, answer: Response, *codes: int) -> None:
        assert answer.status in codes, answer

    def restore_all(self) -> None:
        for path in ("/alice/cal/", "/alice/cal2/", "/alice/book/", "/alice/book2/"):
            self.restore_collection(path)
        self.restore_meetings()
        self.restore_home()

    def restore_collection(self, path: str) -> None:
        self.call("DELETE", path)
        if "book" in path:
            self.must(self.call("MKCOL", path, dav.mkcol_addressbook(), headers=dav.XML), 201)
        else:
            self.must(self.call("MKCALENDAR", path, dav.mkcalendar(path), headers=dav.XML), 201)
        if path == "/alice/cal/":
            self.must(self.call("PUT", path + "event.ics", GENERIC_EVENT), 201)
        if path == "/alice/book/":
            self.must(self.call("PUT", path + "card.vcf", CARD, headers=CARD_TYPE), 201)

    def restore_meetings(self) -> None:
        for name in ("moved.ics", "copy.ics"):
            self.call("DELETE", f"/alice/meetings/{name}")
        for name, text in MEETINGS.items():
            self.must(self.call("PUT", f"/alice/meetings/{name}", text), 201, 204)
        # Internal notes come from the CRM, never from a calendar client.
        with self.engine.begin() as conn:
            for uid, note in NOTES.items():
                conn.execute(
                    update(meetings).where(meetings.c.uid == uid).values(internal_notes=note)
                )

    def restore_home(self) -> None:
        for role in self.roles:
            self.call("DELETE", f"/alice/mk-{role}/")
        self.call("PROPPATCH", "/alice/", dav.proppatch("<D:displayname>alice</D:displayname>"))

    def restore_after(self, path: str) -> None:
        """Put back what an allowed write to ``path`` may have changed."""
        if path.startswith(("/alice/cal", "/alice/book")):
            for collection in ("/alice/cal/", "/alice/cal2/", "/alice/book/", "/alice/book2/"):
                self.restore_collection(collection)
        elif path.startswith("/alice/meetings"):
            self.restore_meetings()
        elif path == "/alice/":
            self.restore_home()

    def close(self) -> None:
        self.engine.dispose()


# -- recording and printing ---------------------------------------------------------------


@dataclass
class Results:
    backend: str
    roles: list[str]
    targets: dict[str, str]  # name -> path
    methods: list[str]
    rows: list[tuple[str, str, str, str, int, str]] = field(default_factory=list)

    def add(self, role: str, target: str, method: str, rule: str, status: int, verdict: str):
        self.rows.append((role, target, method, rule, status, verdict))

    def table(self) -> str:
        roles = self.roles
        lines = [f"Authorisation matrix on {self.backend} (rule/status; ! marks a failure)"]
        cells = {(r, t, m): (rule, s, v) for r, t, m, rule, s, v in self.rows}
        for target, path in self.targets.items():
            lines.append(f"\n{target} ({path})")
            lines.append(f"  {'method':26}" + "".join(f"{r:>18}" for r in roles))
            for method in self.methods:
                row = []
                for role in roles:
                    cell = cells.get((role, target, method))
                    if cell is None:
                        row.append(f"{'-':>18}")
                        continue
                    rule, status, verdict = cell
                    mark = "" if verdict == "ok" else "!"
                    row.append(f"{mark}{rule} {status}".rjust(18))
                lines.append(f"  {method:26}" + "".join(row))
        meeting_rows = [row for row in self.rows if row[1].startswith("meeting: ")]
        if meeting_rows:
            lines.append("\nmeeting-level rules (test_meeting_role_matrix)")
            lines += [
                f"  {'!' if v != 'ok' else ' '} {r:10} {t[9:]:48} {m:7} {rule:7} {st}"
                for r, t, m, rule, st, v in meeting_rows
            ]
        failures = [row for row in self.rows if row[5] != "ok"]
        lines.append(
            f"\n{len(self.rows)} cells; unexpected 2xx: "
            f"{sum(1 for r in failures if 'unexpected 2xx' in r[5])}; "
            f"5xx: {sum(1 for r in failures if '5xx' in r[5])}; "
            f"leaks: {sum(1 for r in failures if 'leak' in r[5])}; "
            f"failures: {len(failures)}"
        )
        lines += [f"  ! {r[0]} {r[2]} {r[1]}: {r[5]}" for r in failures]
        return "\n".join(lines)


# The meeting-level cells: alice's meeting attended by carol, a booking for alice.

TEAM = ics(
    "BEGIN:VEVENT",
    "UID:mx-team",
    "DTSTAMP:20261101T000000Z",
    "DTSTART:20261210T100000Z",
    "DTEND:20261210T110000Z",
    "SEQUENCE:0",
    "SUMMARY:Team review",
    "CLASS:PUBLIC",
    "ORGANIZER:mailto:alice@example.com",
    "ATTENDEE;PARTSTAT=ACCEPTED:mailto:alice@example.com",
    "ATTENDEE;PARTSTAT=NEEDS-ACTION:mailto:carol@example.com",
    "END:VEVENT",
)
BOOKED = ics(
    "BEGIN:VEVENT",
    "UID:mx-booked",
    "DTSTAMP:20261101T000000Z",
    "DTSTART:20261211T100000Z",
    "DTEND:20261211T110000Z",
    "SUMMARY:Booked for alice",
    "ORGANIZER:mailto:alice@example.com",
    "END:VEVENT",
)
ALARM = "BEGIN:VALARM\r\nACTION:DISPLAY\r\nDESCRIPTION:Soon\r\nTRIGGER:-PT15M\r\nEND:VALARM\r\n"


def team_with(old: str, new: str) -> str:
    assert old in TEAM
    return TEAM.replace(old, new)


def restore_team(world_: World) -> None:
    """The meeting-level cells start from alice's team meeting, attended by carol."""
    for path in (
        "/alice/meetings/team-renamed.ics",
        "/carol/meetings/team-renamed.ics",
        "/alice/cal2/team.ics",
    ):
        world_.call("DELETE", path, user=path.split("/")[1])
    for login, path in (("bob", "/bob/meetings/booked.ics"), ("dave", "/dave/meetings/booked.ics")):
        world_.call("DELETE", path, user=login)
    world_.call("DELETE", "/alice/meetings/booked.ics")
    world_.must(world_.call("PUT", "/alice/meetings/team.ics", TEAM), 201, 204)
    if world_.call("PROPFIND", "/carol/other/", user="carol").status == 404:
        made = world_.call("MKCALENDAR", "/carol/other/", dav.mkcalendar(), user="carol")
        world_.must(made, 201)
