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

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.support import dav
from tests.support.http import Response
from tests.support.matrix_world import (
    ALARM,
    BOOKED,
    CARD,
    CARD_TYPE,
    GENERIC_EVENT,
    MARKERS,
    MEETINGS,
    PRIVATE_MEETING,
    Results,
    World,
    restore_team,
    team_with,
)
from tests.support.module_server import BACKENDS, running_server

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


@pytest.fixture(scope="module", params=BACKENDS)
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[World, Results]]:
    directory = tmp_path_factory.mktemp(f"matrix-{request.param}")
    # Radicale's login cache (bcrypt once per user, not once per cell) and no delay on
    # refusals (an anti-brute-force pause of 0.5-1.5 s that Radicale adds to 401/403).
    extra = '[server.radicale.auth]\ncache_logins = "True"\ndelay = "0"\n'
    with running_server(request.param, directory, server_extra=extra) as server:
        world = World(server, list(ROLES))
        world.restore_all()
        targets = {name: t.path for name, t in TARGETS.items()}
        results = Results(request.param, list(ROLES), targets, METHODS)
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
        world_.restore_after(target.path)
    assert outcome == "ok", f"{role} {method} {path}: rule {rule}, {answer}"


# -- meeting-level rules (attendee rights, booking for others, MOVE of meetings) ---------
# These rules are being built on another branch; the cells are written here so that the
# merged code is held to them.


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


ALICE, CAROL = "/alice/meetings/team.ics", "/carol/meetings/team.ics"
KEPT = True  # after the cell, the organiser's copy still exists

MEETING_CELLS = [
    MeetingCell(*row[:6], destination=row[6], still_there=row[7])
    for row in [
        # role, action, method, path, rule, body, MOVE destination, organiser's copy kept
        ("organiser", "edits SUMMARY", "PUT", ALICE, ALLOW,
         team_with("Team review", "Team review (new title)"), "", False),
        ("attendee", "edits SUMMARY", "PUT", CAROL, REFUSE,
         team_with("Team review", "Carol's title"), "", KEPT),
        ("attendee", "moves DTSTART", "PUT", CAROL, REFUSE,
         team_with("DTSTART:20261210T100000Z", "DTSTART:20261210T090000Z"), "", KEPT),
        ("attendee", "takes over ORGANIZER", "PUT", CAROL, REFUSE,
         team_with("ORGANIZER:mailto:alice@", "ORGANIZER:mailto:carol@"), "", KEPT),
        ("attendee", "changes CLASS", "PUT", CAROL, REFUSE,
         team_with("CLASS:PUBLIC", "CLASS:PRIVATE"), "", KEPT),
        ("attendee", "answers (own PARTSTAT)", "PUT", CAROL, ALLOW,
         team_with("PARTSTAT=NEEDS-ACTION:mailto:carol@", "PARTSTAT=ACCEPTED:mailto:carol@"),
         "", False),
        ("attendee", "adds an alarm", "PUT", CAROL, ALLOW,
         team_with("END:VEVENT", ALARM + "END:VEVENT"), "", False),
        ("attendee", "deletes (declines)", "DELETE", CAROL, ALLOW, "", "", KEPT),
        ("colleague", "books for another user without can_book_for", "PUT",
         "/bob/meetings/booked.ics", REFUSE, BOOKED, "", False),
        ("stranger", "books for another user without can_book_for", "PUT",
         "/dave/meetings/booked.ics", REFUSE, BOOKED, "", False),
        ("organiser", "renames inside the meetings calendar", "MOVE", ALICE, ALLOW, "",
         "/alice/meetings/team-renamed.ics", False),
        ("organiser", "moves the meeting to another calendar", "MOVE", ALICE, REFUSE, "",
         "/alice/cal2/team.ics", KEPT),
        ("attendee", "renames inside the meetings calendar", "MOVE", CAROL, ALLOW, "",
         "/carol/meetings/team-renamed.ics", False),
        ("attendee", "moves the meeting to another calendar", "MOVE", CAROL, REFUSE, "",
         "/carol/other/team.ics", KEPT),
        ("organiser", "moves the meeting to another user's calendar", "MOVE", ALICE, REFUSE,
         "", "/dave/meetings/team.ics", KEPT),
        ("anonymous", "edits SUMMARY", "PUT", ALICE, REFUSE,
         team_with("Team review", "Anonymous"), "", KEPT),
        ("organiser", "deletes (cancels)", "DELETE", ALICE, ALLOW, "", "", False),
    ]
]  # fmt: skip


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
