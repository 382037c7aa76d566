"""One fuzz case = one HTTP request as one of the example users, drawn by hypothesis."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import quote

from hypothesis import strategies as st

from tests.fuzz import ical_cases, xml_cases
from tests.fuzz.ical_cases import USERS, Body

SEEDED_HREFS = (
    "private-seed.ics",
    "public-seed.ics",
    "occurrence-seed.ics",
    "dave-seed.ics",
    "series.ics",
    "todo.ics",
)
ORIGIN = "{origin}"  # replaced by the server's own scheme://host:port when sent
WRITES = frozenset({"PUT", "DELETE", "PROPPATCH", "MKCALENDAR", "MKCOL", "MOVE", "COPY"})


@dataclass
class Case:
    kind: str  # for the statistics: "PUT ical", "REPORT xml", ...
    user: str
    method: str
    path: str  # as sent on the wire (percent-encoded)
    body: Body
    headers: dict[str, str] = field(default_factory=dict)
    known: set[str] = field(default_factory=set)

    def describe(self, limit: int = 1500) -> str:
        raw = self.body.text
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
        if len(text) > limit:
            text = f"{text[:limit]}... [{len(text)} characters in all]"
        headers = "".join(f"{k}: {v}\n" for k, v in self.headers.items())
        known = f" (known classes: {', '.join(sorted(self.known))})" if self.known else ""
        return f"{self.method} {self.path} as {self.user}{known}\n{headers}\n{text}"


def wire(path: str) -> str:
    return quote(path, safe="/%:@")


def _unsanitised(path: str) -> bool:
    """'..' or '.' segments or '//' (a known failure class, see outcome.KNOWN)."""
    segments = path.replace("%2e", ".").split("/")
    return "//" in path or any(s in (".", "..") for s in segments)


@st.composite
def collections(draw: st.DrawFn, user: str) -> tuple[str, set[str]]:
    """A collection path the user may or may not own (unencoded), and its known classes."""
    other = draw(st.sampled_from(USERS))
    kind = draw(
        st.sampled_from(
            ["meetings"] * 4 + ["client"] * 3 + ["colleague"] * 2 + ["other", "odd", "home"]
        )
    )
    if kind == "meetings":
        return f"/{user}/meetings/", set()
    if kind == "client":
        name = draw(st.sampled_from(["work", "tasks", "fz-cal-0", "fz-cal-1", "Kalender ü"]))
        return f"/{user}/{name}/", set()
    if kind == "colleague":
        return f"/{user}/meetings-{other}/", set()
    if kind == "other":
        return f"/{other}/{draw(st.sampled_from(['meetings', 'work', 'tasks']))}/", set()
    if kind == "home":
        return draw(st.sampled_from([f"/{user}/", "/", f"/{other}/"])), set()
    odd = draw(
        st.sampled_from(
            [
                f"/{user}/a/b/c/",
                f"/{user}/meetings/sub/",
                f"/{user}/../{other}/meetings/",
                f"/{user}/meetings/../../{other}/meetings/",
                f"/{user}/%2e%2e/{other}/",
                f"/{user}//meetings//",
                f"/{user}/{'n' * 300}/",
                f"/{user}/meetings-/",
                f"/{user}/📅 ✓/",
            ]
        )
    )
    known = {"dotdot"} if _unsanitised(odd) else set()
    return odd, known | ({"long-value"} if "n" * 300 in odd else set())


@st.composite
def object_name(draw: st.DrawFn, body: Body | None = None) -> tuple[str, set[str]]:
    kind = draw(st.sampled_from(["fresh", "fresh", "reused", "uid", "seeded", "odd"]))
    if kind == "fresh":
        return f"fz-{draw(st.uuids()).hex[:12]}.ics", set()
    if kind == "reused":
        return f"fz-{draw(st.integers(0, 5))}.ics", set()
    if kind == "uid" and body is not None and body.uid:
        name = body.uid + ".ics"
        return name, {"long-value"} if len(name.encode()) > 255 else set()
    if kind == "seeded":
        return draw(st.sampled_from(SEEDED_HREFS)), set()
    name = draw(
        st.sampled_from(
            [
                "é ü.ics",
                "a%2Fb.ics",
                "..",
                ".",
                "x" * 300 + ".ics",
                "n.vcf",
                "no-suffix",
                "semi;colon.ics",
                "q?x=1.ics",
            ]
        )
    )
    known = {"dotdot"} if name in (".", "..") else set()
    return name, known | ({"long-value"} if len(name) > 255 else set())


def _writes_seed_as_attendee(user: str, path: str) -> bool:
    """An attendee writing a seeded meeting of someone else (a known failure class)."""
    return (user, path.rsplit("/", 1)[-1]) in {
        ("carol", "private-seed.ics"),
        ("bob", "public-seed.ics"),
    } and path.startswith(f"/{user}/meetings/")


@st.composite
def object_cases(draw: st.DrawFn, user: str) -> Case:
    collection, known = draw(collections(user))
    method = draw(st.sampled_from(["PUT"] * 6 + ["GET", "HEAD", "DELETE", "MOVE", "COPY"]))
    body = draw(ical_cases.calendars()) if method == "PUT" else Body("")
    name, k = draw(object_name(body))
    path = collection + name
    headers: dict[str, str] = {}
    if method == "PUT":
        choice = draw(st.sampled_from(["none"] * 5 + ["if-none-match", "if-match", "type"]))
        if choice == "if-none-match":
            headers["If-None-Match"] = "*"
        elif choice == "if-match":
            headers["If-Match"] = draw(st.sampled_from(['"nope"', "*", "garbage"]))
        elif choice == "type":
            headers["Content-Type"] = draw(
                st.sampled_from(["text/plain", "application/xml", "text/calendar; charset=latin1"])
            )
    if method in ("MOVE", "COPY"):
        target, k2 = draw(collections(user))
        dest_name, k3 = draw(object_name())
        host = draw(st.sampled_from(["same", "same", "same", "other", "none"]))
        if host == "other":
            known = known | {"move-other-host"}
            headers["Destination"] = "http://elsewhere.invalid" + wire(target + dest_name)
        elif host == "same":
            headers["Destination"] = ORIGIN + wire(target + dest_name)
        headers["Overwrite"] = draw(st.sampled_from(["T", "F"]))
        known = known | k2 | k3
    if method in WRITES and _writes_seed_as_attendee(user, path):
        known = known | {"attendee-edit"}
    return Case(f"{method} object", user, method, wire(path), body, headers, known | k | body.known)


@st.composite
def collection_cases(draw: st.DrawFn, user: str) -> Case:
    collection, known = draw(collections(user))
    method = draw(
        st.sampled_from(
            ["PROPFIND"] * 4
            + ["REPORT"] * 6
            + ["PROPPATCH", "MKCALENDAR", "MKCOL", "DELETE", "OPTIONS", "GET"]
        )
    )
    hrefs = [
        f"/{u}/{c}/{h}"
        for u in USERS
        for c in ("meetings", "meetings-bob", "work")
        for h in SEEDED_HREFS
    ] + ["/", "http://elsewhere.invalid/x", "/alice/../bob/meetings/private-seed.ics"]
    hostile = draw(st.integers(0, 7)) == 0 and method in (
        "PROPFIND",
        "REPORT",
        "PROPPATCH",
        "MKCALENDAR",
    )
    if hostile:
        body = draw(xml_cases.hostile())
    elif method == "PROPFIND":
        body = draw(xml_cases.propfind())
    elif method == "REPORT":
        body = draw(xml_cases.report(hrefs))
    elif method == "PROPPATCH":
        body = draw(xml_cases.proppatch())
    elif method == "MKCALENDAR":
        body = draw(xml_cases.mkcalendar())
    else:
        body = Body("")
    if "/alice/../bob" in str(body.text):
        known = known | {"dotdot"}
    headers = {
        "Content-Type": draw(st.sampled_from(["application/xml; charset=utf-8", "text/xml"]))
    }
    if method in ("PROPFIND", "REPORT"):
        headers["Depth"] = draw(st.sampled_from(["0", "1", "1", "infinity", "2", "x"]))
    if method == "DELETE" and collection == "/":
        known = known | {"delete-root"}
    kind = f"{method} collection"
    if method == "REPORT":
        kind = "REPORT " + _report_kind(body)
    if hostile:
        kind = f"{method} hostile XML"
    return Case(kind, user, method, wire(collection), body, headers, known | body.known)


def _report_kind(body: Body) -> str:
    text = body.text if isinstance(body.text, str) else ""
    for needle in (
        "calendar-query",
        "calendar-multiget",
        "sync-collection",
        "free-busy-query",
        "principal-property-search",
    ):
        if needle in text:
            return needle + (" expand" if "expand " in text else "")
    return "hostile"


@st.composite
def cases(draw: st.DrawFn) -> Case:
    user = draw(st.sampled_from(USERS))
    if draw(st.booleans()):
        return draw(object_cases(user))
    return draw(collection_cases(user))
