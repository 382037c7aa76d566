"""The pull: /users/{id}/calendarView/delta, page by page, as ChangePages.

The window is frozen in the deltaLink, so the cursor we store is our own JSON: the
deltaLink and the window it was opened with. That window is the asked one widened by
``rebaseline_days`` on each side; when the asked window no longer fits inside it, the pull
re-baselines: a new delta from scratch over the new window, reporting every event in it
(the engine matches them by link and tag, so nothing is duplicated) and no deletion (an
event that merely left the window is not reported at all).

Delta lists occurrences and exceptions, not series masters, and cannot $expand extended
properties: every changed event is read again whole ($batch of GETs with our tags
expanded, plus each series' instances), one RemoteEvent per series. An ``@removed`` entry
is checked with a GET: 404 is a ``Deleted``, anything still there is reported as it is
(it moved out of the window, or is a cancelled occurrence of a series still alive).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from bridge.backends.base import (
    BackendError,
    Change,
    ChangePage,
    Deleted,
    NotFound,
    RemoteEvent,
    ResyncRequired,
    Window,
)
from bridge.backends.graph import occurrences as occ
from bridge.backends.graph.http import GraphClient, raise_for
from bridge.backends.graph.reads import Reader


@dataclass(frozen=True)
class Cursor:
    link: str
    start: datetime
    end: datetime
    #: occurrence group (bridge.backends.graph.occurrences) -> how far its copies reach
    groups: dict[str, datetime] = field(default_factory=dict)

    def dump(self) -> str:
        data: dict[str, Any] = {
            "v": 1,
            "link": self.link,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
        }
        if self.groups:
            data["groups"] = {g: until.isoformat() for g, until in sorted(self.groups.items())}
        return json.dumps(data)

    @classmethod
    def load(cls, text: str) -> Cursor:
        """The stored cursor; ResyncRequired when it is not one of ours."""
        try:
            data = json.loads(text)
            return cls(
                data["link"],
                datetime.fromisoformat(data["start"]),
                datetime.fromisoformat(data["end"]),
                {str(g): datetime.fromisoformat(u) for g, u in data.get("groups", {}).items()},
            )
        except (ValueError, KeyError, TypeError):
            raise ResyncRequired("Microsoft Graph: the stored delta cursor is unreadable") from None

    def covers(self, window: Window) -> bool:
        return self.start <= window.start and window.end <= self.end


#: ids written per mailbox (its Graph address) since its last pull, in this process
WRITTEN: dict[str, set[str]] = {}


class DeltaPull:
    """One pull of one mailbox."""

    def __init__(
        self, http: GraphClient, reader: Reader, base: str, page_size: int, slack: timedelta
    ) -> None:
        self.http, self.reader, self.base = http, reader, base
        self.page_size, self.slack = page_size, slack
        #: occurrence id -> series master id, from every delta page read by this backend
        #: (a cancelled occurrence comes as its own @removed id)
        self.masters: dict[str, str] = {}
        #: single events as this backend last wrote or read them: a delta entry at the same
        #: etag is that event (our own write coming back), no need to read it again
        self.known: dict[str, RemoteEvent] = {}
        #: ids written to this mailbox since the stored cursor (by any backend of the
        #: process): one created and deleted again before the next pull may not be
        #: listed at all, so those not listed are checked
        self.written: set[str] = WRITTEN.setdefault(http.url(base), set())
        #: occurrence groups whose copies the last pull listed -> how far each reaches
        #: (None: a marker from before the window slid)
        self.groups: dict[str, datetime | None] = {}

    def first_link(self, start: datetime, end: datetime) -> str:
        query = f"startDateTime={quote(start.isoformat())}&endDateTime={quote(end.isoformat())}"
        return f"{self.base}/calendarView/delta?{query}"

    def pages(self, cursor: str | None, window: Window) -> Iterator[ChangePage]:
        stored = Cursor.load(cursor) if cursor else None
        self.groups = {}
        if stored is not None and stored.covers(window):
            frozen, link, full = stored, stored.link, False
        else:  # first pull, or re-baseline before the frozen window drifts off the rules'
            start, end = window.start - self.slack, window.end + self.slack
            frozen, link, full = Cursor("", start, end), self.first_link(start, end), True
        seen: set[str] = set()
        while True:
            reply = self.http.call(
                "GET", link, headers={"Prefer": f"odata.maxpagesize={self.page_size}"}
            )
            try:
                raise_for(reply, "calendarView/delta", mailbox=True)
            except NotFound as error:  # a deltaLink Graph no longer knows
                if stored is not None and not full:
                    raise ResyncRequired(str(error)) from None
                raise
            except ResyncRequired:
                if full:
                    raise BackendError(
                        "Microsoft Graph: a fresh delta was refused as expired"
                    ) from None
                raise
            body: dict[str, Any] = reply.body or {}
            changes = self._changes(body.get("value", []), frozen.end, seen, full)
            next_link = body.get("@odata.nextLink")
            if next_link:
                yield ChangePage(changes)
                link = next_link
                continue
            delta = body.get("@odata.deltaLink")
            if not delta:
                raise BackendError("Microsoft Graph: a delta page without nextLink or deltaLink")
            changes += self._unlisted(seen)
            yield ChangePage(changes, Cursor(delta, frozen.start, frozen.end).dump())
            return

    def _note_group(self, item: dict[str, Any]) -> None:
        cover = occ.cover_of(item)
        if cover is None:
            return
        group, until = cover
        known = self.groups.get(group)
        self.groups[group] = max(until, known) if until and known else (until or known)

    def _unlisted(self, seen: set[str]) -> list[Change]:
        """Deleted for each event we wrote that the delta did not list and Graph no longer
        has (made and deleted between two pulls)."""
        ids = sorted(self.written - seen)
        self.written.clear()
        if not ids:
            return []
        found = self.reader.items(ids)
        return [Deleted(i) for i in ids if found.get(i) is None]

    def _changes(
        self, items: list[dict[str, Any]], until: datetime, seen: set[str], full: bool
    ) -> list[Change]:
        wanted: list[str] = []  # ids to read whole: singles, masters
        removed: list[str] = []
        ready: list[Change] = []  # known at this etag already
        for item in items:
            item_id = str(item.get("id", ""))
            self.written.discard(item_id)
            if "@removed" in item:
                master = self.masters.get(item_id)
                if master:
                    wanted.append(master)
                elif not full:
                    removed.append(item_id)
                continue
            kind = item.get("type")
            known = self.known.get(item_id)
            if kind == "singleInstance" and known and known.etag == item.get("@odata.etag"):
                if item_id not in seen:
                    seen.add(item_id)
                    ready.append(known)
                continue
            if kind in ("occurrence", "exception") and item.get("seriesMasterId"):
                self.masters[item_id] = str(item["seriesMasterId"])
                wanted.append(str(item["seriesMasterId"]))
            else:
                wanted.append(item_id)
        order = [i for i in dict.fromkeys(wanted + removed) if i not in seen]
        if not order:
            return ready
        found = self.reader.items(order)
        out: list[Change] = ready
        live = {i: item for i, item in found.items() if item is not None}
        events = self.reader.whole(live, until)
        for remote_id in order:
            seen.add(remote_id)
            item = found.get(remote_id)
            if item is None:
                if remote_id in removed or remote_id in wanted:
                    out.append(Deleted(remote_id))
                continue
            if item.get("type") in ("occurrence", "exception") and item.get("seriesMasterId"):
                continue  # an id that turned out to be an instance: its master is listed
            if occ.marker_of(item):  # a copy of one occurrence: one-way, never a change
                self._note_group(item)
                continue
            out.append(events[remote_id])
        return out
