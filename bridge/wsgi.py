"""WSGI glue between waitress and Radicale.

- ``utf8_paths``: PEP 3333 hands PATH_INFO over as Latin-1-decoded bytes; Radicale's own
  server re-decodes it as UTF-8, so under any other WSGI server we must do the same, or
  a calendar named "privé" is looked up as "privÃ©".
- ``ErrorDetails``: a refused CalDAV request says why. Radicale answers a refused request
  with a bare "Bad Request" and logs the reason (for example our storage's "unknown time
  zone 'Mars/Olympus' in DTSTART"). This middleware collects, per request thread, what
  Radicale logged at WARNING or above and puts it in the plain-text body of the 4xx
  answer; where Radicale logged nothing, ``explain`` (the rights' own reasons) may.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict, StartResponse], Iterable[bytes]]
MAX_DETAILS = 3


class _Collector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.local = threading.local()

    def emit(self, record: logging.LogRecord) -> None:
        messages = getattr(self.local, "messages", None)
        if messages is not None:
            text = record.getMessage().strip()
            if text and text not in messages:
                messages.append(text)


@dataclass
class Answer:
    """A WSGI application's whole answer, held back so a middleware can change it."""

    status: str
    headers: list
    body: bytes
    exc_info: Any = None

    @classmethod
    def of(cls, app: WSGIApp, environ: dict) -> Answer:
        seen: dict[str, Any] = {}

        def remember(status: str, headers: list, exc_info: Any = None) -> Callable:
            seen.update(status=status, headers=headers, exc_info=exc_info)
            return lambda data: None  # Radicale returns its body, it never writes

        body = b"".join(app(environ, remember))
        return cls(seen["status"], seen["headers"], body, seen.get("exc_info"))

    @property
    def code(self) -> int:
        return int(self.status.split(" ", 1)[0])


def utf8_paths(app: WSGIApp) -> WSGIApp:
    def fixed(environ: dict, start_response: StartResponse) -> Iterable[bytes]:
        raw = environ.get("PATH_INFO", "")
        try:
            environ["PATH_INFO"] = raw.encode("latin-1").decode("utf-8")
        except UnicodeError:
            pass  # not UTF-8 on the wire: leave it as the server decoded it
        return app(environ, start_response)

    return fixed


class ErrorDetails:
    def __init__(
        self,
        app: WSGIApp,
        *,
        explain: Callable[[dict, int], str | None] | None = None,
        logger_name: str = "radicale",
    ) -> None:
        """``explain(environ, status)`` may give a reason when Radicale logged none."""
        self.app = app
        self.explain = explain
        self._collector = _Collector()
        logger = logging.getLogger(logger_name)
        logger.addHandler(self._collector)
        if logger.getEffectiveLevel() > logging.WARNING:
            logger.setLevel(logging.WARNING)

    def __call__(self, environ: dict, start_response: StartResponse) -> Iterable[bytes]:
        self._collector.local.messages = []
        try:
            answer = Answer.of(self.app, environ)
            messages = self._collector.local.messages
        finally:
            self._collector.local.messages = None
        status, headers, body = answer.status, answer.headers, answer.body
        code = int(status.split(" ", 1)[0])
        content_type = next((v for k, v in headers if k.lower() == "content-type"), "")
        if 400 <= code < 500 and not messages and self.explain is not None:
            try:
                reason = self.explain(environ, code)
            except Exception:  # an explanation must never turn a refusal into a 500
                logging.getLogger("bridge").exception("explaining a %d failed", code)
                reason = None
            messages = [reason] if reason else []
        if 400 <= code < 500 and messages and content_type.startswith("text/plain"):
            body = f"{status}: {' | '.join(messages[-MAX_DETAILS:])}\n".encode()
            dropped = ("content-length", "content-encoding")
            headers = [(k, v) for k, v in headers if k.lower() not in dropped]
            headers.append(("Content-Length", str(len(body))))
        start_response(status, headers, answer.exc_info)
        return [body]
