"""The authorisation matrix: every role x every collection kind x every method, against a
real `bridge serve` (one per database for the whole module).

Each cell's expected outcome comes from the rules in ``expected()`` below, written from
the access model (docs/architecture.md), not from what the server answers:

- allowed cells answer 2xx (root's GET: Radicale's 3xx redirect to its web page);
- refused cells answer 4xx (401 anonymous, 403, 404, 405, 409, 400 as fits), never 2xx,
  and change nothing in the store (a fingerprint of every table is compared);
- "either" cells are protocol corners where the RFCs leave the answer to the server
  (a calendar-query on a plain collection): any 2xx or 4xx, but still no 5xx and no leak;
- no cell may answer 5xx, and a plain-text 403 names its reason (and not a wrong one);
- no response carries a marker of a private meeting, a client calendar or an address
  book to someone who does not take part in it, and internal notes reach no one.

Roles: alice owns every target and organises the seeded meetings (owner and organiser);
bob may see her (a colleague); dave may not (a stranger); carol is an internal attendee
of her private meeting and may see her too; anonymous sends no credentials. The
"colleague view" of a cell is the requester's own view of alice's meetings
(``/<requester>/meetings-alice/``): bob sees her private meeting as busy time, carol, who
takes part, sees it whole, dave has none.

The table of all cells is printed at the end of the module (``pytest -s``) and written
to ``authorisation-matrix-<db>.txt`` in the module's temporary directory.

The meeting-level rules (attendee edits, declines, booking for others, MOVE of
meetings) are a separate parametrisation, ``test_meeting_role_matrix``: they depend on
the attendee-rights work done on another branch.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from sqlalchemy import create_engine, select, update

from bridge.store.schema import collections, counters, items, meetings
from tests.support import dav
from tests.support.http import Response, request
from tests.support.module_server import BACKENDS, ModuleServer, running_server

ALLOW, REFUSE, EITHER, REDIRECT = "allow", "refuse", "either", "redirect"

# -- the world ---------------------------------------------------------------------------

ROLES = {
    "owner": "alice",  # owns every target below /alice/; organises her meetings
    "colleague": "bob",  # may see alice (can_see); takes part in none of her meetings
    "stranger": "dave",  # may not see alice
    "attendee": "carol",  # internal attendee of alice's private meeting
    "anonymous": None,  # no credentials
}

# Marker -> logins that may see it. Internal notes: nobody, ever.
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


def ics(*lines: str) -> str:
    return "\r\n".join(["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//tests//EN", *lines]) + (
        "\r\nEND:VCALENDAR\r\n"
    )


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


@dataclass(frozen=True)
class Target:
    path: str  # "{me}": the requesting user (a colleague view is the viewer's own)
    kind: str  # root, home, calendar, book, item, card
    writable: bool = False  # alice may write into / change it
    deletable: bool = False  # alice may delete or replace it as a whole
    view: bool = False  # the requester's view of alice's meetings: readable if they may see her

    def resolve(self, login: str | None) -> str:
        return self.path.replace("{me}", login or "bob")


TARGETS = {
    "root": Target("/", "root"),
    "home": Target("/alice/", "home", writable=True),
    "meetings calendar": Target("/alice/meetings/", "calendar", writable=True),
    "colleague view": Target("/{me}/meetings-alice/", "calendar", view=True),
    "client calendar": Target("/alice/cal/", "calendar", writable=True, deletable=True),
    "address book": Target("/alice/book/", "book", writable=True, deletable=True),
    "meeting item": Target("/alice/meetings/private.ics", "item", writable=True),
    "colleague view item": Target("/{me}/meetings-alice/private.ics", "item", view=True),
    "client calendar item": Target("/alice/cal/event.ics", "item", writable=True, deletable=True),
    "address book item": Target("/alice/book/card.vcf", "card", writable=True, deletable=True),
}
# Who may see alice's meetings through their own view (can_see in the example users).
SEES_ALICE = {"bob", "carol"}

METHODS = [
    "OPTIONS",
    "GET",
    "HEAD",
    "PUT",
    "DELETE",
    "MOVE same collection",
    "MOVE other collection",
    "MOVE other user",
    "COPY",
    "PROPFIND",
    "PROPPATCH",
    "MKCALENDAR",
    "MKCOL",
    "ACL",
    "LOCK",
    "UNLOCK",
    "REPORT calendar-query",
    "REPORT calendar-multiget",
    "REPORT expand",
    "REPORT sync-collection",
    "REPORT free-busy-query",
    "REPORT addressbook-query",
]
WRITES = {
    "PUT",
    "DELETE",
    "MOVE same collection",
    "MOVE other collection",
    "MOVE other user",
    "COPY",
    "PROPPATCH",
    "MKCALENDAR",
    "MKCOL",
    "ACL",
    "LOCK",
    "UNLOCK",
}
# Cells whose rule is a meeting-level rule: they live in test_meeting_role_matrix.
MEETING_LEVEL = {
    ("meeting item", "MOVE same collection"),
    ("meeting item", "MOVE other collection"),
}

# -- the rules ----------------------------------------------------------------------------


def access(login: str | None, target: Target) -> str:
    """'own', 'read' or 'none': the access model of bridge.rights and the colleague views."""
    if login is None:
        return "none"
    if target.kind == "root":
        return "read"  # any logged-in user may list the root (it shows them their home)
    if target.view:
        return "read" if login in SEES_ALICE else "none"  # read-only, never written
    return "own" if login == "alice" else "none"


def expected(role: str, target_name: str, method: str) -> str:
    target = TARGETS[target_name]
    level = access(ROLES[role], target)
    kind = target.kind
    calendar_like = kind in ("calendar", "item")
    if method == "OPTIONS":
        return ALLOW  # capabilities only, no stored data: answered to anyone
    if method in ("GET", "HEAD") and kind == "root":
        return REDIRECT  # Radicale sends "/" to its web interface (off): no stored data
    if level == "none":
        return REFUSE
    if method in ("GET", "HEAD"):
        return REFUSE if kind == "home" else ALLOW  # no listings of plain collections
    if method == "PROPFIND":
        return ALLOW
    if method.startswith("REPORT"):
        report = method.split(" ", 1)[1]
        if kind in ("root", "home"):
            # Nothing to search, nothing to sync; Radicale answers some with an empty 207.
            return EITHER if report in ("calendar-query", "expand", "addressbook-query") else REFUSE
        if report in ("calendar-query", "expand", "calendar-multiget"):
            return ALLOW if calendar_like else REFUSE
        if report == "free-busy-query":
            return ALLOW if kind == "calendar" else REFUSE
        if report == "addressbook-query":
            return ALLOW if kind in ("book", "card") else REFUSE
        if report == "sync-collection":
            # RFC 6578 defines it on collections; on a member the server may answer for
            # its collection (Radicale does) or refuse.
            return ALLOW if kind in ("calendar", "book") else EITHER
    # Writes: only alice, only what is hers.
    if level != "own":
        return REFUSE
    if method in ("COPY", "ACL", "LOCK", "UNLOCK", "MOVE other user"):
        return REFUSE  # not supported by Radicale / never into another user's home
    if method in ("MKCALENDAR", "MKCOL"):
        return ALLOW if kind == "home" else REFUSE  # new collections go into the home
    if method == "PROPPATCH":
        return ALLOW if kind in ("home", "calendar", "book") else REFUSE
    if method.startswith("MOVE"):
        return ALLOW if kind in ("item", "card") else REFUSE  # items only, not collections
    if method in ("PUT", "DELETE"):
        if kind in ("item", "card"):
            return ALLOW  # the meeting item: its organiser edits or deletes it
        return ALLOW if target.deletable else REFUSE  # home and meetings stay
    raise AssertionError(f"no rule for {method}")


# -- requests -----------------------------------------------------------------------------


def foreign_collection(login: str | None) -> str:
    return "/bob/meetings/" if login == "dave" else "/dave/meetings/"


def build(role: str, target: Target, method: str, url: str) -> tuple[str, str, str, dict]:
    """(HTTP method, path, body, headers) of one cell."""
    login = ROLES[role]
    path, kind = target.resolve(login), target.kind
    is_collection = path.endswith("/")
    name = path.rsplit("/", 1)[-1]
    parent = path.rsplit("/", 1)[0] + "/" if not is_collection else path
    depth1 = {**dav.XML, "Depth": "1"}
    window = ("20261201T000000Z", "20261231T000000Z")
    if method in ("OPTIONS", "GET", "HEAD", "DELETE", "ACL", "UNLOCK"):
        headers = {"Lock-Token": "<urn:uuid:00000000-0000-0000-0000-000000000000>"}
        return method, path, "", headers if method == "UNLOCK" else {}
    if method == "LOCK":
        body = (
            '<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/>'
            "</D:lockscope><D:locktype><D:write/></D:locktype></D:lockinfo>"
        )
        return "LOCK", path, body, dav.XML
    if method == "PUT":
        if kind in ("book", "card"):
            return "PUT", path, CARD.replace("MKCARDNAME", "Replaced"), CARD_TYPE
        body = {
            "private.ics": PRIVATE_MEETING.replace("MKPRIVSUM", "MKPRIVSUM edited"),
            "event.ics": GENERIC_EVENT.replace("MKGENSUM", "MKGENSUM edited"),
        }.get(name, GENERIC_EVENT)
        return "PUT", path, body, {"Content-Type": "text/calendar"}
    if method.startswith("MOVE") or method == "COPY":
        if is_collection:
            destination = {
                "MOVE same collection": (path.rstrip("/") or "/root") + "-moved/",
                "MOVE other collection": "/alice/cal2/moved/",
                "MOVE other user": foreign_collection(login) + "moved/",
                "COPY": (path.rstrip("/") or "/root") + "-copy/",
            }[method]
        else:
            suffix = ".vcf" if kind == "card" else ".ics"
            other = "/alice/book2/" if kind == "card" else "/alice/cal2/"
            if target.view:
                other = f"/{login or 'bob'}/meetings/"
            destination = {
                "MOVE same collection": f"{parent}moved{suffix}",
                "MOVE other collection": f"{other}moved{suffix}",
                "MOVE other user": f"{foreign_collection(login)}moved{suffix}",
                "COPY": f"{parent}copy{suffix}",
            }[method]
        return method.split(" ", 1)[0], path, "", {"Destination": url + destination}
    if method == "PROPFIND":
        return "PROPFIND", path, dav.propfind("D:displayname", "D:getetag"), depth1
    if method == "PROPPATCH":
        body = dav.proppatch(f"<D:displayname>Set by {role}</D:displayname>")
        return "PROPPATCH", path, body, dav.XML
    if method in ("MKCALENDAR", "MKCOL"):
        new = f"{path}mk-{role}/" if is_collection else f"{path}/"
        if method == "MKCALENDAR":
            return "MKCALENDAR", new, dav.mkcalendar(f"By {role}"), dav.XML
        return "MKCOL", new, dav.mkcol_addressbook(f"By {role}"), dav.XML
    report = method.split(" ", 1)[1]
    members = [path] if not is_collection else [path + n for n in MEETINGS] + [path + "event.ics"]
    body = {
        "calendar-query": dav.calendar_query(*window),
        "expand": dav.calendar_query(*window, expand=True),
        "calendar-multiget": dav.multiget(members),
        "sync-collection": dav.sync_collection(),
        "free-busy-query": dav.free_busy(*window),
        "addressbook-query": dav.addressbook_query("MK"),
    }[report]
    return "REPORT", path, body, depth1


# -- the store's fingerprint and the world's upkeep ---------------------------------------


class World:
    def __init__(self, server: ModuleServer) -> None:
        self.server = server
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
        for role in ROLES:
            self.call("DELETE", f"/alice/mk-{role}/")
        self.call("PROPPATCH", "/alice/", dav.proppatch("<D:displayname>alice</D:displayname>"))

    def restore_after(self, target: Target) -> None:
        """Put back what an allowed write to ``target`` may have changed."""
        if target.path.startswith(("/alice/cal", "/alice/book")):
            for path in ("/alice/cal/", "/alice/cal2/", "/alice/book/", "/alice/book2/"):
                self.restore_collection(path)
        elif target.path.startswith("/alice/meetings"):
            self.restore_meetings()
        elif target.path == "/alice/":
            self.restore_home()

    def close(self) -> None:
        self.engine.dispose()


# -- recording and printing ---------------------------------------------------------------


@dataclass
class Results:
    backend: str
    rows: list[tuple[str, str, str, str, int, str]] = field(default_factory=list)

    def add(self, role: str, target: str, method: str, rule: str, status: int, verdict: str):
        self.rows.append((role, target, method, rule, status, verdict))

    def table(self) -> str:
        roles = list(ROLES)
        lines = [f"Authorisation matrix on {self.backend} (rule/status; ! marks a failure)"]
        cells = {(r, t, m): (rule, s, v) for r, t, m, rule, s, v in self.rows}
        for target in TARGETS:
            lines.append(f"\n{target} ({TARGETS[target].path})")
            lines.append(f"  {'method':26}" + "".join(f"{r:>18}" for r in roles))
            for method in METHODS:
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


@pytest.fixture(scope="module", params=BACKENDS)
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[World, Results]]:
    directory = tmp_path_factory.mktemp(f"matrix-{request.param}")
    # Radicale's login cache (bcrypt once per user, not once per cell) and no delay on
    # refusals (an anti-brute-force pause of 0.5-1.5 s that Radicale adds to 401/403).
    extra = '[server.radicale.auth]\ncache_logins = "True"\ndelay = "0"\n'
    with running_server(request.param, directory, server_extra=extra) as server:
        world = World(server)
        world.restore_all()
        results = Results(request.param)
        yield world, results
        world.close()
        table = results.table()
        (directory / f"authorisation-matrix-{request.param}.txt").write_text(table)
        print("\n" + table)


def leaks(login: str | None, body: str) -> list[str]:
    text = body.replace("\r\n ", "").replace("\n ", "")  # unfold iCalendar lines
    return [m for m, allowed in MARKERS.items() if m in text and login not in allowed]


def verdict(rule: str, status: int, leaked: list[str], changed: bool, method: str) -> str:
    problems = []
    if status >= 500:
        problems.append(f"5xx ({status})")
    elif rule == ALLOW and not 200 <= status < 300:
        problems.append(f"allowed but answered {status}")
    elif rule == REFUSE and 200 <= status < 300:
        problems.append(f"unexpected 2xx ({status})")
    elif rule == REFUSE and not 400 <= status < 500:
        problems.append(f"refusal is not a 4xx ({status})")
    elif rule == REDIRECT and not 300 <= status < 400:
        problems.append(f"expected a redirect, got {status}")
    elif rule == EITHER and not (200 <= status < 300 or 400 <= status < 500):
        problems.append(f"neither 2xx nor 4xx ({status})")
    if leaked:
        problems.append(f"leak {leaked}")
    if changed and not (rule == ALLOW and method in WRITES):
        problems.append("store changed")
    return "; ".join(problems) or "ok"


def unexplained(
    answer: Response, login: str | None, method: str, path: str, headers: dict
) -> str | None:
    """A plain-text 403 must name its reason, and not a wrong one (an XML 403 names the
    failed precondition; a HEAD answer has no body)."""
    plain = answer.headers.get("content-type", "").startswith("text/plain")
    if answer.status != 403 or not plain or method == "HEAD":
        return None
    if not answer.body.startswith("403 Forbidden: "):
        return f"403 without a reason: {answer.body!r}"
    destination = headers.get("Destination", "").split("//", 1)[-1].partition("/")[2]
    inside = all(p.split("/")[0] == login for p in (path.strip("/"), destination) if p)
    if login is not None and inside and "outside the logged-in user's home" in answer.body:
        return f"wrong reason: {answer.body.strip()!r}"
    return None


CELLS = [
    (role, target, method)
    for role in ROLES
    for target in TARGETS
    for method in METHODS
    if (target, method) not in MEETING_LEVEL
]


@pytest.mark.parametrize(("role", "target_name", "method"), CELLS)
def test_authorisation_matrix(world, role, target_name, method):
    world_, results = world
    target = TARGETS[target_name]
    rule = expected(role, target_name, method)
    http_method, path, body, headers = build(role, target, method, world_.server.url)
    before = world_.fingerprint()
    answer = world_.call(http_method, path, body, user=ROLES[role], headers=headers)
    changed = world_.fingerprint() != before
    outcome = verdict(rule, answer.status, leaks(ROLES[role], answer.body), changed, method)
    reason = unexplained(answer, ROLES[role], http_method, path, headers)
    if reason:
        outcome = reason if outcome == "ok" else f"{outcome}; {reason}"
    results.add(role, target_name, method, rule, answer.status, outcome)
    if changed:
        world_.restore_after(target)
    assert outcome == "ok", f"{role} {method} {path}: rule {rule}, {answer}"


# -- meeting-level rules (attendee rights, booking for others, MOVE of meetings) ---------
# These rules are being built on another branch; the cells are written here so that the
# merged code is held to them.

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


def _team(old: str, new: str) -> str:
    assert old in TEAM
    return TEAM.replace(old, new)


@dataclass(frozen=True)
class MeetingCell:
    role: str
    action: str
    method: str
    path: str
    rule: str
    body: str = ""
    destination: str = ""
    still_there: bool = False  # after it, the organiser's copy still exists unchanged


MEETING_CELLS = [
    MeetingCell(
        "organiser",
        "edits SUMMARY",
        "PUT",
        "/alice/meetings/team.ics",
        ALLOW,
        _team("Team review", "Team review (new title)"),
    ),
    MeetingCell(
        "attendee",
        "edits SUMMARY",
        "PUT",
        "/carol/meetings/team.ics",
        REFUSE,
        _team("Team review", "Carol's title"),
        still_there=True,
    ),
    MeetingCell(
        "attendee",
        "moves DTSTART",
        "PUT",
        "/carol/meetings/team.ics",
        REFUSE,
        _team("DTSTART:20261210T100000Z", "DTSTART:20261210T090000Z"),
        still_there=True,
    ),
    MeetingCell(
        "attendee",
        "takes over ORGANIZER",
        "PUT",
        "/carol/meetings/team.ics",
        REFUSE,
        _team("ORGANIZER:mailto:alice@", "ORGANIZER:mailto:carol@"),
        still_there=True,
    ),
    MeetingCell(
        "attendee",
        "changes CLASS",
        "PUT",
        "/carol/meetings/team.ics",
        REFUSE,
        _team("CLASS:PUBLIC", "CLASS:PRIVATE"),
        still_there=True,
    ),
    MeetingCell(
        "attendee",
        "answers (own PARTSTAT)",
        "PUT",
        "/carol/meetings/team.ics",
        ALLOW,
        _team("PARTSTAT=NEEDS-ACTION:mailto:carol@", "PARTSTAT=ACCEPTED:mailto:carol@"),
    ),
    MeetingCell(
        "attendee",
        "adds an alarm",
        "PUT",
        "/carol/meetings/team.ics",
        ALLOW,
        _team("END:VEVENT", ALARM + "END:VEVENT"),
    ),
    MeetingCell(
        "attendee",
        "deletes (declines)",
        "DELETE",
        "/carol/meetings/team.ics",
        ALLOW,
        still_there=True,
    ),
    MeetingCell(
        "colleague",
        "books for another user without can_book_for",
        "PUT",
        "/bob/meetings/booked.ics",
        REFUSE,
        BOOKED,
    ),
    MeetingCell(
        "stranger",
        "books for another user without can_book_for",
        "PUT",
        "/dave/meetings/booked.ics",
        REFUSE,
        BOOKED,
    ),
    MeetingCell(
        "organiser",
        "renames inside the meetings calendar",
        "MOVE",
        "/alice/meetings/team.ics",
        ALLOW,
        destination="/alice/meetings/team-renamed.ics",
    ),
    MeetingCell(
        "organiser",
        "moves the meeting to another calendar",
        "MOVE",
        "/alice/meetings/team.ics",
        REFUSE,
        destination="/alice/cal2/team.ics",
        still_there=True,
    ),
    MeetingCell(
        "attendee",
        "renames inside the meetings calendar",
        "MOVE",
        "/carol/meetings/team.ics",
        ALLOW,
        destination="/carol/meetings/team-renamed.ics",
    ),
    MeetingCell(
        "attendee",
        "moves the meeting to another calendar",
        "MOVE",
        "/carol/meetings/team.ics",
        REFUSE,
        destination="/carol/other/team.ics",
        still_there=True,
    ),
    MeetingCell(
        "organiser",
        "moves the meeting to another user's calendar",
        "MOVE",
        "/alice/meetings/team.ics",
        REFUSE,
        destination="/dave/meetings/team.ics",
        still_there=True,
    ),
    MeetingCell(
        "anonymous",
        "edits SUMMARY",
        "PUT",
        "/alice/meetings/team.ics",
        REFUSE,
        _team("Team review", "Anonymous"),
        still_there=True,
    ),
    MeetingCell(
        "organiser",
        "deletes (cancels)",
        "DELETE",
        "/alice/meetings/team.ics",
        ALLOW,
    ),
]


def restore_team(world_: World) -> None:
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


ROLE_NAMES = {**ROLES, "organiser": "alice"}


@pytest.mark.parametrize("cell", MEETING_CELLS, ids=lambda c: f"{c.role} {c.action}")
def test_meeting_role_matrix(world, cell):
    world_, results = world
    restore_team(world_)
    organisers_copy = world_.call("GET", "/alice/meetings/team.ics")
    before = world_.fingerprint()
    headers = {"Destination": world_.server.url + cell.destination} if cell.destination else {}
    if cell.method == "PUT":
        headers["Content-Type"] = "text/calendar"
    login = ROLE_NAMES[cell.role]
    answer = world_.call(cell.method, cell.path, cell.body, user=login, headers=headers)
    changed = world_.fingerprint() != before
    outcome = verdict(cell.rule, answer.status, leaks(login, answer.body), changed, "PUT")
    problems = [] if outcome == "ok" else [outcome]
    after = world_.call("GET", "/alice/meetings/team.ics")
    if cell.still_there and after.status != 200:
        problems.append(f"the organiser's meeting is gone ({after.status})")
    elif cell.rule == REFUSE and after.body != organisers_copy.body:
        problems.append("the organiser's meeting changed")
    outcome = "; ".join(problems) or "ok"
    results.add(
        cell.role, f"meeting: {cell.action}", cell.method, cell.rule, answer.status, outcome
    )
    assert outcome == "ok", f"{cell}: {answer}"
