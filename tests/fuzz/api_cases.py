"""Hostile HTTP requests for every route of the HTTP API (tests/fuzz/test_api_campaign.py).

A case is raw bytes on the wire, so nothing a client library would refuse to send is out
of reach: bad UTF-8 in paths and bodies, oversized bodies, bad JSON, huge numbers, dates
no calendar holds, path tricks, floods of headers. ``fixed_cases()`` sends each hostile
kind to each route; ``json_bodies()`` draws (hypothesis) meeting bodies of hostile values.

``protocol`` marks the cases aiohttp's HTTP parser refuses before any route runs (a
header over 8190 bytes, too many headers, a Content-Length no integer holds): they must
get a 4xx, but the parser's own plain-text message, not our JSON error.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from hypothesis import strategies as st

from tests.support.api_client import KEYS

ADMIN = f"Bearer {KEYS['crm'][0]}"
ALICE = f"Bearer {KEYS['alice'][0]}"
UID = "{uid}"  # a seeded meeting of alice's
BINDING = "{binding_id}"


@dataclass
class Case:
    kind: str
    method: str
    path: str  # as sent (bytes allowed after encoding: latin-1 round trip)
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    protocol: bool = False

    def describe(self) -> str:
        shown = self.body[:300]
        return f"[{self.kind}] {self.method} {self.path[:200]} {list(self.headers)[:5]} {shown!r}"


#: (method, path, who) of every route; who: the Authorization that reaches the handler.
ROUTES = [
    ("POST", "/api/users/alice/meetings", ADMIN),
    ("GET", "/api/users/alice/meetings", ADMIN),
    ("GET", f"/api/meetings/{UID}", ADMIN),
    ("PATCH", f"/api/meetings/{UID}", ALICE),
    ("PUT", f"/api/meetings/{UID}", ADMIN),
    ("DELETE", f"/api/meetings/{UID}", ALICE),
    ("GET", f"/api/meetings/{UID}/invite/preview", ALICE),
    ("GET", f"/api/meetings/{UID}/invite", ADMIN),
    ("POST", f"/api/meetings/{UID}/invite", ALICE),
    ("POST", f"/api/meetings/{UID}/invite/update", ADMIN),
    ("POST", f"/api/meetings/{UID}/invite/cancel", ALICE),
    ("GET", "/api/users/alice/bindings", ADMIN),
    ("GET", "/api/users/alice/bindings/google", ADMIN),
    ("POST", "/api/users/alice/bindings/google/sync", ALICE),
    ("GET", "/api/openapi.json", ADMIN),
    ("GET", "/status", ADMIN),
    ("GET", "/status/rows", ADMIN),
    ("GET", "/status.json", ADMIN),
    ("POST", f"/status/bindings/{BINDING}/sync", ADMIN),
    ("GET", "/metrics", ADMIN),
    ("GET", "/health", ""),
    ("GET", "/ready", ""),
    ("POST", "/webhooks/google", ""),
    ("POST", "/webhooks/graph", ""),
    ("POST", "/webhooks/exchange", ""),
]

START, END = "2026-12-03T10:00:00+01:00", "2026-12-03T11:00:00+01:00"


def _meeting(**fields: object) -> bytes:
    body = {"subject": "Fuzz", "start": START, "end": END, **fields}
    return json.dumps(body).encode()


BAD_DATES = [
    "2026-13-45T10:00:00Z",
    "0000-01-01T00:00:00Z",
    "0001-01-01T00:00:00+01:00",  # before year 1 in UTC
    "9999-12-31T23:00:00-14:00",  # after year 9999 in UTC
    "2026-12-03T10:00:00",  # no offset
    "2026-12-03T25:61:61Z",
    "2026-12-03T10:00:00+99:00",
    "١٢٠٢-١٢-٠٣T10:00:00Z",
    "2026-12-03T10:00:00\x00Z",
    "9" * 70,
    "",
]

#: Bodies with something wrong in them (each must be a 4xx on every route).
HOSTILE_BODIES: dict[str, bytes] = {
    "oversized body": b'{"subject": "' + b"x" * 300_000 + b'"}',
    "bad JSON": b'{"subject": "a", ',
    "bad UTF-8": b'{"subject": "\xff\xfe\xc0\xaf"}',
    "lone surrogate": _meeting(subject="\ud800"),
    "NUL in text": _meeting(subject="a\x00b"),
    "huge integer": b'{"subject": ' + b"9" * 5000 + b"}",
    "huge float": b'{"start": 1e999}',
    "NaN": b'{"subject": NaN}',
    "deep nesting": b"[" * 100_000,
    "wrong types": _meeting(all_day="yes", private=[], busy=3, internal_attendees="bob"),
    "many people": _meeting(
        external_participants=[{"email": f"p{n}@x.example"} for n in range(600)]
    ),
    "unknown field": _meeting(sequence=10**30),
    "bad rrule": _meeting(
        recurrence={"rrule": "FREQ=SECONDLY;BYSECOND=" + ",".join(map(str, range(60)))}
    ),
    "end before start": _meeting(start=END, end=START),
    "not an object": b'"just a string"',
    **{f"bad date {n}": _meeting(start=d) for n, d in enumerate(BAD_DATES)},
    "bad exdate": _meeting(recurrence={"rrule": "FREQ=DAILY;COUNT=3", "exdates": [BAD_DATES[3]]}),
}

PATH_TRICKS = [
    "/api/meetings/..%2f..%2fusers%2fdave%2fmeetings",
    "/api/meetings/%2e%2e",
    "/api/meetings/" + "a" * 5000,
    "/api/meetings/%00",
    "/api/meetings/%ff%fe",
    "/api/users/%ff/meetings?start=2026-12-01T00:00:00Z&end=2026-12-31T00:00:00Z",
    "/api/users/alice/../dave/meetings",
    "/api/users/alice/meetings?start=" + "9" * 5000 + "&end=x",
    "/api/users/alice/meetings?start=0001-01-01T00:00:00Z&end=9999-12-31T00:00:00Z",
    "/api/users/alice/meetings?start=2026-12-01T00:00:00Z&end=2026-12-31T00:00:00Z&limit="
    + "9" * 40,
    "/api/users/alice/meetings?start=2026-12-01T00:00:00Z&end=2026-12-31T00:00:00Z&offset=-1",
    "/api/users/alice/bindings/%ff%fe",
    # before year 1 once in UTC (was a 500), a NUL that fromisoformat let through (was 200)
    "/api/users/alice/meetings?start=0001-01-01T00:00:00%2B01:00&end=0001-01-02T00:00:00Z",
    "/api/users/alice/meetings?start=2026-12-01T00:00:00%00Z&end=2026-12-31T00:00:00Z",
    "/api/users/" + "a" * 3000 + "/bindings",
    "/status/bindings/99999999999999999999999999/sync",
    "/status/bindings/-1/sync",
    "/status/bindings/%d9%a3/sync",
    "/webhooks/%2e%2e/health",
    "/webhooks/" + "k" * 3000,
    "//status",
    "/status/../metrics",
]


def fixed_cases() -> list[Case]:
    cases = []
    for method, path, who in ROUTES:
        auth = {"Authorization": who} if who else {}
        json_type = {"Content-Type": "application/json", **auth}
        if method in ("POST", "PUT", "PATCH") or path.startswith("/webhooks/"):
            for kind, body in HOSTILE_BODIES.items():
                cases.append(Case(kind, method, path, body, dict(json_type)))
            cases.append(
                Case(
                    "wrong content type",
                    method,
                    path,
                    _meeting(),
                    {**auth, "Content-Type": "text/plain"},
                )
            )
        cases.append(Case("bad key", method, path, b"", {"Authorization": "Bearer \udcff\udcfe"}))
        cases.append(Case("bad basic", method, path, b"", {"Authorization": "Basic \udcff=="}))
        cases.append(Case("basic not base64", method, path, b"", {"Authorization": "Basic %%%"}))
        cases.append(Case("huge key", method, path, b"", {"Authorization": "Bearer " + "k" * 8000}))
        cases.append(
            Case(
                "header flood",
                method,
                path,
                b"",
                {**auth, **{f"X-F{n}": "v" for n in range(200)}},
                protocol=True,
            )
        )
        cases.append(
            Case("long header", method, path, b"", {**auth, "X-Long": "v" * 9000}, protocol=True)
        )
        cases.append(
            Case(
                "content-length overflow",
                method,
                path,
                b"",
                {**auth, "Content-Length": "9" * 25},
                protocol=True,
            )
        )
        cases.append(Case("wrong method", "TRACE", path, b"", auth))
    google = {
        "X-Goog-Channel-ID": "c",
        "X-Goog-Resource-State": "exists",
        "X-Goog-Channel-Token": "t",
    }
    for number in ("9" * 5000, "-1", "1e9", "\udcff"):
        cases.append(
            Case(
                "google message number",
                "POST",
                "/webhooks/google",
                b"",
                {**google, "X-Goog-Message-Number": number},
            )
        )
    cases.append(
        Case(
            "graph unknown",
            "POST",
            "/webhooks/graph",
            json.dumps({"value": [{"subscriptionId": 10**20}]}).encode(),
            {"Content-Type": "application/json"},
        )
    )
    cases.append(
        Case(
            "ews entity",
            "POST",
            "/webhooks/exchange",
            b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "a">]><x>&a;</x>',
            {"Content-Type": "text/xml"},
        )
    )
    cases.append(
        Case(
            "ews deep", "POST", "/webhooks/exchange", b"<a>" * 100_000, {"Content-Type": "text/xml"}
        )
    )
    for path in PATH_TRICKS:
        method = "POST" if path.endswith("/sync") else "GET"
        cases.append(Case("path trick", method, path, b"", {"Authorization": ADMIN}))
    return cases


_TEXT = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["", "\x00", "\ud800", "\u202e", "😀" * 300, "a" * 1001, "<script>", "%s%n"]),
)
_NUMBER = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([10**4000, -(10**4000)]),
    st.floats(allow_nan=False, allow_infinity=False),
)
_DATE = st.one_of(
    st.sampled_from(BAD_DATES),
    st.datetimes().map(lambda d: d.isoformat()),
    st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat()),
    st.dates().map(lambda d: d.isoformat()),
)


def _nested(inner: st.SearchStrategy) -> st.SearchStrategy:
    return st.one_of(st.lists(inner, max_size=4), st.dictionaries(_TEXT, inner, max_size=4))


_VALUE = st.recursive(
    st.one_of(st.none(), st.booleans(), _NUMBER, _TEXT, _DATE), _nested, max_leaves=12
)
FIELDS = [
    "subject",
    "start",
    "end",
    "time_zone",
    "all_day",
    "location",
    "description",
    "internal_notes",
    "private",
    "busy",
    "organiser",
    "internal_attendees",
    "external_participants",
    "recurrence",
    "uid",
]


def _encode(value: object) -> bytes:
    text = json.dumps(value, ensure_ascii=True)  # lone surrogates and huge numbers as JSON
    return text.encode("ascii")


@st.composite
def json_bodies(draw: st.DrawFn) -> Case:
    """A meeting body for one of the writing REST routes: some fields right, some drawn
    from hostile values."""
    body: dict[str, object] = {"subject": "Fuzz", "start": START, "end": END}
    for name in draw(st.lists(st.sampled_from(FIELDS), max_size=5, unique=True)):
        body[name] = draw(st.one_of(_VALUE, _DATE) if name in ("start", "end") else _VALUE)
    method, path, who = draw(
        st.sampled_from(
            [r for r in ROUTES if r[0] in ("POST", "PUT", "PATCH") and r[1].startswith("/api/")]
        )
    )
    return Case(
        "drawn body",
        method,
        path,
        _encode(body),
        {"Authorization": who, "Content-Type": "application/json"},
    )
