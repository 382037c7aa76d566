"""In-process WSGI client: calls the application with a constructed environ, no sockets."""

from __future__ import annotations

import base64
import io
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from wsgiref.util import setup_testing_defaults

WSGIApp = Callable[..., Iterable[bytes]]


class BadStatus(RuntimeError):
    """A response with a status the benchmark did not expect."""


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes
    elapsed: float  # seconds, the app call including reading the whole body

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


@dataclass
class Client:
    app: WSGIApp
    name: str
    login: str = "bench"
    password: str = "bench"
    extra_headers: dict[str, str] = field(default_factory=dict)

    def _environ(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> dict:
        environ: dict = {}
        setup_testing_defaults(environ)
        environ.update(
            REQUEST_METHOD=method,
            PATH_INFO=path,
            SCRIPT_NAME="",
            QUERY_STRING="",
            CONTENT_LENGTH=str(len(body)),
            SERVER_PROTOCOL="HTTP/1.1",
            REMOTE_ADDR="127.0.0.1",
        )
        environ["wsgi.input"] = io.BytesIO(body)
        environ["wsgi.errors"] = io.StringIO()
        token = base64.b64encode(f"{self.login}:{self.password}".encode()).decode()
        environ["HTTP_AUTHORIZATION"] = f"Basic {token}"
        for key, value in {**self.extra_headers, **headers}.items():
            name = key.upper().replace("-", "_")
            if name == "CONTENT_TYPE":
                environ["CONTENT_TYPE"] = value
            else:
                environ[f"HTTP_{name}"] = value
        return environ

    def request(
        self,
        method: str,
        path: str,
        body: str | bytes = b"",
        *,
        headers: dict[str, str] | None = None,
        expect: tuple[int, ...] = (200, 201, 204, 207),
    ) -> Response:
        """One request; raises BadStatus when the status is not in ``expect``."""
        if isinstance(body, str):
            body = body.encode("utf-8")
        environ = self._environ(method, path, body, headers or {})
        captured: dict = {}

        def start_response(status: str, response_headers: list, exc_info: object = None) -> None:
            captured["status"] = status
            captured["headers"] = dict(response_headers)

        begin = time.perf_counter()
        chunks = self.app(environ, start_response)
        try:
            payload = b"".join(chunks)
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
        elapsed = time.perf_counter() - begin
        status = int(captured["status"].split(" ", 1)[0])
        response = Response(status, captured["headers"], payload, elapsed)
        if status not in expect:
            raise BadStatus(
                f"{self.name}: {method} {path} answered {captured['status']} "
                f"(expected {'/'.join(map(str, expect))}):\n{response.text[:2000]}\n"
                f"--- server log ---\n{environ['wsgi.errors'].getvalue()[-4000:]}"
            )
        return response
