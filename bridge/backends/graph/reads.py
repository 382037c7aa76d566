"""Reading events whole from Graph: a single event with its tags, or a series (master
with tags, and its instances), for many ids at once through JSON $batch."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from bridge.backends.base import BackendError, RemoteEvent
from bridge.backends.graph import wire
from bridge.backends.graph.http import GraphClient, Reply, raise_for


def series_until(master: dict[str, Any], until: datetime) -> datetime:
    """How far a series' instances are read: to ``until``, or a year past its start for
    a series that starts beyond it."""
    return max(until, wire.parse_time(master["start"]) + timedelta(days=400))


class Reader:
    """Reads for one mailbox (``base``: "/users/<mailbox>")."""

    def __init__(self, http: GraphClient, base: str, page_size: int) -> None:
        self.http, self.base, self.page_size = http, base, page_size
        #: id -> whether a write to it would mail someone (the user organises it and it
        #: has attendees), as last read
        self.noisy: dict[str, bool] = {}

    def event_path(self, remote_id: str) -> str:
        return f"{self.base}/events/{quote(remote_id, safe='')}"

    def get_part(self, remote_id: str) -> dict[str, Any]:
        return {"method": "GET", "url": f"{self.event_path(remote_id)}?$expand={wire.EXPAND_TAGS}"}

    def instances_part(self, master: dict[str, Any], until: datetime) -> dict[str, Any]:
        start = wire.parse_time(master["start"]) - timedelta(days=1)
        until = series_until(master, until)
        query = (
            f"startDateTime={quote(start.isoformat())}&endDateTime={quote(until.isoformat())}"
            f"&$top={self.page_size}"
        )
        return {"method": "GET", "url": f"{self.event_path(master['id'])}/instances?{query}"}

    def items(self, ids: Sequence[str]) -> dict[str, dict[str, Any] | None]:
        """Each id's event with its tags (None when Graph answers 404)."""
        replies = self.http.batch([self.get_part(i) for i in ids])
        out: dict[str, dict[str, Any] | None] = {}
        for remote_id, reply in zip(ids, replies, strict=True):
            if reply.status == 404:
                out[remote_id] = None
                continue
            raise_for(reply, "GET event")
            out[remote_id] = reply.body
        return out

    def all_instances(self, reply: Reply) -> list[dict[str, Any]]:
        """Every instance of an /instances answer, its further pages followed."""
        raise_for(reply, "GET instances")
        body = reply.body or {}
        values = list(body.get("value", []))
        link = body.get("@odata.nextLink")
        while link:
            page = self.http.call("GET", link)
            raise_for(page, "GET instances")
            values += (page.body or {}).get("value", [])
            link = (page.body or {}).get("@odata.nextLink")
        return values

    def whole(self, items: dict[str, dict[str, Any]], until: datetime) -> dict[str, RemoteEvent]:
        """Each read item as a RemoteEvent; masters get their instances (one $batch)."""
        masters = [i for i, item in items.items() if item.get("type") == "seriesMaster"]
        replies = self.http.batch([self.instances_part(items[i], until) for i in masters])
        instances = {i: self.all_instances(r) for i, r in zip(masters, replies, strict=True)}
        out: dict[str, RemoteEvent] = {}
        for remote_id, item in items.items():
            self.noisy[remote_id] = wire.organises_meeting(item)
            try:
                if remote_id in instances:
                    listed = series_until(item, until)
                    out[remote_id] = wire.series_from_graph(item, instances[remote_id], listed)
                else:
                    out[remote_id] = wire.single_from_graph(item)
            except (KeyError, ValueError) as error:
                raise BackendError(
                    f"Microsoft Graph: event {remote_id} unreadable: {error}"
                ) from None
        return out

    def events(self, ids: Sequence[str], until: datetime) -> dict[str, RemoteEvent | None]:
        """Each id's event whole (None when gone)."""
        found = self.items(ids)
        live = {i: item for i, item in found.items() if item is not None}
        whole = self.whole(live, until)
        return {i: whole.get(i) for i in ids}
