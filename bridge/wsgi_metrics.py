"""The outermost WSGI layer of `bridge serve`: every CalDAV request gets a request id (in
its log lines and the ``X-Request-Id`` answer header) and is counted in
bridge.metrics by method and status, timed until its body has been sent."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from bridge import log_context, metrics

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class _Measured:
    """The answer's body, passed through; counted when the server closes it."""

    def __init__(self, body: Iterable[bytes], done: Callable[[], None]) -> None:
        self._body, self._done = body, done

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._body)

    def close(self) -> None:
        try:
            close = getattr(self._body, "close", None)  # WSGI: close() if the body has one
            if close is not None:
                close()
        finally:
            self._done()


def measured(app: WSGIApp) -> WSGIApp:
    def wrapper(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        started = time.perf_counter()
        method = metrics.caldav_method(environ.get("REQUEST_METHOD", ""))
        status = ["500"]
        request_id = log_context.new_id()

        def start(line: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            status[0] = line.split(" ", 1)[0]
            return start_response(line, [*headers, ("X-Request-Id", request_id)], exc_info)

        def done() -> None:
            metrics.CALDAV_REQUESTS.labels(method, status[0]).inc()
            metrics.CALDAV_SECONDS.labels(method).observe(time.perf_counter() - started)

        with log_context.request(request_id):
            try:
                body = app(environ, start)
            except BaseException:
                done()
                raise
        return _Measured(body, done)

    return wrapper
