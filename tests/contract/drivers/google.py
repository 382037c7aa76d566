"""The contract suite's Google driver: alice's calendar on the Google emulator."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bridge.backends.base import Backend, RemoteEvent
from bridge.backends.google import http as google_http
from bridge.backends.google import wire
from bridge.backends.google.backend import GoogleBackend
from bridge.backends.google.settings import HTTP_OPTIONS
from tests.contract.driver import ALICE
from tests.emulators.google_calendar import Fault, GoogleEmulator

API = {"create": "events.insert", "update": "events.patch", "delete": "events.delete"}
API["list"] = "events.list"
WRITES = ("events.insert", "events.import", "events.patch", "events.update", "events.delete")
REASON = {400: "invalid", 403: "forbidden", 404: "notFound", 409: "duplicate"}
TEXTS = (("subject", "summary"), ("description", "description"), ("location", "location"))
REASON |= {410: "fullSyncRequired", 412: "conditionNotMet", 429: "rateLimitExceeded"}


def when(value: datetime, all_day: bool) -> dict[str, str]:
    return {"date": value.date().isoformat()} if all_day else {"dateTime": value.isoformat()}


class GoogleDriver:
    kind = "google"
    page_setting = "page_size"
    keeps_stray_instances = True

    def __init__(self, google: GoogleEmulator) -> None:
        self.google, self.user = google, google.add_user(ALICE)
        self.guests: dict[str, list[str]] = {}  # attendees the user put on each event

    def binding_backend_settings(self) -> dict:
        g = self.google
        return {
            "calendar_id": "primary",
            "api_endpoint": g.api_endpoint,
            "batch_uri": g.batch_uri,
            "token_uri": g.token_uri,
            "client_id": "client-id",
            "client_secret": "secret",
            "requests_per_second": 1000,
            "burst": 1000,
            "backoff_base": 0.01,
            "max_retries": 2,
            "timeout": 2.0,
        }

    def binding_secret(self) -> dict:
        return {"refresh_token": self.user.refresh_token}

    def make_backend(self) -> Backend:
        settings = self.binding_backend_settings()
        options = google_http.GoogleSettings(
            **{k: settings[k] for k in HTTP_OPTIONS if k in settings}
        )
        creds = google_http.user_credentials(
            self.user.refresh_token, "client-id", "secret", self.google.token_uri
        )
        return GoogleBackend(creds, options)

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
        body: dict[str, Any] = {"summary": subject, "description": description}
        body |= {"location": location, "start": when(start, all_day), "end": when(end, all_day)}
        body |= {"recurrence": list(recurrence)} if recurrence else {}
        body |= {"visibility": "private"} if private else {}
        body |= {"attendees": [{"email": a} for a in attendees]} if attendees else {}
        made = self.google.seed(ALICE, body)
        self.guests[made["id"]] = list(attendees)
        return made["id"]

    def edit(self, remote_id: str, **fields: Any) -> None:
        stored = self.google.event(ALICE, remote_id) or {"start": {}}
        all_day = fields.pop("all_day", "date" in stored["start"])
        change = texts_and_times(fields, all_day)
        if "private" in fields:
            change["visibility"] = "private" if fields.pop("private") else "default"
        if "recurrence" in fields:
            change["recurrence"] = list(fields.pop("recurrence"))
        if "attendees" in fields:
            self.guests[remote_id] = list(fields.pop("attendees"))
            change["attendees"] = [{"email": a} for a in self.guests[remote_id]]
        if "overrides" in fields:  # the moved occurrences now; any other one is cancelled
            kept = {wire.instance_id(remote_id, o.recurrence_id) for o in fields["overrides"]}
            for item in self.google.events(ALICE):
                if item.get("recurringEventId") == remote_id and item["id"] not in kept:
                    self.google.remove(ALICE, item["id"])
        for moved in fields.pop("overrides", ()):
            instance = wire.instance_id(remote_id, moved.recurrence_id)
            texts = {"summary": moved.subject} if moved.subject else {}
            times = {"start": when(moved.start, all_day), "end": when(moved.end, all_day)}
            self.google.edit(ALICE, instance, **texts, **times)
        assert not fields, f"the Google driver cannot edit {sorted(fields)}"
        if change:
            self.google.edit(ALICE, remote_id, **change)

    def remove(self, remote_id: str) -> None:
        self.google.remove(ALICE, remote_id)

    def move(self, remote_id: str) -> str:
        """Google gives an event moved between calendars (and back) a new id; its
        extended properties travel with it."""
        stored = self.google.event(ALICE, remote_id)
        assert stored is not None
        self.google.remove(ALICE, remote_id)
        keep = ("summary", "description", "location", "start", "end", "recurrence")
        keep += ("visibility", "transparency", "attendees", "extendedProperties")
        moved = self.google.seed(ALICE, {k: stored[k] for k in keep if k in stored})
        self.guests[moved["id"]] = self.guests.pop(remote_id, [])
        return moved["id"]

    def events(self) -> list[RemoteEvent]:
        items = self.google.events(ALICE, include_cancelled=True)
        masters = [i for i in items if not wire.is_exception(i) and not wire.is_deleted(i)]
        folded = [(m, [i for i in items if i.get("recurringEventId") == m["id"]]) for m in masters]
        return [wire.event_from_google(master, exceptions) for master, exceptions in folded]

    def lifecycle_notice(self, subscription_id: str, what: str) -> bool:
        """Google's channels send "sync" (opened) and "exists"/"not_exists" only: lost
        notifications show as a sync token answered 410, and a channel simply expires."""
        return False

    def expire_cursor(self) -> None:
        self.google.expire_sync_tokens(ALICE)

    def fail_next(self, method: str, status: int, count: int = 1) -> None:
        retry = {"retry_after": 0} if status == 429 else {}
        reason = REASON.get(status, "backendError")
        self.google.faults.add(Fault(status, reason, count, api=API[method], **retry))

    def reject(self, remote_id: str, status: int = 403, times: int = 10**9) -> None:
        self.google.faults.error(
            status,
            REASON.get(status, "forbidden"),
            times=times,
            path=remote_id,
            when=lambda call: call.method != "GET",
        )

    def write_count(self) -> int:
        return sum(self.google.calls[api] for api in WRITES)

    def request_count(self) -> int:
        """HTTP requests to the Calendar API (a batch counts once; token refreshes, which
        a backend makes once an hour, do not)."""
        return self.google.http_requests(path_contains="/calendar/v3")

    def mailed(self) -> list[str]:
        writes = self.google.sent_updates
        noisy = [f"{w.method} {w.event_id} sendUpdates={w.send_updates}" for w in writes]
        noisy = [line for line, w in zip(noisy, writes, strict=True) if w.send_updates != "none"]
        noisy += [f"{w.method} {w.event_id} notifies" for w in self.google.would_mail()]
        for event in self.google.events(ALICE):
            if wire.is_invite_copy(event):  # its guests are mailed only per sendUpdates
                continue
            guests = [a["email"] for a in event.get("attendees", [])]
            if guests and guests != self.guests.get(event["id"]):
                noisy.append(f"attendees {guests} on {event['id']}")
        return noisy

    # --- the Invite action's external copy ----------------------------------------------
    def invite_wire(self, remote_id: str) -> dict[str, Any]:
        stored = self.google.event(ALICE, remote_id)
        assert stored is not None, f"no event {remote_id}"
        ext = stored.get("extendedProperties") or {}
        tags = {**ext.get("shared", {}), **ext.get("private", {})}
        start, _ = wire.parse_when(stored["start"])
        return {
            "subject": stored.get("summary", ""),
            "description": stored.get("description", ""),
            "location": stored.get("location", ""),
            "organiser": (stored.get("organizer") or {}).get("email", ""),
            "attendees": [a["email"] for a in stored.get("attendees", [])],
            "tags": tags,
            "raw": json.dumps(stored, ensure_ascii=False, sort_keys=True),
            "start": start,
            "sequence": int(stored.get("sequence", 0)),
        }

    def invite_writes(self, remote_id: str) -> int:
        """Writes of the copy and of its instances (``<id>_<suffix>``)."""
        return sum(
            1
            for w in self.google.sent_updates
            if w.event_id.split("_")[0] == remote_id and f"events.{w.method}" in WRITES
        )

    def invite_series(self, remote_id: str) -> dict[str, Any]:
        stored = self.google.event(ALICE, remote_id)
        assert stored is not None, f"no event {remote_id}"
        rule = [line for line in stored.get("recurrence") or [] if line.startswith("RRULE")]
        occurrences = {}
        for instance in self.google.instances(ALICE, remote_id) if rule else []:
            original, _ = wire.parse_when(instance["originalStartTime"])
            start, _ = wire.parse_when(instance["start"])
            occurrences[original.astimezone(UTC)] = start.astimezone(UTC)
        apart = [
            e
            for e in self.google.events(ALICE, include_cancelled=True)
            if e.get("recurringEventId") == remote_id
        ]
        moved = {}
        for item in apart:
            if item.get("status") == "cancelled":
                continue
            original, _ = wire.parse_when(item["originalStartTime"])
            moved[original.astimezone(UTC)] = {
                "subject": item.get("summary", ""),
                "location": item.get("location", ""),
                "description": item.get("description", ""),
                "organiser": (item.get("organizer") or {}).get("email", ""),
                "attendees": [a["email"] for a in item.get("attendees", [])],
            }
        return {
            "rule": " ".join(rule),
            "occurrences": occurrences,
            "moved": moved,
            "raw": json.dumps([stored, *apart], ensure_ascii=False, sort_keys=True),
        }

    def guest_edit(self, remote_id: str, **fields: Any) -> None:
        """The organiser edits the copy in Google Calendar; a partstat is a guest's answer
        (Google records it on the organiser's copy)."""
        change = texts_and_times(fields, False)
        if "partstat" in fields:
            email, answer = fields.pop("partstat")
            stored = self.google.event(ALICE, remote_id) or {}
            status = {v: k for k, v in wire.PARTSTAT.items()}[answer]
            change["attendees"] = [
                {**a, "responseStatus": status} if a["email"] == email else a
                for a in stored.get("attendees", [])
            ]
        assert not fields, f"the Google driver cannot guest-edit {sorted(fields)}"
        self.google.edit(ALICE, remote_id, **change)


def texts_and_times(fields: dict[str, Any], all_day: bool) -> dict[str, Any]:
    """The Google event fields for the texts, start and end among ``fields`` (taken out of
    it), as a user's edit in Google Calendar writes them."""
    change: dict[str, Any] = {}
    for ours, theirs in TEXTS:
        if ours in fields:
            change[theirs] = fields.pop(ours)
    for edge in ("start", "end"):
        if edge in fields:
            change[edge] = when(fields.pop(edge), all_day)
    return change


@contextmanager
def open_driver(tmp_path: Path) -> Iterator[GoogleDriver]:
    with GoogleEmulator() as google:
        yield GoogleDriver(google)
