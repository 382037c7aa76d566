"""GoogleEmulator: the app on a free port in a background thread, plus helpers for tests."""

from __future__ import annotations

import copy
from collections import Counter
from dataclasses import dataclass
from typing import Any

from tests.support.aiohttp_thread import ThreadedApp

from . import events, instances
from .app import Api, make_app
from .errors import ApiError
from .faults import Faults
from .oauth import OAuth
from .store import Calendar, State, WriteRecord
from .watch import Delivery, Watches


@dataclass(frozen=True)
class User:
    email: str  # also the id of the user's primary calendar
    refresh_token: str
    access_token: str


class GoogleEmulator:
    """A stateful Google Calendar v3 + OAuth token endpoint on 127.0.0.1.

    with GoogleEmulator() as google:
        user = google.add_user("alice@example.com")
        service = google.service(user.email)   # real googleapiclient Resource against us
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port
        self.state = State()
        self.oauth = OAuth(lambda: self.state.clock())
        self.faults = Faults()
        self.watches = Watches(self.state)
        self.api = Api(self.state, self.oauth, self.faults, self.watches)
        self._served = ThreadedApp("google-emulator")

    # --- lifecycle -------------------------------------------------------------------------
    def start(self) -> GoogleEmulator:
        self.port = self._served.start(lambda: make_app(self.api), self.host, self.port)
        self.watches.loop = self._served.loop
        self.watches.base_url = self.url
        return self

    def stop(self) -> None:
        self._served.stop()
        self.watches.loop = None

    def __enter__(self) -> GoogleEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- addresses -------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def api_endpoint(self) -> str:
        """For client_options={"api_endpoint": ...} of googleapiclient.discovery.build."""
        return self.url + "/calendar/v3/"

    @property
    def batch_uri(self) -> str:
        """For BatchHttpRequest(batch_uri=...): new_batch_http_request() ignores api_endpoint."""
        return self.url + "/batch/calendar/v3"

    @property
    def token_uri(self) -> str:
        return self.url + "/token"

    # --- users, calendars, events ----------------------------------------------------------
    @property
    def calendars(self) -> dict[str, Calendar]:
        return self.state.calendars

    def add_user(self, email: str, *, time_zone: str = "UTC", client_id: str | None = None) -> User:
        """A user with a primary calendar (id = email), a refresh token and an access token."""
        self.state.add_calendar(email, email, time_zone)
        return User(email, self.oauth.grant(email, client_id), self.oauth.issue(email))

    def add_calendar(
        self, calendar_id: str, summary: str | None = None, time_zone: str = "UTC"
    ) -> Calendar:
        return self.state.add_calendar(calendar_id, summary, time_zone)

    def seed(self, calendar_id: str, resource: dict[str, Any]) -> dict[str, Any]:
        """Create an event as if the user made it in Google's UI (no API call, nothing recorded)."""
        with self.state.lock:
            calendar = self.state.calendar(calendar_id)
            body = copy.deepcopy(resource)
            event_id = body.get("id") or events.new_id()
            if calendar.find(event_id) is not None:
                raise ApiError(409, "duplicate")
            stored_resource = events.fresh(calendar, body, event_id)
            events.normalise(stored_resource, calendar)
            return copy.deepcopy(self.state.save(calendar, stored_resource, created=True).resource)

    def edit(self, calendar_id: str, event_id: str, **changes: Any) -> dict[str, Any]:
        """Change an event (or one instance) as the user would in Google's UI; None removes."""
        with self.state.lock:
            calendar = self.state.calendar(calendar_id)
            before, _ = events.current(calendar, event_id)
            resource = copy.deepcopy(before)
            events.merge(resource, changes)
            if any(resource.get(k) != before.get(k) for k in events.TIME_FIELDS):
                resource["sequence"] = before.get("sequence", 0) + 1
            events.normalise(resource, calendar)
            created = calendar.find(event_id) is None
            stored = self.state.save(calendar, resource, created=created)
            if stored.cancelled and stored.recurring:
                events.cancel_exceptions(self.state, calendar, stored)
            return copy.deepcopy(stored.resource)

    def remove(self, calendar_id: str, event_id: str) -> None:
        """Delete an event (or one instance) as the user would in Google's UI."""
        self.edit(calendar_id, event_id, status="cancelled")

    def event(self, calendar_id: str, event_id: str) -> dict[str, Any] | None:
        """The stored event, full (also when cancelled), or None."""
        with self.state.lock:
            found = self.state.calendar(calendar_id).find(event_id)
            return None if found is None else copy.deepcopy(found.resource)

    def instances(self, calendar_id: str, event_id: str) -> list[dict[str, Any]]:
        """A series' live instances as events.instances lists them (cancelled ones and
        excluded dates left out), in order."""
        with self.state.lock:
            calendar = self.state.calendar(calendar_id)
            master = calendar.find(event_id)
            if master is None or not master.recurring:
                raise ValueError(f"{event_id} is not a recurring event")
            expanded = instances.expand(calendar, master)
            return [r for _, r, _ in expanded if r.get("status") != "cancelled"]

    def events(self, calendar_id: str, *, include_cancelled: bool = False) -> list[dict[str, Any]]:
        """Stored events (masters and exceptions, not expanded) in creation order."""
        with self.state.lock:
            stored = sorted(self.state.calendar(calendar_id).events.values(), key=lambda s: s.idx)
            return [
                copy.deepcopy(s.resource) for s in stored if include_cancelled or not s.cancelled
            ]

    def expire_sync_tokens(self, calendar_id: str) -> None:
        """Every sync token issued so far for this calendar now answers 410 fullSyncRequired."""
        with self.state.lock:
            calendar = self.state.calendar(calendar_id)
            calendar.token_generation += 1

    # --- what happened ---------------------------------------------------------------------
    @property
    def sent_updates(self) -> list[WriteRecord]:
        """(method, event_id, sendUpdates) per successful insert/import/patch/update/delete."""
        return self.state.sent_updates

    def would_mail(self) -> list[WriteRecord]:
        """Writes for which Google would have mailed guests (sendUpdates all/externalOnly)."""
        mailed = [w for w in self.state.sent_updates if w.send_updates in ("all", "externalOnly")]
        noisy = {(m, e) for m, e, v in self.state.send_notifications if v == "true"}
        return mailed + [w for w in self.state.sent_updates if (w.method, w.event_id) in noisy]

    @property
    def requests(self) -> Counter[tuple[str, str]]:
        """HTTP requests received, by (method, path); a batch counts once."""
        return self.api.requests

    @property
    def calls(self) -> Counter[str]:
        """API calls by name ("events.insert", "batch", "oauth.token"); batch parts count each."""
        return self.api.calls

    def http_requests(self, method: str | None = None, path_contains: str = "") -> int:
        return sum(
            n
            for (m, p), n in self.api.requests.items()
            if (method is None or m == method) and path_contains in p
        )

    def reset_counters(self) -> None:
        self.api.requests.clear()
        self.api.calls.clear()
        self.state.sent_updates.clear()
        self.state.send_notifications.clear()

    @property
    def notifications(self) -> list[Delivery]:
        return self.watches.deliveries

    def wait_for_notifications(self, count: int, timeout: float = 5.0) -> list[Delivery]:
        return self.watches.wait_for(count, timeout)

    # --- clients ---------------------------------------------------------------------------
    def credentials(
        self, user: User, client_id: str = "client-id", client_secret: str = "secret"
    ) -> Any:
        """google.oauth2 user credentials that refresh against this emulator."""
        from google.oauth2.credentials import Credentials

        return Credentials(
            token=None,
            refresh_token=user.refresh_token,
            token_uri=self.token_uri,
            client_id=client_id,
            client_secret=client_secret,
        )

    def service(self, credentials: Any) -> Any:
        """The real googleapiclient Calendar v3 Resource, bundled discovery, pointed at us."""
        from googleapiclient.discovery import build

        return build(
            "calendar",
            "v3",
            credentials=credentials,
            static_discovery=True,
            cache_discovery=False,
            client_options={"api_endpoint": self.api_endpoint},
        )

    def new_batch(self, callback: Any = None) -> Any:
        from googleapiclient.http import BatchHttpRequest

        return BatchHttpRequest(callback=callback, batch_uri=self.batch_uri)
