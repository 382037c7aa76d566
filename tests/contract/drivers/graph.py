"""The contract suite's Graph driver: alice's mailbox on the Graph emulator
(tests/emulators/graph), reached over plain HTTP: msal through our http_client hook, the
backend's aiohttp client directly. The user's own edits go through the emulator's
mailbox helpers, as Outlook would make them, and never count as the backend's requests."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bridge.backends.base import Backend, RemoteEvent
from bridge.backends.graph import recurrence as graph_rec
from bridge.backends.graph import wire
from bridge.backends.kinds import BindingSpec, kind_of
from tests.contract.driver import ALICE
from tests.emulators.graph import GraphEmulator, UserMailbox

TENANT = "contoso.example"
CLIENT_ID = "11111111-2222-3333-4444-555555555555"
SECRET = "app-secret-value"
#: The request each contract method names, as "METHOD path" patterns.
METHODS = {
    "create": r"^POST .*/events$",
    "update": r"^PATCH .*/events/",
    "delete": r"^DELETE .*/events/",
    "list": r"^GET .*/calendarView/delta",
}
WRITES = ("POST", "PATCH", "DELETE")


def when(value: datetime, all_day: bool) -> dict[str, str]:
    if all_day:
        return {
            "dateTime": value.astimezone(UTC).date().isoformat() + "T00:00:00",
            "timeZone": "UTC",
        }
    return {"dateTime": value.astimezone(UTC).replace(tzinfo=None).isoformat(), "timeZone": "UTC"}


def instances(box: UserMailbox, master_id: str) -> list[dict[str, Any]]:
    """The series' live occurrences and exceptions as Outlook shows them."""
    return box.instances(master_id)


class GraphDriver:
    """Alice's mailbox. An event seeded with attendees is a meeting she was invited to (its
    organiser the first attendee): the one kind of event with attendees that a write can
    change without mailing them. Meetings she organises in Outlook are never written by
    sync (tests/integration/test_graph_backend.py)."""

    kind = "graph"
    page_setting = "page_size"
    #: Graph drops a series' exceptions when its pattern changes (as Exchange does).
    keeps_stray_instances = False

    def __init__(self, graph: GraphEmulator, directory: Path) -> None:
        self.graph = graph
        tenant = graph.add_tenant(TENANT)
        graph.add_app(tenant, CLIENT_ID, SECRET, roles=("Calendars.ReadWrite",))
        self.box = graph.add_mailbox(ALICE, tenant)
        self.secret_file = directory / "graph-client-secret"
        self.secret_file.write_text(SECRET + "\n")
        self.secret_file.chmod(0o600)

    def binding_backend_settings(self) -> dict:
        return {
            "tenant": TENANT,
            "client_id": CLIENT_ID,
            "mailbox": ALICE,
            "client_secret_file": str(self.secret_file),
            "authority_host": self.graph.url,
            "graph_url": self.graph.graph_url,
            "max_retries": 2,
            "retry_after_max": 0.05,
            "timeout": 5.0,
        }

    def binding_secret(self) -> dict:
        return {}

    def make_backend(self) -> Backend:
        spec = BindingSpec(1, "alice", "graph", self.binding_backend_settings(), {})
        make = kind_of("graph").make
        assert make is not None
        return make(spec)

    def _body(self, fields: dict[str, Any], all_day: bool, start: datetime | None) -> dict:
        body: dict[str, Any] = {}
        if "subject" in fields:
            body["subject"] = fields.pop("subject")
        if "description" in fields:
            body["body"] = {"contentType": "text", "content": fields.pop("description")}
        if "location" in fields:
            body["location"] = {"displayName": fields.pop("location")}
        for edge in ("start", "end"):
            if edge in fields:
                body[edge] = when(fields.pop(edge), all_day)
        if "private" in fields:
            body["sensitivity"] = "private" if fields.pop("private") else "normal"
        if "organizer" in fields:
            body["organizer"] = {"emailAddress": {"address": fields.pop("organizer")}}
        if "attendees" in fields:
            body["attendees"] = [
                {"emailAddress": {"address": a}, "type": "required"}
                for a in fields.pop("attendees")
            ]
        lines = fields.pop("recurrence", None)
        if lines is not None:
            rules = [line for line in lines if line.startswith("RRULE")]
            first = start or datetime.now(UTC)
            body["recurrence"] = (
                graph_rec.to_graph(rules[0], first, "UTC", all_day) if rules else None
            )
            fields["_exdates"] = [line for line in lines if line.startswith("EXDATE")]
        body["isAllDay"] = all_day
        return body

    def seed(
        self,
        *,
        subject: str,
        start: datetime,
        end: datetime,
        all_day: bool = False,
        recurrence: tuple[str, ...] = (),
        private: bool = False,
        description: str = "",
        location: str = "",
        attendees: tuple[str, ...] = (),
    ) -> str:
        fields: dict[str, Any] = {"subject": subject, "start": start, "end": end}
        fields |= {"description": description, "location": location, "private": private}
        if attendees:  # a meeting someone invited her to: her copy mails no one when edited
            fields["attendees"] = attendees
            fields["organizer"] = attendees[0]
        if recurrence:
            fields["recurrence"] = recurrence
        body = self._body(fields, all_day, start)
        made = self.box.create(**body)
        self._cancel(made["id"], fields.get("_exdates", []))
        return made["id"]

    def _cancel(self, master_id: str, exdates: list[str]) -> None:
        if not exdates:
            return
        days = {re.sub(r"[^0-9]", "", line.partition(":")[2])[:8] for line in exdates}
        for item in instances(self.box, master_id):
            original = wire.parse_instant(item["originalStart"])
            if original.strftime("%Y%m%d") in days:
                self.box.delete(item["id"])

    def edit(self, remote_id: str, **fields: Any) -> None:
        stored = self.box.render(remote_id)
        all_day = fields.pop("all_day", bool(stored.get("isAllDay")))
        overrides = fields.pop("overrides", None)
        start = fields.get("start") or wire.parse_time(stored["start"])
        body = self._body(fields, all_day, start)
        exdates = fields.pop("_exdates", [])
        assert not fields, f"the Graph driver cannot edit {sorted(fields)}"
        self.box.update(remote_id, **body)
        self._cancel(remote_id, exdates)
        if overrides is not None:
            keep = {o.recurrence_id: o for o in overrides}
            for item in instances(self.box, remote_id):
                original = wire.parse_instant(item["originalStart"])
                key = original.date().isoformat() if all_day else original.isoformat()
                moved = keep.get(key)
                if moved is None:
                    if item.get("type") == "exception":
                        self.box.delete(item["id"])
                    continue
                change = {"start": when(moved.start, all_day), "end": when(moved.end, all_day)}
                if moved.subject:
                    change["subject"] = moved.subject
                self.box.update(item["id"], **change)

    def remove(self, remote_id: str) -> None:
        self.box.delete(remote_id)

    def move(self, remote_id: str) -> str:
        """Moved to another folder and back: even its immutable id changes (the hard case)."""
        return self.box.move(remote_id, keep_immutable=False)["id"]

    def events(self) -> list[RemoteEvent]:
        out = []
        far = datetime(2100, 1, 1, tzinfo=UTC)
        for item in self.box.events():
            if item.get("type") == "seriesMaster":
                out.append(wire.series_from_graph(item, instances(self.box, item["id"]), far))
            else:
                out.append(wire.single_from_graph(item))
        return out

    def lifecycle_notice(self, subscription_id: str, what: str) -> bool:
        """Graph's lifecycle notifications: ``missed`` and ``reauthorizationRequired``."""
        event = {"missed": "missed", "renew": "reauthorizationRequired"}[what]
        self.graph.lifecycle(subscription_id, event)
        return True

    def expire_cursor(self) -> None:
        self.graph.expire_delta(ALICE)

    def fail_next(self, method: str, status: int, count: int = 1) -> None:
        retry = {"retry_after": 0} if status in (429, 503) else {}
        self.graph.fail_next(METHODS[method], status, count, **retry)

    def reject(self, remote_id: str, status: int = 403, times: int = 10**9) -> None:
        self.graph.reject(remote_id, status, times)

    def write_count(self) -> int:
        """Event writes: each POST/PATCH/DELETE of an event, a $batch part counted alone."""
        calls = self.graph.calls
        return sum(1 for c in calls if c.method in WRITES and "/events" in c.path)

    def request_count(self) -> int:
        """HTTP requests to Graph (a $batch counts once; token requests, which a backend
        makes once an hour, do not)."""
        return len([c for c in self.graph.calls if not c.in_batch])

    def mailed(self) -> list[str]:
        return [
            f"{m.method} {m.event_id}: {m.reason} {list(m.recipients)}" for m in self.graph.mailed
        ]

    # --- the Invite action's copy, as Exchange Online stores it -------------------------------
    def invite_wire(self, remote_id: str) -> dict[str, Any]:
        stored = self.box.render(remote_id)
        body = stored.get("body") or {}
        text = str(body.get("content") or "")
        if str(body.get("contentType", "")).lower() == "html":
            text = wire._html_text(text)
        return {
            "subject": stored.get("subject", ""),
            "description": text,
            "location": (stored.get("location") or {}).get("displayName", ""),
            "organiser": (stored.get("organizer") or {}).get("emailAddress", {}).get("address", ""),
            "attendees": [a["emailAddress"]["address"] for a in stored.get("attendees") or []],
            "tags": self.box.extended(remote_id),
            "raw": json.dumps(stored, ensure_ascii=False, sort_keys=True),
            "start": wire.parse_time(stored["start"]),
            "sequence": self.box.sequence(remote_id),
        }

    def invite_writes(self, remote_id: str) -> int:
        immutable = self.box.render(remote_id)["id"] if self.box.event(remote_id) else remote_id
        return sum(1 for w in self.graph.event_writes if w.event_id == immutable)

    def invite_series(self, remote_id: str) -> dict[str, Any]:
        """The copy's series as GET /events/{id}/instances shows it (the emulator's own
        rendering): cancelled occurrences absent, exceptions at their own times."""
        stored = self.box.render(remote_id)
        rule = stored.get("recurrence") or {}
        occurrences, moved, records = {}, {}, [stored]
        for instance in self.box.instances(remote_id) if rule else []:
            original = wire.parse_instant(instance["originalStart"]).astimezone(UTC)
            occurrences[original] = wire.parse_time(instance["start"]).astimezone(UTC)
            if instance.get("type") != "exception":
                continue
            records.append(instance)
            body = instance.get("body") or {}
            text = str(body.get("content") or "")
            if str(body.get("contentType", "")).lower() == "html":
                text = wire._html_text(text)
            moved[original] = {
                "subject": instance.get("subject", ""),
                "location": (instance.get("location") or {}).get("displayName", ""),
                "description": text,
                "organiser": (instance.get("organizer") or {})
                .get("emailAddress", {})
                .get("address", ""),
                "attendees": [
                    a["emailAddress"]["address"] for a in instance.get("attendees") or []
                ],
            }
        return {
            "rule": json.dumps(rule, sort_keys=True) if rule else "",
            "occurrences": occurrences,
            "moved": moved,
            "raw": json.dumps(records, ensure_ascii=False, sort_keys=True),
        }

    def guest_edit(self, remote_id: str, **fields: Any) -> None:
        """The organiser changes the copy in Outlook (her own edit: no mail recorded); a
        partstat is a guest's response reaching her event."""
        partstat = fields.pop("partstat", None)
        body: dict[str, Any] = {}
        if "subject" in fields:
            body["subject"] = fields.pop("subject")
        if "location" in fields:
            body["location"] = {"displayName": fields.pop("location")}
        for edge in ("start", "end"):
            if edge in fields:
                body[edge] = when(fields.pop(edge), False)
        assert not fields, f"the Graph driver cannot guest-edit {sorted(fields)}"
        if body:
            self.box.update(remote_id, **body)
        if partstat is not None:
            email, answer = partstat
            response = {"ACCEPTED": "accepted", "DECLINED": "declined"}
            self.box.attendee_response(
                remote_id, email, response.get(answer, "tentativelyAccepted")
            )


@contextmanager
def open_driver(tmp_path: Path) -> Iterator[GraphDriver]:
    with GraphEmulator() as graph:
        yield GraphDriver(graph, tmp_path)
