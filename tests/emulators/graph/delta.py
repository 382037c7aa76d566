"""calendarView/delta: snapshots paged by $skiptoken, state kept behind $deltatoken."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from . import events, query, rendering, times
from .call import Call, Reply
from .errors import GraphError
from .store import Mailbox, occurrence_id

Slot = tuple[str, str | None]  # (immutable id of the record, occurrence key or None)


@dataclass
class DeltaState:
    upn: str
    window: tuple[datetime, datetime]
    since: int | None  # mailbox seq covered; None before the first full sync
    generation: int
    seen: set[Slot] = field(default_factory=set)  # what the client holds as present
    ids: dict[Slot, tuple[str, str]] = field(default_factory=dict)  # slot -> (rest, immutable)


@dataclass
class Pages:
    upn: str
    generation: int
    items: list[dict[str, Any]]
    after: DeltaState  # becomes the deltatoken's state once the last page is read


class Delta:
    def __init__(self) -> None:
        self.tokens: dict[str, DeltaState] = {}
        self.pages: dict[str, Pages] = {}

    def gone(self) -> GraphError:
        return GraphError(
            410,
            "syncStateNotFound",
            "The sync state for this delta token no longer exists; start a full synchronization "
            "again.",
        )

    def handle(self, call: Call, box: Mailbox, base_url: str) -> Reply:
        q = call.query
        query.only(q, {"$skiptoken", "$deltatoken"})
        for name in ("$expand", "$select", "$filter", "$orderby", "$search", "$top"):
            if name in q or name.lower() in {k.lower() for k in q}:
                raise query.bad_query(f"{name} is not supported with change tracking over events.")
        size = query.page_size({}, call.prefer())
        view = call.view()
        link = f"{base_url}/{call.owner}/calendarView/delta"
        if "$skiptoken" in q:
            pages = self.pages.get(q["$skiptoken"])
            if pages is None or pages.upn != box.upn or pages.generation != box.generation:
                raise self.gone()
            return self.page(pages, size, link, q["$skiptoken"])
        if "$deltatoken" in q:
            state = self.tokens.get(q["$deltatoken"])
            if state is None or state.upn != box.upn or state.generation != box.generation:
                raise self.gone()
        else:
            state = DeltaState(box.upn, times.window(q), None, box.generation)
        pages = self.snapshot(box, state, view)
        token = secrets.token_urlsafe(24)
        self.pages[token] = pages
        return self.page(pages, size, link, token)

    def page(self, pages: Pages, size: int, link: str, token: str) -> Reply:
        chunk, rest = pages.items[:size], pages.items[size:]
        body: dict[str, Any] = {"@odata.context": "$metadata#Collection(event)", "value": chunk}
        if rest:
            following = secrets.token_urlsafe(24)
            self.pages[following] = Pages(pages.upn, pages.generation, rest, pages.after)
            body["@odata.nextLink"] = f"{link}?$skiptoken={following}"
        else:
            delta = secrets.token_urlsafe(24)
            self.tokens[delta] = pages.after
            body["@odata.deltaLink"] = f"{link}?$deltatoken={delta}"
        self.pages.pop(token, None)
        return Reply(200, body)

    def snapshot(self, box: Mailbox, state: DeltaState, view: events.View) -> Pages:
        since = state.since
        now_seen: set[Slot] = set()
        ids: dict[Slot, tuple[str, str]] = dict(state.ids)
        items: list[dict[str, Any]] = []
        for stored in box.events.values():
            for key in events.visible(box, stored, state.window):
                slot = (stored.immutable_id, key)
                now_seen.add(slot)
                ids[slot] = (
                    (stored.rest_id, stored.immutable_id)
                    if key is None
                    else (
                        occurrence_id(stored.rest_id, key),
                        occurrence_id(stored.immutable_id, key),
                    )
                )
                if since is None or slot not in state.seen or changed(stored, key, since):
                    items.append(rendering.render(box, stored, view, key=key))
        gone = state.seen - now_seen
        if since is not None:  # also events made and deleted between two syncs, never seen
            gone |= {
                (s.immutable_id, None)
                for s in box.events.values()
                if s.deleted
                and s.seq > since
                and not s.recurring
                and events.overlaps(s.start, s.end, state.window)
            }
            for stored in box.events.values():
                ids.setdefault((stored.immutable_id, None), (stored.rest_id, stored.immutable_id))
        for slot in sorted(gone, key=str):
            rest_id, immutable_id = ids.get(slot, (slot[0], slot[0]))
            items.append(
                {
                    "@removed": {"reason": "deleted"},
                    "id": immutable_id if view.immutable else rest_id,
                }
            )
        after = DeltaState(box.upn, state.window, box.seq, box.generation, now_seen, ids)
        return Pages(box.upn, box.generation, items, after)


def changed(stored: Any, key: str | None, since: int) -> bool:
    if stored.seq > since:
        return True
    return key is not None and stored.instance_seq.get(key, 0) > since
