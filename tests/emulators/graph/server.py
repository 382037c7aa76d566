"""GraphEmulator: the app on a free port in a background thread, plus the test control API."""

from __future__ import annotations

import copy
import re
from typing import Any

from tests.support.aiohttp_thread import ThreadedApp

from . import events, rendering, writes
from .api import Api
from .app import CallRecord, Gateway, make_app
from .batch import Batch
from .faults import Fault, Faults, Throttle
from .identity import App, Identity, Tenant
from .oauth import OAuth
from .store import AttendeeWrite, EventWrite, Mail, Mailbox, State
from .subscriptions import Delivery, Subscriptions


class UserMailbox:
    """What the mailbox owner does in Outlook: no API call, nothing recorded as a bridge write."""

    def __init__(self, emulator: GraphEmulator, box: Mailbox) -> None:
        self.g = emulator
        self.box = box

    @property
    def upn(self) -> str:
        return self.box.upn

    @property
    def user_id(self) -> str:
        return self.box.user_id

    def create(self, **event: Any) -> dict[str, Any]:
        """Create from Graph event JSON (organizer = this user unless `organizer` is given)."""
        with self.g.state.lock:
            stored, _ = writes.create(self.g.state, self.box, event, recorded=False)
            return self.render(stored.immutable_id)

    def update(self, event_id: str, **changes: Any) -> dict[str, Any]:
        with self.g.state.lock:
            writes.update(self.g.state, self.box, event_id, changes, recorded=False)
            return self.render(event_id)

    def delete(self, event_id: str) -> None:
        with self.g.state.lock:
            writes.delete(self.g.state, self.box, event_id, recorded=False)

    def move(self, event_id: str, *, keep_immutable: bool = True) -> dict[str, Any]:
        """A move that changes the REST id (and the immutable id too if keep_immutable=False)."""
        with self.g.state.lock:
            stored = writes.move(self.g.state, self.box, event_id, keep_immutable=keep_immutable)
            return self.render(stored.immutable_id)

    def attendee_response(self, event_id: str, address: str, response: str) -> dict[str, Any]:
        """A guest's response ("accepted", "declined", "tentativelyAccepted") reaches this
        organiser's event: that attendee's status changes, as Exchange tracks responses."""
        with self.g.state.lock:
            writes.track_response(self.g.state, self.box, event_id, address, response)
            return self.render(event_id)

    def sequence(self, event_id: str) -> int:
        """The meeting's SEQUENCE as Exchange keeps it (Graph does not show it)."""
        with self.g.state.lock:
            stored, _ = self.box.find(event_id)
            return stored.sequence

    def render(self, event_id: str, *, immutable: bool = True) -> dict[str, Any]:
        with self.g.state.lock:
            stored, key = self.box.find(event_id)
            view = events.View(immutable=immutable)
            out = rendering.render(self.box, stored, view, key=key, expand_ids=set(stored.ext))
            return copy.deepcopy(out)

    def event(self, event_id: str) -> dict[str, Any] | None:
        try:
            return self.render(event_id)
        except Exception:  # noqa: BLE001 - ErrorItemNotFound means "no such event" here
            return None

    def events(self) -> list[dict[str, Any]]:
        """Singles and series masters (immutable ids, extended properties expanded)."""
        with self.g.state.lock:
            live = [s for s in self.box.events.values() if not s.deleted]
            return [self.render(s.immutable_id) for s in live]

    def instances(self, master_id: str) -> list[dict[str, Any]]:
        """The series' live occurrences and exceptions (immutable ids), in order."""
        with self.g.state.lock:
            master, key = self.box.find(master_id)
            if key is not None or not master.recurring:
                raise ValueError(f"{master_id} is not a series master")
            keys = [k for k, _, _ in events.instances(master) if k not in master.cancelled]
            view = events.View(immutable=True)
            return [copy.deepcopy(rendering.render(self.box, master, view, key=k)) for k in keys]

    def extended(self, event_id: str) -> dict[str, str]:
        with self.g.state.lock:
            stored, _ = self.box.find(event_id)
            return {pid: value for pid, value in stored.ext.values()}


class GraphEmulator:
    """Microsoft Graph v1.0 (calendar) and the Entra ID v2.0 token endpoints on 127.0.0.1."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port
        self.state = State()
        self.identity = Identity()
        self.oauth = OAuth(self.identity, lambda: self.authority)
        self.faults = Faults()
        self.throttle = Throttle()
        self.gateway = Gateway(self)
        self.api = Api(self.state, self.identity, lambda: self.graph_url)
        self.batch = Batch(self.gateway)
        self.subscriptions = Subscriptions(self.state)
        self._served = ThreadedApp("graph-emulator")

    # --- lifecycle -------------------------------------------------------------------------
    def start(self) -> GraphEmulator:
        self.port = self._served.start(lambda: make_app(self), self.host, self.port)
        self.subscriptions.loop = self._served.loop
        return self

    def stop(self) -> None:
        self.subscriptions.loop = None
        self._served.stop()

    def __enter__(self) -> GraphEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- addresses -------------------------------------------------------------------------
    @property
    def url(self) -> str:
        """Where it listens (plain HTTP)."""
        return f"http://{self.host}:{self.port}"

    @property
    def authority_host(self) -> str:
        """host:port to use as msal's authority host."""
        return f"{self.host}:{self.port}"

    @property
    def authority(self) -> str:
        """https://host:port - what msal is given (it insists on https) and what the OpenID
        document advertises; an msal http_client must send these requests to `url` over HTTP."""
        return f"https://{self.host}:{self.port}"

    @property
    def graph_url(self) -> str:
        return f"{self.url}/v1.0"

    def http_client(self) -> Any:
        """A requests.Session for msal's http_client hook that talks plain HTTP to us (for
        `g.authority` and for msal's instance discovery at login.microsoftonline.com)."""
        import requests

        prefixes, target = (self.authority, "https://login.microsoftonline.com"), self.url

        class _Session(requests.Session):
            def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
                for prefix in prefixes:
                    if url.startswith(prefix):
                        url = target + url[len(prefix) :]
                return super().request(method, url, *args, **kwargs)

        return _Session()

    # --- directory -------------------------------------------------------------------------
    def add_tenant(
        self, domain: str = "contoso.onmicrosoft.com", tenant_id: str | None = None
    ) -> Tenant:
        return self.identity.add_tenant(domain, tenant_id)

    def add_app(
        self,
        tenant: Tenant | str,
        client_id: str,
        secret: str | None = None,
        roles: tuple[str, ...] = ("Calendars.ReadWrite",),
        *,
        delegated: tuple[str, ...] = ("Calendars.ReadWrite", "User.Read"),
        public: bool = False,
        certificate_pem: str | None = None,
    ) -> App:
        found = tenant if isinstance(tenant, Tenant) else self.identity.find_tenant(tenant)
        if found is None:
            raise KeyError(f"no tenant {tenant!r}")
        app = App(
            found.id,
            client_id,
            {secret} if secret else set(),
            frozenset(roles),
            frozenset(delegated),
            public,
            certificate_pem,
        )
        return self.identity.add_app(app)

    def add_mailbox(
        self, upn: str, tenant: Tenant | str | None = None, *, enabled: bool = True
    ) -> UserMailbox:
        """A user (and, unless enabled=False, an Exchange Online mailbox) in the tenant."""
        if tenant is None:
            found = self.identity.find_tenant(upn.split("@", 1)[1])
        elif isinstance(tenant, Tenant):
            found = tenant
        else:
            found = self.identity.find_tenant(tenant)
        if found is None:
            raise KeyError(f"no tenant for {upn!r}; add_tenant() first or name one")
        with self.identity.lock:
            found.users.add(upn.lower())
        return UserMailbox(self, self.state.add_mailbox(upn, found.id, enabled=enabled))

    def mailbox(self, upn: str) -> UserMailbox:
        box = self.state.mailbox(upn)
        if box is None:
            raise KeyError(f"no mailbox {upn!r}")
        return UserMailbox(self, box)

    # --- sign-in ---------------------------------------------------------------------------
    def approve_device(self, user_code: str, upn: str) -> None:
        """The user enters the code at the verification page and signs in as `upn`."""
        with self.identity.lock:
            flow = next(f for f in self.identity.devices.values() if f.user_code == user_code)
            tenant = self.identity.tenant_of_user(upn)
            if tenant is None or (
                flow.tenant not in ("organizations", "common")
                and self.identity.find_tenant(flow.tenant) is not tenant
            ):
                raise ValueError(f"{upn} cannot sign in to tenant {flow.tenant}")
            flow.user = upn.lower()

    def decline_device(self, user_code: str) -> None:
        with self.identity.lock:
            flow = next(f for f in self.identity.devices.values() if f.user_code == user_code)
            flow.declined = True

    def expire_tokens(self) -> None:
        """Every access token issued so far is now expired (401 on use)."""
        self.identity.expire_access_tokens()

    def revoke_refresh_tokens(self, upn: str) -> None:
        self.identity.revoke_refresh_tokens(upn)

    @property
    def rotate_refresh_tokens(self) -> bool:
        """Whether a redeemed refresh token is consumed (only its successor works after)."""
        return self.identity.rotate_refresh

    @rotate_refresh_tokens.setter
    def rotate_refresh_tokens(self, value: bool) -> None:
        self.identity.rotate_refresh = value

    @property
    def token_lifetime(self) -> int:
        return self.identity.token_lifetime

    @token_lifetime.setter
    def token_lifetime(self, seconds: int) -> None:
        """Lifetime (expires_in) of access tokens issued from now on."""
        self.identity.token_lifetime = seconds

    @property
    def device_interval(self) -> int:
        return self.oauth.device_interval

    @device_interval.setter
    def device_interval(self, seconds: int) -> None:
        self.oauth.device_interval = seconds

    # --- sync state, faults, throttling ----------------------------------------------------
    def expire_delta(self, upn: str | None = None) -> None:
        """Every delta/skip token issued so far (for one mailbox or all) answers 410."""
        with self.state.lock:
            for box in self.state.mailboxes.values():
                if upn is None or box.upn == upn.lower():
                    box.generation += 1

    def fail_next(
        self,
        pattern: str,
        status: int,
        count: int = 1,
        *,
        code: str | None = None,
        retry_after: int | None = None,
    ) -> None:
        """The next `count` Graph calls whose "METHOD /path" matches the regex fail with status."""
        self.faults.add(Fault(re.compile(pattern), status, count, code, retry_after))

    def reject(self, event_id: str, status: int, times: int = 1) -> None:
        """The next `times` PATCH/DELETE of this event id fail with status."""
        pattern = re.compile(rf"^(PATCH|DELETE) .*{re.escape(event_id)}")
        self.faults.add(Fault(pattern, status, times))

    @property
    def max_concurrency(self) -> int:
        return self.throttle.limit

    @max_concurrency.setter
    def max_concurrency(self, limit: int) -> None:
        self.throttle.limit = limit

    @property
    def latency(self) -> float:
        return self.gateway.latency

    @latency.setter
    def latency(self, seconds: float) -> None:
        """Seconds each Graph call takes (holding its mailbox slot): makes concurrency visible."""
        self.gateway.latency = seconds

    # --- subscriptions ---------------------------------------------------------------------
    def lifecycle(self, subscription_id: str, event: str) -> None:
        """Send reauthorizationRequired / missed / subscriptionRemoved to the lifecycle URL."""
        self.subscriptions.lifecycle(subscription_id, event)

    def wait_for_deliveries(
        self, count: int, kind: str = "notification", timeout: float = 5.0
    ) -> list[Delivery]:
        return self.subscriptions.wait_for(count, kind, timeout)

    @property
    def deliveries(self) -> list[Delivery]:
        return list(self.subscriptions.deliveries)

    # --- what happened ---------------------------------------------------------------------
    @property
    def calls(self) -> list[CallRecord]:
        """Every Graph call (method, path?query, status, in_batch); a $batch and its parts."""
        with self.gateway.calls_lock:
            return list(self.gateway.calls)

    def http_requests(self) -> int:
        """Graph HTTP requests (batch parts not counted) plus token endpoint requests."""
        return len([c for c in self.calls if not c.in_batch]) + len(self.oauth.requests)

    @property
    def token_requests(self) -> list[dict[str, str]]:
        return list(self.oauth.requests)

    @property
    def mailed(self) -> list[Mail]:
        return list(self.state.mailed)

    @property
    def attendees_written(self) -> list[AttendeeWrite]:
        return list(self.state.attendees_written)

    @property
    def event_writes(self) -> list[EventWrite]:
        return list(self.state.event_writes)

    def reset_counters(self) -> None:
        with self.gateway.calls_lock:
            self.gateway.calls.clear()
        self.oauth.requests.clear()
        with self.state.lock:
            self.state.mailed.clear()
            self.state.attendees_written.clear()
            self.state.event_writes.clear()
