"""Google Calendar backend: the Backend protocol over google-api-python-client.

One GoogleBackend per user (binding): it shares the process's Calendar API resources (built
once per endpoint, http.calendar_api) and holds its own credentials and http, paces its own
requests (per-user rate limit), retries rate limits, 429 and 5xx with back-off, and speaks
RemoteEvent through bridge.backends.google.wire. It holds no sync rules.

Writes are silent (invariant 3): sendUpdates=none on every write and never an attendee in a
body; updates are patches, so attendees the user added in Google stay. Creates are
idempotent (invariant 1): the event id is derived from the idempotency key, and a 409 means
an earlier attempt got through, so that event is adopted instead of a second one made.

Overridden occurrences are written by patching the series' instances (``<id>_<suffix>``);
an instance no longer overridden is patched back to the master's values, and one on a date
now excluded is deleted. Limit: Google may change the master's etag when an instance
changes; the engine then sees a 412 on its next update and re-reads the series.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from bridge.backends.base import (
    BackendError,
    BaseBackend,
    Change,
    ChangePage,
    Deleted,
    InviteCapability,
    NotFound,
    PushChannel,
    Rejected,
    RemoteEvent,
    ResyncRequired,
    Window,
)
from bridge.backends.google import batch as google_batch
from bridge.backends.google import wire
from bridge.backends.google.batch import Inserts
from bridge.backends.google.http import (
    Duplicate,
    GoogleAuthError,
    GoogleSettings,
    RateLimiter,
    auth_problem,
    authorized_http,
    calendar_api,
    call,
    service_account_credentials,
    user_credentials,
)
from bridge.backends.recurrence import normalise_recurrence

__all__ = [
    "GoogleAuthError",
    "GoogleBackend",
    "GoogleSettings",
    "event_id_for",
    "service_account_credentials",
    "user_credentials",
]


event_id_for = wire.event_id_for


class GoogleBackend(BaseBackend):
    """One user's Google calendar as a Backend. Not thread-safe: one round at a time."""

    kind = "google"

    def __init__(self, credentials: Any, settings: GoogleSettings | None = None) -> None:
        self.settings = settings or GoogleSettings()
        self.credentials = credentials
        self.api = calendar_api(self.settings.api_endpoint)  # shared by the process
        self.events = self.api.events
        self.http = authorized_http(credentials, self.settings)  # this binding's own
        self.limiter = RateLimiter(self.settings.requests_per_second, self.settings.burst)
        self.calendar_tz = "UTC"  # the calendar's zone, learnt from events.list answers

    def close(self) -> None:
        self.http.close()

    # --- plumbing ---------------------------------------------------------------------------
    def _bind(self, request: Any) -> Any:
        """The request, sent with this binding's credentials and connections."""
        request.http = self.http
        return request

    def _run(self, what: str, request: Any, *, if_match: str = "") -> Any:
        self._bind(request)
        if if_match:
            request.headers["If-Match"] = if_match
        return call(self.settings, self.limiter, what, lambda: request.execute(num_retries=0))

    def _pages(self, **params: Any) -> Iterator[tuple[list[dict[str, Any]], str | None]]:
        """events.list page by page: (items, None), the last (items, nextSyncToken or "")."""
        page: str | None = None
        cal = self.settings.calendar_id
        while True:
            request = self.events.list(calendarId=cal, pageToken=page, **params)
            answer = self._run("events.list", request)
            self.calendar_tz = answer.get("timeZone") or self.calendar_tz
            page = answer.get("nextPageToken")
            if not page:
                yield answer.get("items", []), answer.get("nextSyncToken", "")
                return
            yield answer.get("items", []), None

    def _list(self, **params: Any) -> tuple[list[dict[str, Any]], str]:
        """Every page of events.list: (items, nextSyncToken or "")."""
        items: list[dict[str, Any]] = []
        last: str | None = None
        for page, token in self._pages(**params):
            items += page
            last = token
        return items, last or ""

    def _get(self, event_id: str) -> dict[str, Any]:
        request = self.events.get(calendarId=self.settings.calendar_id, eventId=event_id)
        return self._run("events.get", request)

    def _patch(
        self, event_id: str, body: dict[str, Any], etag: str = "", send_updates: str = "none"
    ) -> dict[str, Any]:
        request = self.events.patch(
            calendarId=self.settings.calendar_id,
            eventId=event_id,
            body=body,
            sendUpdates=send_updates,
        )
        return self._run("events.patch", request, if_match=etag)

    def _series(
        self, master_id: str, master: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
        """A series' master and every exception instance (None when the master is gone)."""
        if master is None:
            try:
                master = self._get(master_id)
            except NotFound:
                return None
        uid = master.get("iCalUID")
        if wire.is_deleted(master) or not master.get("recurrence") or not uid:
            return master, []
        items, _ = self._list(
            iCalUID=uid, showDeleted=True, singleEvents=False, maxResults=self.settings.page_size
        )
        for item in items:
            if item.get("id") == master_id:
                master = item
        return master, [i for i in items if i.get("recurringEventId") == master_id]

    def _to_event(self, master: dict[str, Any], exceptions: Sequence[dict[str, Any]]) -> Change:
        return wire.event_from_google(master, list(exceptions), self.calendar_tz)

    def _live(self, master: dict[str, Any], exceptions: Sequence[dict[str, Any]]) -> RemoteEvent:
        """A series just written (so not deleted) as a RemoteEvent."""
        event = self._to_event(master, exceptions)
        if isinstance(event, Deleted):
            raise BackendError(f"Google Calendar: {event.remote_id} is deleted after a write")
        return event

    # --- reading ----------------------------------------------------------------------------
    def list_changes(self, cursor: str | None, window: Window) -> Iterator[ChangePage]:
        """One ChangePage per events.list page. ``window`` is not sent: a sync token cannot
        be combined with a time range, and sync filters by its rules anyway (a full list
        starts ``full_sync_days_back`` ago when that is set)."""
        params: dict[str, Any] = {
            "singleEvents": False,
            "showDeleted": True,
            "maxResults": self.settings.page_size,
        }
        if cursor:
            params["syncToken"] = cursor
        elif self.settings.full_sync_days_back is not None:
            since = datetime.now(UTC) - timedelta(days=self.settings.full_sync_days_back)
            params["timeMin"] = since.isoformat()
        pages = self._pages(**params)
        while True:
            try:
                items, token = next(pages)
            except StopIteration:
                return
            except NotFound as exc:  # any 410 on a sync-token list means the token is gone
                if cursor:
                    raise ResyncRequired(str(exc)) from exc
                raise
            yield ChangePage(self._assemble(items, complete=not cursor), token)

    def _assemble(self, items: list[dict[str, Any]], *, complete: bool) -> list[Change]:
        """One page's items as changes, one per series; exceptions folded into masters.

        In a full list a master's exceptions on the same page are folded in; exceptions
        whose master is not on the page (an incremental list, or a full one split between
        pages) make the series be read whole. A series split between pages of a full list
        is thus reported twice, the second time complete.
        """
        order: list[str] = []
        masters: dict[str, dict[str, Any]] = {}
        exceptions: dict[str, list[dict[str, Any]]] = {}
        for item in items:
            key = item.get("recurringEventId") or item["id"]
            if key not in masters and key not in exceptions:
                order.append(key)
            if wire.is_exception(item):
                exceptions.setdefault(key, []).append(item)
            else:
                masters[key] = item
        out: list[Change] = []
        for key in order:
            master = masters.get(key)
            if master is not None and (wire.is_deleted(master) or not master.get("recurrence")):
                out.append(self._to_event(master, ()))
            elif master is not None and complete:
                out.append(self._to_event(master, exceptions.get(key, [])))
            else:
                series = self._series(key, master)
                out.append(Deleted(key) if series is None else self._to_event(*series))
        return out

    def get(self, remote_id: str) -> Change | None:
        series = self._series(remote_id)
        return None if series is None else self._to_event(*series)

    def find_by_meeting_id(self, meeting_id: str) -> RemoteEvent | None:
        items, _ = self._list(
            privateExtendedProperty=f"{wire.MEETING_ID_KEY}={meeting_id}",
            showDeleted=False,
            singleEvents=False,
            maxResults=self.settings.page_size,
        )
        for item in items:
            if wire.is_exception(item) or wire.is_deleted(item) or wire.is_invite_copy(item):
                continue
            series = self._series(item["id"], item)
            event = None if series is None else self._to_event(*series)
            return event if isinstance(event, RemoteEvent) else None
        return None

    # --- writing ----------------------------------------------------------------------------
    def create(self, event: RemoteEvent, *, idempotency_key: str) -> RemoteEvent:
        event_id = event_id_for(idempotency_key)
        request = self.events.insert(
            calendarId=self.settings.calendar_id,
            body=wire.event_body(event, event_id=event_id),
            sendUpdates="none",
        )
        try:
            created = self._run("events.insert", request)
        except Duplicate:
            return self._adopt(event_id, event)
        return self._finish(created, event, [])

    def _adopt(self, event_id: str, event: RemoteEvent) -> RemoteEvent:
        """The event an earlier create with this key made, brought to ``event``'s content."""
        series = self._series(event_id)
        if series is None:
            raise BackendError(f"Google Calendar events.insert: id {event_id} taken but unreadable")
        current = self._to_event(*series)
        live = isinstance(current, RemoteEvent)
        if live and current.crm_meeting_id != event.crm_meeting_id:
            raise Rejected(  # the id is taken for good: no retry frees it
                f"Google Calendar events.insert: id {event_id} holds another event "
                f"(tagged {current.crm_meeting_id!r}, wanted {event.crm_meeting_id!r})"
            )
        if live and current.content_hash() == event.content_hash():
            return current
        # deleted events come back (a patch with status confirmed/tentative restores them)
        master = self._patch(event_id, wire.event_body(event), series[0].get("etag", ""))
        return self._finish(master, event, series[1] if live else None)

    def update(self, remote_id: str, event: RemoteEvent, *, etag: str) -> RemoteEvent:
        if not etag:  # unconditional: a patch would bring a deleted event back, so look first
            current = self._get(remote_id)
            if wire.is_deleted(current):
                raise NotFound(f"Google Calendar events.patch: {remote_id} was deleted")
            etag = current.get("etag", "")
        master = self._patch(remote_id, wire.event_body(event), etag)
        return self._finish(master, event, None)

    def set_tag(self, remote_id: str, meeting_id: str, *, etag: str) -> RemoteEvent:
        """Patch extendedProperties.private alone (Google merges the private keys), silently;
        PreconditionFailed on an etag mismatch, NotFound when the event is gone."""
        if not etag:  # a patch would bring a deleted event back: look first
            current = self._get(remote_id)
            if wire.is_deleted(current):
                raise NotFound(f"Google Calendar events.patch: {remote_id} was deleted")
            etag = current.get("etag", "")
        body = {"extendedProperties": {"private": {wire.MEETING_ID_KEY: meeting_id}}}
        master = self._patch(remote_id, body, etag)
        if not master.get("recurrence"):
            return self._live(master, ())
        series = self._series(remote_id, master)
        if series is None:
            raise NotFound(f"Google Calendar events.patch: {remote_id} was deleted")
        return self._live(*series)

    def _finish(
        self,
        master: dict[str, Any],
        event: RemoteEvent,
        exceptions: list[dict[str, Any]] | None,
        send_updates: str = "none",
    ) -> RemoteEvent:
        """Write ``event``'s overrides onto the series' instances; the series as it now is.

        ``exceptions`` are the series' current exception instances (None: read them).
        ``send_updates``: sync's writes are silent; the Invite action passes its own choice.
        """
        if not master.get("recurrence"):
            return self._live(master, ())
        master_id = master["id"]
        if exceptions is None:
            series = self._series(master_id, master)
            exceptions = [] if series is None else series[1]
        tz = wire.zone(self.calendar_tz)
        current = {wire.recurrence_id(wire.original_start(e) or {}, tz): e for e in exceptions}
        wanted = {o.recurrence_id: o for o in event.overrides}
        excluded = {
            line.partition(":")[2]
            for line in normalise_recurrence(event.recurrence)
            if line.startswith("EXDATE")
        }
        for rec_id, override in wanted.items():
            have = current.get(rec_id)
            if have is not None and not wire.is_deleted(have):
                if wire.override_from_google(have, tz) == override:
                    continue
            body = wire.override_body(event, override)
            current[rec_id] = self._patch_instance(master_id, rec_id, body, send_updates)
        for rec_id, have in list(current.items()):
            if rec_id in wanted:
                continue
            key = _rec_key(rec_id)
            if key in excluded:
                if not wire.is_deleted(have):
                    self._delete(have["id"], "", send_updates)
                    current[rec_id] = {**have, "status": "cancelled"}
                continue
            plain = wire.plain_occurrence(event, rec_id)
            if wire.is_deleted(have) or wire.override_from_google(have, tz) != plain:
                body = wire.override_body(event, plain)
                current[rec_id] = self._patch_instance(master_id, rec_id, body, send_updates)
        return self._live(master, list(current.values()))

    def _patch_instance(
        self, master_id: str, rec_id: str, body: dict[str, Any], send_updates: str = "none"
    ) -> dict[str, Any]:
        """Patch one instance of a series; the series exists, so a 404 means the series has
        no such instance: the event is refused as it stands (Rejected), not gone."""
        try:
            return self._patch(wire.instance_id(master_id, rec_id), body, "", send_updates)
        except NotFound as exc:
            raise Rejected(
                f"Google Calendar events.patch: {rec_id} is not an occurrence of the series"
                f" {master_id} ({exc})"
            ) from exc

    def delete(self, remote_id: str, *, etag: str) -> None:
        self._delete(remote_id, etag, "none")

    def _delete(self, remote_id: str, etag: str, send_updates: str) -> None:
        request = self.events.delete(
            calendarId=self.settings.calendar_id, eventId=remote_id, sendUpdates=send_updates
        )
        self._run("events.delete", request, if_match=etag)

    def create_many(
        self, events: Sequence[tuple[RemoteEvent, str]]
    ) -> list[RemoteEvent | BackendError]:
        """Create (event, idempotency_key) pairs in HTTP batches of ``settings.batch_size``.

        Each result is the created event or the BackendError for that one alone. One
        event alone is one plain events.insert (no batch envelope).
        """
        if len(events) <= 1:
            return super().create_many(events)
        inserts = Inserts(
            self.settings,
            self.limiter,
            request=lambda body: self._bind(
                self.events.insert(
                    calendarId=self.settings.calendar_id, body=body, sendUpdates="none"
                )
            ),
            finish=lambda created, event: self._finish(created, event, []),
            adopt=self._adopt,
        )
        return google_batch.create_many(inserts, events)

    # --- invites, push and checks ------------------------------------------------------------
    def invites(self) -> InviteCapability | None:
        """Attendees and sendUpdates all/none (bridge.backends.google.invite)."""
        from bridge.backends.google.invite import GoogleInvites

        return GoogleInvites(self)

    def push(self) -> PushChannel | None:
        """events.watch channels (bridge.backends.google.push)."""
        from bridge.backends.google.push import GooglePush

        return GooglePush(self)

    def check(self) -> str | None:
        """None when the credentials and the calendar work, else what is wrong, in words."""
        from google.auth.exceptions import RefreshError

        cal = self.settings.calendar_id
        try:
            self._run("calendars.get", self.api.calendars.get(calendarId=cal))
        except NotFound:
            return f"calendar not found: {cal}"
        except GoogleAuthError as exc:
            cause = exc.__cause__
            if isinstance(cause, RefreshError):
                return auth_problem(cause)
            return f"credentials rejected: {exc}"
        except BackendError as exc:
            return str(exc)
        return None


def _rec_key(rec_id: str) -> str:
    """A RECURRENCE-ID key in the EXDATE value format (20310502 or 20310317T090000Z)."""
    return wire.instance_suffix(rec_id)
