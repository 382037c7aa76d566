"""One CalDAV session over the caldav client library, and HTTP answers as BackendErrors.

``Session.send`` returns the answer of any status below 400 (and the ones the caller says it
handles); every other status becomes the error the engine acts on: 401 AuthError, 404
NotFound, 412 PreconditionFailed, 400/403/415 on one object Rejected (on the collection 403 is
an AuthError: no permission), 5xx, rate limits and connection failures BackendError.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

import caldav
from caldav.lib import error as dav_error

from bridge import metrics
from bridge.backends.base import (
    AuthError,
    BackendError,
    NotFound,
    PreconditionFailed,
    Rejected,
)
from bridge.backends.caldav.settings import CaldavSettings


@dataclass(frozen=True)
class Answer:
    status: int
    headers: Mapping[str, str]
    body: bytes
    preconditions: tuple[str, ...] = ()

    @property
    def etag(self) -> str:
        return self.headers.get("ETag", "") or self.headers.get("etag", "")

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


class Session:
    """The caldav client for one binding: connections, auth negotiation and timeout."""

    def __init__(self, settings: CaldavSettings) -> None:
        self.settings = settings
        self.client = caldav.DAVClient(
            url=settings.url,
            username=settings.username,
            password=settings.password,
            timeout=settings.timeout,
            ssl_verify_cert=settings.verify_tls,
            enable_rfc6764=False,
            auth_type=None if settings.auth_type == "auto" else settings.auth_type,
        )

    def close(self) -> None:
        self.client.close()

    def send(
        self,
        method: str,
        url: str,
        body: str = "",
        headers: Mapping[str, str] | None = None,
        *,
        one_object: bool = False,
        handled: Collection[int] = (),
    ) -> Answer:
        what = f"CalDAV {method} {url}"
        metrics.remote_call("caldav")
        try:
            raw = self.client.request(url, method, body, dict(headers or {}))
        except dav_error.AuthorizationError as exc:
            status = exc.status or 401
            answer = Answer(status, {}, _bytes(exc.body), tuple(exc.preconditions))
            if status in handled:
                return answer
            if status == 403 and one_object:
                raise Rejected(f"{what}: 403 forbidden") from None
            raise AuthError(f"{what}: {status} {exc.reason}") from None
        except dav_error.RateLimitError as exc:
            raise BackendError(f"{what}: 429 rate limited ({exc})") from None
        except dav_error.DAVError as exc:
            raise BackendError(f"{what}: {exc}") from None
        except OSError as exc:  # requests/niquests connection errors and timeouts
            raise BackendError(f"{what}: server unreachable ({exc})") from None
        body_bytes = getattr(raw, "_raw_body", b"") or _bytes(raw.raw)
        answer = Answer(
            raw.status,
            dict(raw.headers),
            body_bytes,
            tuple(dav_error.parse_preconditions(body_bytes)) if raw.status >= 400 else (),
        )
        if answer.status < 400 or answer.status in handled:
            return answer
        raise error_for(what, answer, one_object=one_object)


def strong(etag: str) -> str:
    """An etag compared as If-Match compares it (a weak W/ prefix dropped)."""
    text = etag.strip()
    return text[2:] if text.startswith("W/") else text


def _bytes(body: bytes | str | None) -> bytes:
    if body is None:
        return b""
    return body.encode("utf-8") if isinstance(body, str) else body


def error_for(what: str, answer: Answer, *, one_object: bool) -> BackendError:
    status = answer.status
    detail = f"{what}: {status} {answer.text[:200].strip()}".rstrip()
    if status == 401:
        return AuthError(detail)
    if status == 404:
        return NotFound(detail)
    if status == 412:
        return PreconditionFailed(detail)
    if one_object and status in (400, 403, 409, 415, 422):
        return Rejected(detail)
    if status == 403:
        return AuthError(detail)
    return BackendError(detail)
