"""Google plumbing: settings, credentials, the service object, pacing, retries, errors.

Nothing here knows about events; google.py uses it to talk to the Calendar API.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import google_auth_httplib2
import httplib2
from google.auth.exceptions import RefreshError, TransportError
from google.oauth2 import credentials as user_creds
from google.oauth2 import service_account
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt

from bridge import metrics
from bridge.backends.base import (
    AuthError,
    BackendError,
    NotFound,
    PreconditionFailed,
    Rejected,
    ResyncRequired,
)

#: The kind label of this backend's metrics.
KIND = "google"

SCOPES = ("https://www.googleapis.com/auth/calendar",)
RATE_LIMIT_REASONS = ("rateLimitExceeded", "userRateLimitExceeded")
# 403s about the account's quota, not about one event: the binding backs off.
QUOTA_REASONS = (*RATE_LIMIT_REASONS, "quotaExceeded", "dailyLimitExceeded", "usageLimits")
RETRY_STATUSES = (429, 500, 502, 503, 504)
T = TypeVar("T")


@dataclass(frozen=True)
class GoogleSettings:
    """How to reach one user's calendar. Endpoints are configurable (tests use the emulator)."""

    calendar_id: str = "primary"
    api_endpoint: str = "https://www.googleapis.com/calendar/v3/"
    batch_uri: str = "https://www.googleapis.com/batch/calendar/v3"
    token_uri: str = "https://oauth2.googleapis.com/token"
    requests_per_second: float = 5.0  # per backend instance, i.e. per user
    burst: int = 10  # requests allowed back to back before pacing starts
    max_retries: int = 5
    backoff_base: float = 1.0  # seconds; back-off is base * 2**attempt with full jitter
    backoff_max: float = 60.0
    timeout: float = 30.0  # socket timeout per HTTP request, seconds
    page_size: int = 1000
    batch_size: int = 50
    full_sync_days_back: int | None = None  # None: a full list has no time window


class GoogleAuthError(AuthError):
    """The credentials do not work (revoked refresh token, unauthorised client ...): the
    seam's AuthError, as every backend raises it."""


class Duplicate(BackendError):
    """409: an event with the client-chosen id already exists (idempotent create)."""


def user_credentials(
    refresh_token: str,
    client_id: str,
    client_secret: str,
    token_uri: str = GoogleSettings.token_uri,
) -> user_creds.Credentials:
    """OAuth user credentials (from `bridge google authorize`) that refresh at token_uri."""
    return user_creds.Credentials(
        token=None,
        refresh_token=refresh_token,
        client_id=client_id,
        client_secret=client_secret,
        token_uri=token_uri,
        scopes=list(SCOPES),
    )


def service_account_credentials(
    info: dict[str, Any], subject: str, token_uri: str | None = None
) -> service_account.Credentials:
    """Service-account credentials acting as ``subject`` (domain-wide delegation)."""
    info = dict(info)
    if token_uri:
        info["token_uri"] = token_uri
    creds = service_account.Credentials.from_service_account_info(info, scopes=list(SCOPES))
    return creds.with_subject(subject)


class Unbound:
    """The http of the shared service: it sends nothing. Every request is given its
    binding's own authorised http before it is executed (``GoogleBackend._run``, the batch
    parts), so a request that was not fails here instead of going out without credentials."""

    credentials = None

    def request(self, uri: str, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(f"Google request to {uri} has no binding's credentials (http unset)")

    def close(self) -> None:
        return None


@dataclass(frozen=True)
class CalendarApi:
    """The Calendar v3 resources of one endpoint, shared by every backend of the process.

    googleapiclient builds them from the bundled discovery document: about 1 MB of parsed
    JSON, method docstrings and schemas per build, the same for every binding. They hold
    no credentials and no connection (their http is ``Unbound``) and make requests without
    changing themselves, so one set serves every binding and thread; what is per binding
    (credentials, connections, pacing) is the backend's ``http`` and ``limiter``."""

    events: Any
    calendars: Any
    channels: Any


#: Endpoints whose resources are kept (production has one; a test process meets an
#: emulator per test, and must not keep ~1 MB for each). A backend holds its own reference,
#: so one dropped here stays usable by the backends made with it.
KEPT_ENDPOINTS = 4
_apis: OrderedDict[str, CalendarApi] = OrderedDict()
_apis_lock = threading.Lock()


def calendar_api(api_endpoint: str) -> CalendarApi:
    """The process's CalendarApi for ``api_endpoint``, built on first use (~12 ms); the
    ``KEPT_ENDPOINTS`` most recently used are kept."""
    with _apis_lock:
        api = _apis.get(api_endpoint)
        if api is None:
            service = build(
                "calendar",
                "v3",
                http=Unbound(),
                static_discovery=True,
                cache_discovery=False,
                client_options={"api_endpoint": api_endpoint},
            )
            api = CalendarApi(service.events(), service.calendars(), service.channels())
            _apis[api_endpoint] = api
            while len(_apis) > KEPT_ENDPOINTS:
                _apis.popitem(last=False)
        _apis.move_to_end(api_endpoint)
        return api


def authorized_http(credentials: Any, settings: GoogleSettings) -> Any:
    """One binding's http: its credentials (token refreshed when due) over its connections."""
    return google_auth_httplib2.AuthorizedHttp(
        credentials, http=httplib2.Http(timeout=settings.timeout)
    )


class RateLimiter:
    """Paces requests to ``rate`` per second after a burst of ``burst`` (GCRA token bucket).

    ``acquire(n)`` counts a batch of n calls as n requests, as Google's quota does.
    """

    def __init__(
        self,
        rate: float,
        burst: int = 1,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self.tolerance = max(burst - 1, 0) * self.interval
        self.clock = clock
        self.sleep = sleep
        self.lock = threading.Lock()
        self.tat = 0.0  # theoretical arrival time of the next request

    def acquire(self, n: int = 1) -> float:
        """Wait until ``n`` more requests fit; returns the seconds waited."""
        if self.interval == 0:
            return 0.0
        with self.lock:
            now = self.clock()
            tat = max(self.tat, now)
            wait = max(tat - self.tolerance - now, 0.0)
            self.tat = tat + n * self.interval
        if wait:
            self.sleep(wait)
        return wait


# --- errors ---------------------------------------------------------------------------------


def status_of(error: HttpError) -> int:
    return int(error.resp.status)


def reason_of(error: HttpError) -> str:
    """Google's error reason ("rateLimitExceeded", "conditionNotMet" ...), or ""."""
    try:
        data = json.loads(error.content.decode("utf-8") if error.content else "{}")
        details = data.get("error", {})
        if isinstance(details, dict):
            errors = details.get("errors") or []
            if errors and errors[0].get("reason"):
                return str(errors[0]["reason"])
            return str(details.get("status") or "")
        return str(details)
    except (ValueError, AttributeError, UnicodeDecodeError):
        return ""


def message_of(error: HttpError) -> str:
    try:
        data = json.loads(error.content.decode("utf-8") if error.content else "{}")
        return str(data.get("error", {}).get("message", ""))
    except (ValueError, AttributeError, UnicodeDecodeError):
        return ""


def retryable(exc: BaseException) -> bool:
    if isinstance(exc, HttpError):
        status = status_of(exc)
        return status in RETRY_STATUSES or (status == 403 and reason_of(exc) in RATE_LIMIT_REASONS)
    return isinstance(exc, (TimeoutError, ConnectionError))


def retry_after(exc: BaseException | None) -> float | None:
    if isinstance(exc, HttpError):
        value = exc.resp.get("retry-after")
        if value is not None:
            try:
                return max(float(value), 0.0)
            except ValueError:
                return None
    return None


def backoff(settings: GoogleSettings, attempt: int, exc: BaseException | None) -> float:
    """Seconds to wait before retry number ``attempt`` (1-based): Retry-After, else jitter."""
    told = retry_after(exc)
    if told is not None:
        return min(told, settings.backoff_max)
    ceiling = min(settings.backoff_base * 2 ** (attempt - 1), settings.backoff_max)
    return random.uniform(0, ceiling)


def retrying(settings: GoogleSettings) -> Retrying:
    def wait(state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome is not None else None
        return backoff(settings, state.attempt_number, exc)

    return Retrying(
        retry=retry_if_exception(retryable),
        wait=wait,
        stop=stop_after_attempt(settings.max_retries + 1),
        reraise=True,
    )


def to_backend_error(exc: BaseException, what: str) -> BackendError:
    """The BackendError (subclass) for a failed call; the message names status and reason."""
    if isinstance(exc, BackendError):
        return exc
    if isinstance(exc, HttpError):
        status, reason = status_of(exc), reason_of(exc)
        text = f"Google Calendar {what}: HTTP {status} {reason}".rstrip()
        detail = message_of(exc)
        if detail:
            text += f" ({detail})"
        if status == 410 and reason == "fullSyncRequired":
            return ResyncRequired(text)
        if status == 412:
            return PreconditionFailed(text)
        if status in (404, 410):
            return NotFound(text)
        if status == 401:
            return GoogleAuthError(text)
        if status == 409:
            return Duplicate(text)
        if status == 400 or (status == 403 and reason not in QUOTA_REASONS):
            return Rejected(text)
        return BackendError(text)
    if isinstance(exc, RefreshError):
        return GoogleAuthError(f"Google Calendar {what}: {auth_problem(exc)}")
    if isinstance(exc, TransportError):
        return BackendError(f"Google Calendar {what}: token endpoint unreachable ({exc})")
    if isinstance(exc, TimeoutError):
        return BackendError(f"Google Calendar {what}: timed out")
    if isinstance(exc, OSError):
        return BackendError(f"Google Calendar {what}: connection failed ({exc})")
    return BackendError(f"Google Calendar {what}: {exc!r}")


def auth_problem(exc: RefreshError) -> str:
    text = str(exc)
    if "invalid_grant" in text:
        return "refresh token revoked (invalid_grant)"
    if "unauthorized_client" in text:
        return "OAuth client not authorised for this user (unauthorized_client)"
    if "invalid_client" in text:
        return "OAuth client id or secret wrong (invalid_client)"
    return f"token refresh failed ({text})"


def call(
    settings: GoogleSettings,
    limiter: RateLimiter,
    what: str,
    request: Callable[[], T],
    *,
    cost: int = 1,
) -> T:
    """Run one API call paced and retried; failures become BackendError subclasses.

    ``cost`` is how many calls the request counts as for pacing (a batch counts its parts).
    """
    try:
        for attempt in retrying(settings):
            with attempt:
                metrics.throttled(KIND, limiter.acquire(cost))
                metrics.remote_call(KIND, retry=attempt.retry_state.attempt_number > 1)
                return request()
    except Exception as exc:  # noqa: BLE001 - every failure leaves as a BackendError
        raise to_backend_error(exc, what) from exc
    raise AssertionError("unreachable")  # pragma: no cover
