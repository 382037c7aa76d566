"""The HTTP status of a refusal that Radicale cannot express.

Radicale answers every ValueError from a storage write with 400 Bad Request (500 for
DELETE). A refusal of ours that means something else carries ``http_status`` (e.g.
``bridge.store.errors.Forbidden``: 403). Radicale logs the exception it caught as an
argument of its message; this middleware watches that log per request thread and, when
the request failed with such an exception, answers its status instead. bridge.wsgi.ErrorDetails,
outside it, then puts the logged reason in the body.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from http import HTTPStatus

from bridge.wsgi import Answer, StartResponse, WSGIApp


class _Watcher(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.local = threading.local()

    def emit(self, record: logging.LogRecord) -> None:
        if getattr(self.local, "status", 0) is not None:
            return  # not inside a request, or decided already
        # Radicale logs the exception as a %s argument (its own filter drops exc_info).
        args = record.args if isinstance(record.args, tuple) else ()
        caught = [record.exc_info[1] if record.exc_info else None, *args]
        for candidate in caught:
            status = getattr(candidate, "http_status", None)
            if isinstance(candidate, Exception) and isinstance(status, int):
                self.local.status = status
                return


class RefusalStatus:
    def __init__(self, app: WSGIApp, *, logger_name: str = "radicale") -> None:
        self.app = app
        self._watcher = _Watcher()
        logging.getLogger(logger_name).addHandler(self._watcher)

    def __call__(self, environ: dict, start_response: StartResponse) -> Iterable[bytes]:
        self._watcher.local.status = None
        try:
            answer = Answer.of(self.app, environ)
            wanted = self._watcher.local.status
        finally:
            self._watcher.local.status = 0
        status = answer.status
        if wanted is not None and answer.code >= 400:
            status = f"{wanted} {HTTPStatus(wanted).phrase}"
        start_response(status, answer.headers, answer.exc_info)
        return [answer.body]
