"""WSGI middleware: a request's store writes are committed only with a success answer.

Radicale may change the storage and still answer an error (PROPPATCH of
DAV:resourcetype writes the properties, then answers 400). Around Radicale, this
middleware opens a request scope (bridge.store.request_scope): the request's write
transaction stays open after Radicale releases its lock, and is committed once the
status is known and below 400, or rolled back. The commit happens before the answer is
passed on, so a client never sees a success for a write that is not durable; a failing
commit becomes an exception (a 500 from the server) rather than a false success.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from bridge.store.request_scope import answer_decides

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict, StartResponse], Iterable[bytes]]


def commit_on_success(app: WSGIApp) -> WSGIApp:
    def wrapped(environ: dict, start_response: StartResponse) -> Iterable[bytes]:
        answer: dict[str, Any] = {}

        def remember(status: str, headers: list, exc_info: Any = None) -> Callable:
            answer.update(status=status, headers=headers, exc_info=exc_info)
            return lambda data: None  # Radicale returns its body, it never writes

        with answer_decides() as scope:
            body = b"".join(app(environ, remember))
            code = int(str(answer["status"]).split(" ", 1)[0])
            scope.finish(commit=code < 400)
        start_response(answer["status"], answer["headers"], answer.get("exc_info"))
        return [body]

    return wrapped
