"""The remote calendar of bench.sync, one class per backend kind: what it counts and how the
user's side is seen and edited there.

- ``GoogleRemote``: the Google Calendar emulator (tests/emulators/google_calendar); counts are
  the emulator's own (API calls, batch parts one each), the OAuth token endpoint left out.
- ``CaldavRemote``: a stock Radicale behind the recording proxy of the contract driver
  (tests/contract/drivers/caldav.py); every request the backend sends passes the proxy and
  counts; the user's edits go to Radicale directly (as a phone would) and do not.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Protocol

from tests.contract.drivers.caldav import CaldavDriver
from tests.support.dav_proxy import WRITES, Recorded
from tests.support.sync_world import CALENDAR

# Emulator API calls (batch parts count one each) that change an event.
WRITE_CALLS = ("events.insert", "events.import", "events.patch", "events.update", "events.delete")
WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
TOKEN_PATH = "/token"


class Remote(Protocol):
    kind: str
    push: bool  # whether calendar -> CRM is measured with push (else polling)

    def reset(self) -> None: ...
    def counts(self) -> dict: ...
    def subject(self, remote_id: str) -> str | None: ...
    def user_edit(self, remote_id: str, subject: str) -> None: ...
    def event_count(self) -> int: ...
    def rounds(self) -> int: ...
    def phase_marker(self) -> int: ...
    def channel_ready(self, since: int) -> None: ...
    def push_figures(self, since: int) -> dict: ...


class GoogleRemote:
    kind = "google"
    push = True

    def __init__(self, google) -> None:  # noqa: ANN001 - a GoogleEmulator
        self.google = google

    def reset(self) -> None:
        self.google.reset_counters()

    def counts(self) -> dict:
        http = Counter()
        for (method, path), n in self.google.requests.items():
            if path == TOKEN_PATH:
                continue
            http[f"{method} {'/batch' if path.startswith('/batch') else '/calendar/v3'}"] += n
        calls = {k: v for k, v in self.google.calls.items() if k != "oauth.token"}
        return {
            "http_requests": sum(http.values()),
            "http_writes": sum(n for k, n in http.items() if k.split()[0] in WRITE_METHODS),
            "write_calls": sum(calls.get(k, 0) for k in WRITE_CALLS),
            "token_requests": self.google.http_requests(path_contains=TOKEN_PATH),
            "http_by_kind": dict(sorted(http.items())),
            "calls_by_api": dict(sorted(calls.items())),
        }

    def subject(self, remote_id: str) -> str | None:
        return (self.google.event(CALENDAR, remote_id) or {}).get("summary")

    def user_edit(self, remote_id: str, subject: str) -> None:
        self.google.edit(CALENDAR, remote_id, summary=subject)

    def event_count(self) -> int:
        return len(self.google.events(CALENDAR))

    def rounds(self) -> int:
        return self.google.calls.get("events.list", 0)  # one list per round

    def phase_marker(self) -> int:
        return len(self.google.notifications)

    def channel_ready(self, since: int) -> None:
        """The channel's first message ("sync") before the clock runs."""
        self.google.wait_for_notifications(since + 1)

    def push_figures(self, since: int) -> dict:
        deliveries = Counter(
            f"{d.state} {d.status if d.status is not None else 'unreachable'}"
            for d in list(self.google.notifications)[since:]
        )
        return {
            "watch_channels_opened": self.google.calls.get("events.watch", 0),
            # Push notifications the emulator delivered during the phase, "state status".
            "notifications": dict(sorted(deliveries.items())),
            "push_notifications": deliveries.get("exists 200", 0),
        }


_SUMMARY = re.compile(r"^SUMMARY[;:][^\n]*", re.MULTILINE)


def _label(record: Recorded) -> str:
    """One CalDAV request as a call name: method and what it asks."""
    if record.method == "REPORT":
        for name in ("sync-collection", "calendar-multiget", "calendar-query"):
            if name.encode() in record.body:
                return f"REPORT {name}"
    if record.method == "PROPFIND":
        return f"PROPFIND depth {record.headers.get('depth', '?')}"
    if record.method == "PUT":
        return f"PUT {record.kind}"  # create (If-None-Match) or update (If-Match)
    return record.method


class CaldavRemote:
    kind = "caldav"
    push = False  # plain CalDAV has none: the binding is polled

    def __init__(self, driver: CaldavDriver) -> None:
        self.driver = driver
        self.proxy = driver.proxy
        self.mark = 0
        self.folder = Path(driver.radicale.root, "collection-root", driver.path.strip("/"))

    def _since(self) -> list[Recorded]:
        with self.proxy.lock:
            return list(self.proxy.records[self.mark :])

    def reset(self) -> None:
        with self.proxy.lock:
            self.mark = len(self.proxy.records)

    def counts(self) -> dict:
        records = self._since()
        calls = Counter(_label(r) for r in records)
        writes = [r for r in records if r.method in WRITES]
        return {
            "http_requests": len(records),
            "http_writes": len(writes),
            "write_calls": len(writes),  # no batch: one write call is one request
            "token_requests": 0,
            "http_by_kind": dict(sorted(Counter(r.method for r in records).items())),
            "calls_by_api": dict(sorted(calls.items())),
        }

    def subject(self, remote_id: str) -> str | None:
        """SUMMARY of the object as Radicale holds it on disk (no request: the benchmark's
        own looking must not load the server it measures)."""
        try:
            text = (self.folder / remote_id).read_text(encoding="utf-8")
        except OSError:
            return None
        found = _SUMMARY.search(text.replace("\r\n", "\n").replace("\n ", ""))
        return found.group(0).split(":", 1)[1] if found else None

    def user_edit(self, remote_id: str, subject: str) -> None:
        self.driver.edit(remote_id, subject=subject)

    def event_count(self) -> int:
        return len(self.driver.events())

    def rounds(self) -> int:
        return sum(1 for r in self._since() if _label(r) == "REPORT sync-collection")

    def phase_marker(self) -> int:
        return 0

    def channel_ready(self, since: int) -> None:
        """No push: nothing to wait for."""

    def push_figures(self, since: int) -> dict:
        return {"watch_channels_opened": 0, "notifications": {}, "push_notifications": 0}


def _graph_label(path: str) -> str:
    """A Graph call's kind: $batch, delta, instances, events, subscriptions."""
    for name in ("$batch", "calendarView/delta", "instances", "subscriptions"):
        if name in path:
            return name
    return "events"


class GraphRemote:
    """The Microsoft Graph emulator (tests/emulators/graph) through the contract driver:
    HTTP requests are the emulator's (a $batch once, its parts not), token requests
    counted apart and included in ``http_requests`` (an idle round is one request, token
    included); write calls are event POST/PATCH/DELETE, a $batch part each."""

    kind = "graph"
    push = True  # a subscription to the bench's webhook app (bench/sync.py opens it)

    def __init__(self, driver) -> None:  # noqa: ANN001 - a GraphDriver
        self.driver = driver
        self.graph = driver.graph

    def reset(self) -> None:
        self.graph.reset_counters()

    def counts(self) -> dict:
        calls = self.graph.calls
        outer = [c for c in calls if not c.in_batch]
        tokens = len(self.graph.token_requests)
        http = Counter(f"{c.method} {_graph_label(c.path)}" for c in outer)
        writes = [c for c in calls if c.method in WRITE_METHODS and "/events" in c.path]
        return {
            "http_requests": len(outer) + tokens,
            "http_writes": sum(1 for c in outer if c.method in WRITE_METHODS),
            "write_calls": len(writes),
            "token_requests": tokens,
            "http_by_kind": dict(sorted(http.items())),
            "calls_by_api": dict(
                sorted(Counter(f"{c.method} {_graph_label(c.path)}" for c in calls).items())
            ),
        }

    def subject(self, remote_id: str) -> str | None:
        return (self.driver.box.event(remote_id) or {}).get("subject")

    def user_edit(self, remote_id: str, subject: str) -> None:
        self.driver.edit(remote_id, subject=subject)

    def event_count(self) -> int:
        return len(self.driver.box.events())

    def rounds(self) -> int:
        return sum(1 for c in self.graph.calls if "calendarView/delta" in c.path)

    def phase_marker(self) -> int:
        return len(self.graph.deliveries)

    def channel_ready(self, since: int) -> None:
        """Nothing to wait for: Graph validates the address before POST /subscriptions
        answers (the validation handshake is part of the open call)."""

    def push_figures(self, since: int) -> dict:
        delivered = self.graph.deliveries[since:]
        deliveries = Counter(
            f"{d.kind} {d.status if d.status is not None else 'unreachable'}" for d in delivered
        )
        return {
            "watch_channels_opened": sum(
                1 for c in self.graph.calls if c.method == "POST" and c.path == "/subscriptions"
            ),
            # What the emulator delivered during the phase, "kind status".
            "notifications": dict(sorted(deliveries.items())),
            "push_notifications": deliveries.get("notification 200", 0),
        }


class ExchangeRemote:
    """The EWS emulator (tests/emulators/ews) through the contract driver: every SOAP
    request the backend sends counts (``ews.calls``); the user's edits go through the
    emulator's control API (Outlook), and looking at the mailbox sends no request."""

    kind = "exchange"
    push = True  # EWS push subscriptions to the webhook app

    WRITES = ("CreateItem", "UpdateItem", "DeleteItem", "MoveItem")

    def __init__(self, driver) -> None:  # noqa: ANN001 - tests.contract.drivers.exchange
        self.driver = driver
        self.ews = driver.ews
        self.mark = 0
        self.write_mark = 0

    def _since(self) -> list[tuple[str, str | None]]:
        with self.ews.lock:
            return list(self.ews.calls[self.mark :])

    def reset(self) -> None:
        with self.ews.lock:
            self.mark = len(self.ews.calls)
            self.write_mark = len(self.ews.write_requests)

    def counts(self) -> dict:
        calls = Counter(operation for operation, _ in self._since())
        writes = sum(n for operation, n in calls.items() if operation in self.WRITES)
        with self.ews.lock:  # every write request and the items it asked for
            items = sum(n for _, n in self.ews.write_requests[self.write_mark :])
        return {
            "http_requests": sum(calls.values()),
            "http_writes": writes,
            # items written, each item of a batched CreateItem one (as Google's batch parts)
            "write_calls": items,
            "token_requests": 0,
            "http_by_kind": {"POST /EWS/Exchange.asmx": sum(calls.values())},
            "calls_by_api": dict(sorted(calls.items())),
        }

    def subject(self, remote_id: str) -> str | None:
        try:
            return self.driver.user.item(remote_id).get("subject")
        except KeyError:
            return None

    def user_edit(self, remote_id: str, subject: str) -> None:
        self.driver.edit(remote_id, subject=subject)

    def event_count(self) -> int:
        return len(self.driver.user.items())

    def rounds(self) -> int:
        # a round's listing ends with the page that says IncludesLastItemInRange; counting
        # GetFolder would miss kept folders, so count SyncFolderItems calls (one per idle round)
        return sum(1 for operation, _ in self._since() if operation == "SyncFolderItems")

    def phase_marker(self) -> int:
        with self.ews.lock:
            return len(self.ews.push.deliveries)

    def channel_ready(self, since: int) -> None:
        """Nothing to wait for: Subscribe answers once the subscription exists (Exchange's
        first notification is a keep-alive a StatusFrequency later)."""

    def push_figures(self, since: int) -> dict:
        with self.ews.lock:
            deliveries = list(self.ews.push.deliveries[since:])
            subscribed = sum(1 for operation, _ in self.ews.calls if operation == "Subscribe")
        labels = Counter(
            f"{'status' if d.events == ['StatusEvent'] else 'change'} {d.status} {d.result}"
            for d in deliveries
        )
        return {
            "watch_channels_opened": subscribed,
            # SendNotification POSTs the emulator made during the phase, "what status result".
            "notifications": dict(sorted(labels.items())),
            "push_notifications": labels.get("change 200 OK", 0),
        }
