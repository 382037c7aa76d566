"""WSGI middleware: a request's store writes are committed only with a success answer.

Radicale may change the storage and still answer an error (PROPPATCH of
DAV:resourcetype writes the properties, then answers 400). Around Radicale, this
middleware opens a request scope (bridge.store.request_scope): the request's write
transaction stays open after Radicale releases its lock, and is committed once the
status is known and below 400, or rolled back. The commit happens before the answer is
passed on, so a client never sees a success for a write that is not durable; a failing
commit becomes an exception (a 500 from the server) rather than a false success.

On MariaDB a write request locks only what it touches, so two requests can deadlock and
InnoDB aborts one of them (Radicale answers it 500). When the store saw such a lock
conflict in the request (``Scope.lock_conflict``), the request is rolled back and run
again with the same body, a few times, before its answer is passed on.
"""

from __future__ import annotations

import io
import logging
import random
import time
from collections.abc import Callable, Iterable
from typing import Any

from bridge.store.request_scope import answer_decides

log = logging.getLogger(__name__)

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict, StartResponse], Iterable[bytes]]


ATTEMPTS = 5


def _request_body(environ: dict) -> bytes:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    return environ["wsgi.input"].read(length) if length > 0 else b""


def _attempt(app: WSGIApp, environ: dict, data: bytes, last: bool) -> tuple[dict, bytes, bool]:
    """Run the request once in its own scope: (answer, body, whether to run it again)."""
    answer: dict[str, Any] = {}

    def remember(status: str, headers: list, exc_info: Any = None) -> Callable:
        answer.update(status=status, headers=headers, exc_info=exc_info)
        return lambda data: None  # Radicale returns its body, it never writes

    with answer_decides() as scope:
        body = b"".join(app({**environ, "wsgi.input": io.BytesIO(data)}, remember))
        code = int(str(answer["status"]).split(" ", 1)[0])
        scope.finish(commit=code < 400 and not scope.lock_conflict)
    return answer, body, scope.lock_conflict and not last


def commit_on_success(app: WSGIApp) -> WSGIApp:
    def wrapped(environ: dict, start_response: StartResponse) -> Iterable[bytes]:
        data = _request_body(environ)
        for attempt in range(1, ATTEMPTS + 1):
            answer, body, again = _attempt(app, environ, data, attempt == ATTEMPTS)
            if not again:
                break
            log.info("%s: lock conflict, running it again", environ.get("REQUEST_METHOD"))
            time.sleep(random.uniform(0, 0.02 * 2**attempt))
        start_response(answer["status"], answer["headers"], answer.get("exc_info"))
        return [body]

    return wrapped
