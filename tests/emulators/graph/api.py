"""Graph v1.0 calendar surface: routing, permissions, events, calendarView, instances."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlencode

from . import directory, events, query, rendering, times, writes
from .call import Call, Reply
from .delta import Delta
from .errors import GraphError, access_denied, bad_request
from .identity import Identity
from .store import State, invalid_user, mailbox_not_enabled

READ = {"Calendars.Read", "Calendars.ReadWrite", "Calendars.ReadBasic"}
WRITE = {"Calendars.ReadWrite"}
ACTIONS = ("cancel", "accept", "tentativelyAccept", "decline")


class Api:
    def __init__(self, state: State, identity: Identity, base_url: Callable[[], str]) -> None:
        self.state = state
        self.identity = identity
        self.base_url = base_url  # the Graph root, e.g. http://127.0.0.1:1234/v1.0
        self.delta = Delta()

    # --- routing -------------------------------------------------------------------------
    def split(self, call: Call) -> tuple[str, list[str]]:
        """('users/x' or 'me', rest of the segments) for mailbox paths."""
        seg = [s for s in call.path.split("/") if s]
        if seg[:1] == ["me"]:
            return "me", seg[1:]
        if seg[:1] == ["users"] and len(seg) >= 2:
            return f"users/{seg[1]}", seg[2:]
        raise GraphError(
            400, "BadRequest", f"Resource not found for the segment '{seg[0] if seg else ''}'."
        )

    def mailbox_call(self, call: Call) -> Reply:
        owner, rest = self.split(call)
        call.owner = owner
        grant = call.grant
        assert grant is not None
        if owner == "me":
            if not grant.delegated:
                raise bad_request(
                    "/me request is only valid with delegated authentication flow.", "BadRequest"
                )
            key = grant.user or ""
        else:
            key = owner.split("/", 1)[1]
        if not rest and call.method == "GET":
            return directory.user(self.state, grant, key)
        box = self.state.mailbox(key)
        if box is None or box.tenant_id != grant.tenant_id:
            raise invalid_user(key)
        if grant.delegated and box.upn != grant.user:
            raise access_denied()
        if not box.enabled:
            raise mailbox_not_enabled()
        writing = call.method in ("POST", "PATCH", "DELETE")
        if not grant.permissions & (WRITE if writing else READ):
            raise access_denied()
        call.box = box
        if rest == ["calendar"] and call.method == "GET":
            return directory.calendar(box)
        if rest and rest[0] == "calendar":
            rest = rest[1:]
        return self.events_call(call, rest)

    def events_call(self, call: Call, rest: list[str]) -> Reply:
        m = call.method
        if rest == ["events"] and m == "GET":
            return self.list_events(call)
        if rest == ["events"] and m == "POST":
            return self.create(call)
        if rest == ["calendarView"] and m == "GET":
            return self.calendar_view(call)
        if rest == ["calendarView", "delta"] and m == "GET":
            assert call.box is not None
            return self.delta.handle(call, call.box, self.base_url())
        if len(rest) == 2 and rest[0] == "events":
            if m == "GET":
                return self.get(call, rest[1])
            if m == "PATCH":
                return self.update(call, rest[1])
            if m == "DELETE":
                return self.delete(call, rest[1])
        if len(rest) == 3 and rest[0] == "events" and rest[2] == "instances" and m == "GET":
            return self.instances(call, rest[1])
        if len(rest) == 3 and rest[0] == "events" and rest[2] in ACTIONS and m == "POST":
            assert call.box is not None
            writes.act(self.state, call.box, rest[1], rest[2], call.body)
            return Reply(202)
        raise GraphError(400, "BadRequest", f"Unsupported request: {m} {call.path}")

    # --- reads ---------------------------------------------------------------------------
    def render(self, call: Call, stored: Any, key: str | None = None) -> dict[str, Any]:
        assert call.box is not None
        expand = query.expand_ids(call.query.get("$expand"))
        item = rendering.render(call.box, stored, call.view(), key=key, expand_ids=expand)
        return query.select(item, call.query.get("$select"))

    def get(self, call: Call, event_id: str) -> Reply:
        query.only(call.query, {"$select", "$expand"})
        assert call.box is not None
        stored, key = call.box.find(event_id)
        return Reply(200, self.render(call, stored, key))

    def paged(self, call: Call, items: list[dict[str, Any]], link: str) -> Reply:
        items = query.order(items, call.query.get("$orderby"))
        size = query.page_size(call.query, call.prefer())
        try:
            skip = int(call.query.get("$skip", "0"))
        except ValueError:
            raise query.bad_query("$skip must be an integer.") from None
        body: dict[str, Any] = {"value": items[skip : skip + size]}
        if skip + size < len(items):
            params = [(k, v) for k, v in call.query.items() if k not in ("$skip", "$top")]
            params += [("$top", str(size)), ("$skip", str(skip + size))]
            encoded = urlencode(params, safe="$/'():,*@", quote_via=quote)
            body["@odata.nextLink"] = f"{link}?{encoded}"
        return Reply(200, body)

    def list_events(self, call: Call) -> Reply:
        query.only(call.query, {"$select", "$expand", "$filter", "$top", "$skip", "$orderby"})
        assert call.box is not None
        wanted = query.ext_filter(call.query["$filter"]) if "$filter" in call.query else None
        items = [
            self.render(call, stored)
            for stored in call.box.events.values()
            if not stored.deleted and (wanted is None or query.matches(stored, wanted))
        ]
        return self.paged(call, items, f"{self.base_url()}/{call.owner}/events")

    def window(self, call: Call) -> tuple[Any, Any]:
        return times.window(call.query)

    def calendar_view(self, call: Call) -> Reply:
        query.only(call.query, {"$select", "$expand", "$filter", "$top", "$skip", "$orderby"})
        assert call.box is not None
        window = self.window(call)
        items = [
            self.render(call, stored, key)
            for stored in call.box.events.values()
            for key in events.visible(call.box, stored, window)
        ]
        items.sort(key=lambda e: (e["start"]["dateTime"], e["id"]))
        return self.paged(call, items, f"{self.base_url()}/{call.owner}/calendarView")

    def instances(self, call: Call, event_id: str) -> Reply:
        query.only(call.query, {"$select", "$expand", "$top", "$skip", "$orderby"})
        assert call.box is not None
        stored, key = call.box.find(event_id)
        if key is not None or not stored.recurring:
            raise GraphError(
                400, "ErrorInvalidRequest", "The specified event is not a series master."
            )
        window = self.window(call)
        items = [
            self.render(call, stored, k)
            for k in events.visible(call.box, stored, window)
            if k is not None
        ]
        return self.paged(
            call, items, f"{self.base_url()}/{call.owner}/events/{event_id}/instances"
        )

    # --- writes --------------------------------------------------------------------------
    def create(self, call: Call) -> Reply:
        assert call.box is not None
        stored, _ = writes.create(self.state, call.box, call.body)
        return Reply(201, self.render(call, stored))

    def update(self, call: Call, event_id: str) -> Reply:
        assert call.box is not None
        master, key = writes.update(
            self.state, call.box, event_id, call.body, if_match=call.headers.get("If-Match")
        )
        return Reply(200, self.render(call, master, key))

    def delete(self, call: Call, event_id: str) -> Reply:
        assert call.box is not None
        writes.delete(self.state, call.box, event_id, if_match=call.headers.get("If-Match"))
        return Reply(204)
