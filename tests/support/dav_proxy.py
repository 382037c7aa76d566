"""A small recording, fault-injecting HTTP proxy between a CalDAV client and a stock server.

Every request is forwarded unchanged to ``upstream`` and recorded (method, path, headers,
body). Faults answer in place of the server, as RFC 4918/4791/6578 say a server answers:
``fail_next(kind, status, count)`` for the next requests of a kind ("create": PUT with
If-None-Match, "update": PUT with If-Match, "delete", "list": sync-collection REPORT or
Depth 1 PROPFIND), ``reject(name, status)`` for every write to one object, and
``expire_next_token()`` answers the next sync-collection with a token 403 +
DAV:valid-sync-token (RFC 6578 3.2; Radicale's own answer to a token it lost).
"""

from __future__ import annotations

import http.client
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "proxy-connection"}
TOKEN_GONE = (
    b'<?xml version="1.0" encoding="utf-8"?>\n'
    b'<D:error xmlns:D="DAV:"><D:valid-sync-token/></D:error>'
)
WRITES = {"PUT", "DELETE", "PROPPATCH", "MKCALENDAR", "MKCOL", "MOVE", "COPY"}
_PEOPLE = re.compile(r"^(ATTENDEE|ORGANIZER)[;:]", re.IGNORECASE)


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    status: int = 0

    @property
    def kind(self) -> str:
        if self.method == "PUT":
            return "create" if "if-none-match" in self.headers else "update"
        if self.method == "DELETE":
            return "delete"
        if self.method == "REPORT" and b"sync-collection" in self.body:
            return "list"
        if self.method == "PROPFIND" and self.headers.get("depth") == "1":
            return "list"
        return self.method.lower()


@dataclass
class Faults:
    next: dict[str, list[int]] = field(default_factory=dict)
    rejected: dict[str, tuple[int, int]] = field(default_factory=dict)  # name: (status, times)
    expire_token: bool = False
    no_sync_collection: bool = False
    #: OPTIONS answers add RFC 6638's "calendar-auto-schedule" to the DAV header, as a
    #: server with implicit scheduling does (Radicale stores the objects; nobody is mailed,
    #: mailed() tells whom such a server would have mailed).
    offers_scheduling: bool = False


class DavProxy:
    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.records: list[Recorded] = []
        self.faults = Faults()
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # --- faults -------------------------------------------------------------------------------
    def fail_next(self, kind: str, status: int, count: int = 1) -> None:
        if kind not in ("create", "update", "delete", "list"):
            raise ValueError(f"unknown request kind {kind!r}")
        with self.lock:
            self.faults.next.setdefault(kind, []).extend([status] * count)

    def reject(self, name: str, status: int = 403, times: int = 10**9) -> None:
        """Writes (PUT, DELETE) of object ``name`` answer ``status``, ``times`` times."""
        with self.lock:
            self.faults.rejected[name] = (status, times)

    def expire_next_token(self) -> None:
        with self.lock:
            self.faults.expire_token = True

    def _fault(self, request: Recorded) -> tuple[int, bytes] | None:
        with self.lock:
            name = unquote(request.path).rstrip("/").rsplit("/", 1)[-1]
            if request.method in ("PUT", "DELETE") and name in self.faults.rejected:
                status, times = self.faults.rejected[name]
                if times <= 1:
                    del self.faults.rejected[name]
                else:
                    self.faults.rejected[name] = (status, times - 1)
                return status, b""
            if self.faults.no_sync_collection and b"sync-collection" in request.body:
                # a server without RFC 6578: the REPORT is not supported (RFC 3253 3.6)
                body = b'<D:error xmlns:D="DAV:"><D:supported-report/></D:error>'
                return 403, body
            queue = self.faults.next.get(request.kind)
            if queue:
                return queue.pop(0), b""
            if (
                self.faults.expire_token
                and request.kind == "list"
                and re.search(rb"<[^>]*sync-token>\s*[^<\s]", request.body)
            ):
                self.faults.expire_token = False
                return 403, TOKEN_GONE
        return None

    # --- counters -----------------------------------------------------------------------------
    def writes(self) -> list[Recorded]:
        return [r for r in self.records if r.method in WRITES]

    def mailed(self) -> list[str]:
        """ATTENDEE/ORGANIZER lines written without SCHEDULE-AGENT=CLIENT: a scheduling
        server (RFC 6638) would mail those people."""
        found = []
        for record in self.records:
            if record.method != "PUT":
                continue
            text = record.body.decode("utf-8", errors="replace").replace("\r\n ", "")
            for line in text.splitlines():
                head = line.split(":", 1)[0].upper()
                if _PEOPLE.match(line) and "SCHEDULE-AGENT=CLIENT" not in head:
                    found.append(f"{record.path}: {line}")
        return found


def _handler(proxy: DavProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            return None

        def _any(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            request = Recorded(self.command, self.path, headers, body)
            fault = proxy._fault(request)
            if fault is not None:
                status, data = fault
                answer_headers = {"Content-Type": "application/xml; charset=utf-8"}
            else:
                status, answer_headers, data = _forward(proxy, request)
                if self.command == "OPTIONS" and proxy.faults.offers_scheduling:
                    dav = next((k for k in answer_headers if k.lower() == "dav"), "DAV")
                    offered = answer_headers.get(dav, "1")
                    answer_headers[dav] = f"{offered}, calendar-auto-schedule"
            with proxy.lock:
                proxy.records.append(Recorded(request.method, request.path, headers, body, status))
            self.send_response(status)
            for key, value in answer_headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_PUT = do_DELETE = do_PROPFIND = do_REPORT = do_OPTIONS = _any
        do_PROPPATCH = do_MKCALENDAR = do_MKCOL = do_HEAD = do_POST = do_MOVE = _any

    return Handler


def _forward(proxy: DavProxy, request: Recorded) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection(*proxy.upstream, timeout=30)
    try:
        headers = {k: v for k, v in request.headers.items() if k not in HOP}
        conn.request(request.method, request.path, body=request.body, headers=headers)
        answer = conn.getresponse()
        data = answer.read()
        kept = {k: v for k, v in answer.getheaders() if k.lower() not in HOP}
        return answer.status, kept, data
    finally:
        conn.close()
