"""The timed operations. Each checks its response and returns the elapsed seconds.

A side (:class:`Side`) is one server with what the operations need to remember
(sync token, counters). Operations run one untimed warm-up, then R timed repeats.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections.abc import Callable
from dataclasses import dataclass

from bench import data, reports
from bench.servers import CALENDAR
from bench.wsgi import Client


class CheckFailed(RuntimeError):
    """A response that has the right status but the wrong content."""


@dataclass
class Side:
    client: Client
    events: list[data.Event]
    anchor: dt.date
    item_count: int = 0
    sync_token: str | None = None
    puts: int = 0
    changes: int = 0
    last_query: reports.Multistatus | None = None

    @property
    def name(self) -> str:
        return self.client.name


def month_window(anchor: dt.date) -> tuple[str, str]:
    """The calendar month containing the anchor (the middle of the span), UTC."""
    first = anchor.replace(day=1)
    following = (first + dt.timedelta(days=32)).replace(day=1)
    return first.strftime("%Y%m%dT000000Z"), following.strftime("%Y%m%dT000000Z")


def _fail(side: Side, what: str) -> CheckFailed:
    return CheckFailed(f"{side.name}: {what}")


def _multistatus(side: Side, body: bytes) -> reports.Multistatus:
    try:
        return reports.parse_multistatus(body)
    except Exception as exc:  # noqa: BLE001 - report the body that did not parse
        raise _fail(side, f"unreadable multistatus ({exc}): {body[:500]!r}") from exc


def _require_props(side: Side, ms: reports.Multistatus, props: tuple[str, ...], op: str) -> None:
    for entry in ms.entries:
        missing = [p for p in props if p not in entry.props]
        if missing:
            raise _fail(
                side,
                f"{op}: {entry.href} lacks {missing} (failed: {entry.failed}, "
                f"status {entry.status})",
            )


def _items(ms: reports.Multistatus) -> list[reports.Entry]:
    """Entries naming calendar objects (not the collection itself)."""
    return [e for e in ms.entries if e.href.rstrip("/") != CALENDAR.rstrip("/")]


# --------------------------------------------------------------------------- operations


def calendar_query_month(side: Side) -> float:
    start, end = month_window(side.anchor)
    r = side.client.request(
        "REPORT",
        CALENDAR,
        reports.calendar_query(start, end),
        headers={"Depth": "1", "Content-Type": "application/xml"},
        expect=(207,),
    )
    ms = _multistatus(side, r.body)
    _require_props(side, ms, ("getetag", "calendar-data"), "calendar-query")
    if not ms.entries:
        raise _fail(side, f"calendar-query {start}..{end} found nothing")
    side.last_query = ms
    return r.elapsed


def sync_collection_initial(side: Side) -> float:
    r = side.client.request(
        "REPORT",
        CALENDAR,
        reports.sync_collection(""),
        headers={"Content-Type": "application/xml"},
        expect=(207,),
    )
    ms = _multistatus(side, r.body)
    _require_props(side, ms, ("getetag",), "sync-collection (initial)")
    if len(_items(ms)) != side.item_count or not ms.sync_token:
        raise _fail(
            side,
            f"initial sync-collection listed {len(_items(ms))} objects, expected "
            f"{side.item_count} (token {ms.sync_token!r})",
        )
    return r.elapsed


def sync_collection_incremental(side: Side) -> float:
    """Change one event (untimed PUT), then time the sync-collection since the last token."""
    if side.sync_token is None:
        r = side.client.request(
            "REPORT",
            CALENDAR,
            reports.sync_collection(""),
            headers={"Content-Type": "application/xml"},
            expect=(207,),
        )
        side.sync_token = _multistatus(side, r.body).sync_token
    side.changes += 1
    victim = side.events[(side.changes * 7919) % len(side.events)]
    changed = victim.ics.replace("\r\nSUMMARY:", f"\r\nSUMMARY:[changed {side.changes}] ", 1)
    side.client.request(
        "PUT",
        CALENDAR + victim.href,
        changed,
        headers={"Content-Type": "text/calendar; charset=utf-8"},
        expect=(201, 204),
    )
    r = side.client.request(
        "REPORT",
        CALENDAR,
        reports.sync_collection(side.sync_token or ""),
        headers={"Content-Type": "application/xml"},
        expect=(207,),
    )
    ms = _multistatus(side, r.body)
    hrefs = {e.href for e in ms.entries}
    if CALENDAR + victim.href not in hrefs:
        raise _fail(side, f"incremental sync-collection misses the changed {victim.href}: {hrefs}")
    if len(ms.entries) > 5:
        raise _fail(
            side,
            f"incremental sync-collection listed {len(ms.entries)} entries "
            "after one change (a full resync?)",
        )
    _require_props(side, ms, ("getetag",), "sync-collection (incremental)")
    side.sync_token = ms.sync_token
    return r.elapsed


def propfind_depth1(side: Side) -> float:
    r = side.client.request(
        "PROPFIND",
        CALENDAR,
        reports.propfind("getetag", "getcontenttype"),
        headers={"Depth": "1", "Content-Type": "application/xml"},
        expect=(207,),
    )
    ms = _multistatus(side, r.body)
    _require_props(side, ms, ("getcontenttype",), "PROPFIND")
    _require_props(side, reports.Multistatus(_items(ms), None), ("getetag",), "PROPFIND")
    if len(_items(ms)) != side.item_count:
        raise _fail(
            side, f"PROPFIND Depth 1 listed {len(_items(ms))} objects, expected {side.item_count}"
        )
    return r.elapsed


def multiget_hrefs(events: list[data.Event], count: int = 100) -> list[str]:
    step = max(1, len(events) // count)
    return [CALENDAR + ev.href for ev in events[::step][:count]]


def multiget_100(side: Side) -> float:
    hrefs = multiget_hrefs(side.events)
    r = side.client.request(
        "REPORT",
        CALENDAR,
        reports.multiget(hrefs),
        headers={"Depth": "1", "Content-Type": "application/xml"},
        expect=(207,),
    )
    ms = _multistatus(side, r.body)
    _require_props(side, ms, ("getetag", "calendar-data"), "calendar-multiget")
    if sorted(e.href for e in ms.entries) != sorted(hrefs):
        raise _fail(side, f"calendar-multiget answered {len(ms.entries)} of {len(hrefs)} hrefs")
    return r.elapsed


def put(side: Side) -> float:
    side.puts += 1
    uid = f"bench-put-{side.puts:04d}"
    ics = data.extra_event(uid, side.anchor, minutes=side.puts)
    r = side.client.request(
        "PUT",
        f"{CALENDAR}{uid}.ics",
        ics,
        headers={"Content-Type": "text/calendar; charset=utf-8", "If-None-Match": "*"},
        expect=(201,),
    )
    side.item_count += 1
    return r.elapsed


def options(side: Side) -> float:
    r = side.client.request("OPTIONS", CALENDAR, expect=(200,))
    if "calendar-access" not in r.headers.get("DAV", ""):
        raise _fail(side, f"OPTIONS without calendar-access in DAV header: {r.headers}")
    return r.elapsed


OPERATIONS: dict[str, Callable[[Side], float]] = {
    "calendar_query_month": calendar_query_month,
    "sync_collection_incremental": sync_collection_incremental,
    "sync_collection_initial": sync_collection_initial,
    "propfind_depth1": propfind_depth1,
    "multiget_100": multiget_100,
    "put": put,
    "options": options,
}

# Read-only operations first, then those that change the calendar.
RUN_ORDER = (
    "options",
    "calendar_query_month",
    "propfind_depth1",
    "multiget_100",
    "sync_collection_initial",
    "sync_collection_incremental",
    "put",
)


def measure(op: Callable[[Side], float], side: Side, repeat: int) -> float:
    """Median milliseconds of ``repeat`` runs after one untimed warm-up."""
    op(side)
    return statistics.median(op(side) for _ in range(repeat)) * 1000.0


# --------------------------------------------------------------------------- agreement


def query_difference(bridge: Side, radicale: Side) -> list[str]:
    """How the two servers' month query answers differ (hrefs and UIDs); [] if they agree."""

    def summary(side: Side) -> tuple[set[str], set[str]]:
        assert side.last_query is not None
        entries = side.last_query.entries
        hrefs = {e.href for e in entries}
        uids = {reports.uid_of(e.props.get("calendar-data", "")) or "?" for e in entries}
        return hrefs, uids

    (bh, bu), (rh, ru) = summary(bridge), summary(radicale)
    problems = []
    for what, b, r in (("hrefs", bh, rh), ("UIDs", bu, ru)):
        if b != r:
            only_b, only_r = sorted(b - r), sorted(r - b)
            problems.append(
                f"{what}: bridge {len(b)}, radicale {len(r)}; only in bridge ({len(only_b)}): "
                f"{only_b[:20]}; only in radicale ({len(only_r)}): {only_r[:20]}"
            )
    return problems
