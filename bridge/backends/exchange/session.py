"""One mailbox over EWS with exchangelib: the account (fixed server version, no
autodiscover, Basic or NTLM, delegate or impersonation), retries honouring ErrorServerBusy's
BackOffMilliseconds, and exchangelib's errors as the seam's.

Every exchangelib call of the backend goes through ``Session.call``, so no library
exception escapes: AuthError for refused credentials or rights, NotFound,
PreconditionFailed, ResyncRequired, Rejected for one item EWS will always refuse, and
BackendError naming the EWS response code for the rest.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import requests
from exchangelib import DELEGATE, IMPERSONATION, Account, Configuration, Credentials
from exchangelib import errors as ews
from exchangelib.protocol import FailFast
from exchangelib.transport import BASIC, NTLM
from exchangelib.version import EXCHANGE_2013, EXCHANGE_2016, EXCHANGE_2019, Version

from bridge import metrics
from bridge.backends.base import (
    AuthError,
    BackendError,
    NotFound,
    PreconditionFailed,
    Rejected,
    ResyncRequired,
)
from bridge.backends.exchange.settings import ExchangeSettings

T = TypeVar("T")
KIND = "exchange"  # the label of this backend's metrics (bridge.metrics)

BUILDS = {"2013": EXCHANGE_2013, "2016": EXCHANGE_2016, "2019": EXCHANGE_2019}

#: Response codes about one item that a retry would meet again (quarantined by sync).
_REJECTED_PREFIXES = ("ErrorCalendar", "ErrorInvalid", "ErrorSchemaValidation")
_REJECTED = {"ErrorAccessDenied", "ErrorObjectTypeChanged", "ErrorPropertyUpdate"}
_REJECTED |= {"ErrorCannotDeleteObject", "ErrorItemSave", "ErrorRecurrenceHasNoOccurrence"}
#: Worth another try after a pause.
_TRANSIENT = (ews.ErrorServerBusy, ews.ErrorInternalServerTransientError, ews.ErrorTimeoutExpired)
_TRANSIENT += (requests.ConnectionError, requests.Timeout)


def code_of(error: BaseException) -> str:
    """The EWS response code an exchangelib error stands for (its class name)."""
    return type(error).__name__


def _http_status(error: BaseException) -> str:
    text = str(error)
    for status in ("400", "403", "404", "429", "500", "502", "503", "504"):
        if f"Code: {status}" in text or f"HTTP {status}" in text:
            return status
    return ""


def mapped(error: BaseException, what: str, mailbox: str) -> BackendError:
    """The seam's error for an exchangelib (or HTTP) failure of ``what``."""
    code = code_of(error)
    status = _http_status(error)
    where = f"EWS {what}"
    if isinstance(error, BackendError):
        return error
    if isinstance(error, ews.UnauthorizedError):
        return AuthError(f"{where}: the server refused the username or password (HTTP 401)")
    if isinstance(error, ews.ErrorImpersonateUserDenied):
        return AuthError(f"{where}: the account may not impersonate {mailbox} ({code})")
    if isinstance(error, ews.ErrorNonExistentMailbox):
        return AuthError(f"{where}: no mailbox {mailbox} on this server ({code})")
    if isinstance(error, ews.ErrorItemNotFound):
        return NotFound(f"{where}: the item is gone ({code})")
    if isinstance(error, ews.ErrorIrresolvableConflict):
        return PreconditionFailed(f"{where}: the item changed since its ChangeKey ({code})")
    if isinstance(error, ews.ErrorInvalidSyncStateData):
        return ResyncRequired(f"{where}: the SyncState is no longer valid ({code})")
    if isinstance(error, ValueError) and not isinstance(error, ews.EWSError):
        return Rejected(f"{where}: {error}")
    if code in _REJECTED or code.startswith(_REJECTED_PREFIXES) or status in ("400", "403"):
        return Rejected(f"{where}: {code}{f' (HTTP {status})' if status else ''}: {error}")
    if isinstance(error, requests.RequestException):
        return BackendError(f"{where}: cannot reach the server ({type(error).__name__})")
    detail = f" (HTTP {status})" if status else ""
    return BackendError(f"{where}: {code}{detail}: {str(error)[:300]}")


class Session:
    """The exchangelib Account of one binding, made once and kept (connections, NTLM)."""

    def __init__(self, settings: ExchangeSettings, sleep: Callable[[float], None] = time.sleep):
        self.settings = settings
        self.sleep = sleep
        self.waited: list[float] = []  # back-offs honoured (seconds), for tests and logs
        config = Configuration(
            service_endpoint=settings.url,
            credentials=Credentials(settings.username, settings.password),
            auth_type=NTLM if settings.auth_type == "ntlm" else BASIC,
            version=Version(build=BUILDS[settings.server_version]),
            retry_policy=FailFast(),
            max_connections=4,
        )
        self.account = Account(
            primary_smtp_address=settings.email,
            config=config,
            autodiscover=False,
            access_type=IMPERSONATION if settings.access_type == "impersonation" else DELEGATE,
            default_timezone=_utc_zone(),
        )
        self.account.protocol.TIMEOUT = settings.timeout

    def call(self, what: str, action: Callable[[], T]) -> T:
        """``action()``, retried on ErrorServerBusy (after its BackOffMilliseconds, at most
        ``max_back_off`` seconds) and transient failures; errors mapped (module doc)."""
        attempt = 0
        while True:
            metrics.remote_call(KIND, retry=attempt > 0)
            try:
                result = action()
                if isinstance(result, BaseException):
                    raise result
                return result
            except _TRANSIENT as error:
                if attempt >= self.settings.max_retries:
                    raise mapped(error, what, self.settings.email) from None
                back_off = getattr(error, "back_off", None) or min(2.0**attempt * 0.5, 8.0)
                wait = min(float(back_off), self.settings.max_back_off)
                self.waited.append(wait)
                if getattr(error, "back_off", None):  # ErrorServerBusy: the server's pace
                    metrics.throttled(KIND, wait)
                self.sleep(wait)
                attempt += 1
            except BackendError:
                raise
            except Exception as error:  # noqa: BLE001 - every library failure is mapped
                raise mapped(error, what, self.settings.email) from None

    def close(self) -> None:
        try:
            self.account.protocol.close()
        except Exception:  # noqa: BLE001,S110 - closing idle connections cannot matter
            pass


def _utc_zone():
    from exchangelib import EWSTimeZone

    return EWSTimeZone("UTC")
