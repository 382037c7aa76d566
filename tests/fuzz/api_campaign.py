"""The HTTP API's fuzz campaign (tests/fuzz/test_api_campaign.py): hostile requests to
every route of a live `bridge api` (tests.support.api_alone), checked one by one.

After every case:

- it was answered, within ``SLOW_SECONDS``, and not with a 5xx;
- a hostile body on a route that reads bodies got a 4xx;
- a 4xx is the JSON error ``{"error": {"status", "message"}}`` (except the cases the
  HTTP parser refuses before any route runs, ``Case.protocol``);
- a refused request, and any read, changed nothing stored (a digest of every table);
- nothing of dave's reached a request made with alice's key (his marker never shows).

At the end the server is still healthy and its memory grew by less than ``MAX_GROWTH``.
Failures are collected, not raised, so one run lists them all.
"""

from __future__ import annotations

import http.client
import json
import re
import socket
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import requests

from tests.fuzz.api_cases import ADMIN, ALICE, BINDING, UID, Case
from tests.support.api_alone import ApiAlone
from tests.support.api_matrix import fingerprint_of, meeting_body

SLOW_SECONDS = 5.0
MAX_GROWTH = 150 * 1024 * 1024
DAVE_MARKER = "MKDAVEFUZZ"
#: Routes that read a request body: a hostile one must be refused there.
READS_BODY = ("/api/users/alice/meetings", "/api/meetings/", "/webhooks/")


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes


def send_raw(port: int, case: Case, timeout: float) -> Answer:
    """The case's bytes on a fresh connection (Connection: close), the answer read back."""
    headers = {"Host": f"127.0.0.1:{port}", "Connection": "close", **case.headers}
    headers.setdefault("Content-Length", str(len(case.body)))
    head = f"{case.method} {case.path} HTTP/1.1\r\n" + "".join(
        f"{name}: {value}\r\n" for name, value in headers.items()
    )
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        try:
            sock.sendall(head.encode("utf-8", "surrogateescape") + b"\r\n" + case.body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused before the whole body was sent: the answer is still there
        response = http.client.HTTPResponse(sock)
        response.begin()
        body = response.read()
        return Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, body)
    finally:
        sock.close()


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for {pid}")


@dataclass
class Campaign:
    api: ApiAlone
    db_url: str
    failures: list[str] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)
    by_kind: dict[str, Counter] = field(default_factory=dict)
    slowest: tuple[float, str] = (0.0, "")

    def __post_init__(self) -> None:
        self.fingerprint = fingerprint_of(self.db_url)
        self.admin = {"Authorization": ADMIN}
        status = requests.get(self.api.url + "/status.json", headers=self.admin, timeout=30)
        self.binding_id = status.json()["bindings"][0]["id"]
        daves = requests.post(
            self.api.url + "/api/users/dave/meetings",
            json=meeting_body(DAVE_MARKER),
            headers=self.admin,
            timeout=30,
        )
        assert daves.status_code == 201, daves.text
        self.dave_uid = daves.json()["uid"]
        self.uid = self._seed()
        page = requests.get(self.api.url + "/status", headers=self.admin, timeout=30).text
        self.csrf = re.search(r'name="csrf-token" content="([0-9a-f]+)"', page).group(1)
        self.rss_before = rss_bytes(self.api.process.pid)

    def _seed(self) -> str:
        made = requests.post(
            self.api.url + "/api/users/alice/meetings",
            json=meeting_body("Seed"),
            headers=self.admin,
            timeout=30,
        )
        assert made.status_code == 201, made.text
        return made.json()["uid"]

    def _fail(self, case: Case, problem: str) -> None:
        self.failures.append(f"{problem}\n    {case.describe()}")

    def run(self, case: Case) -> None:
        path = case.path.replace(UID, self.uid).replace(BINDING, str(self.binding_id))
        headers = dict(case.headers)
        if path.startswith("/status/bindings/") and headers.get("Authorization") == ADMIN:
            headers["X-Bridge-CSRF"] = self.csrf  # past the token check, to the id's parsing
        case = Case(case.kind, case.method, path, case.body, headers, case.protocol)
        before = self.fingerprint()
        started = time.monotonic()
        try:
            answer = send_raw(self.api.port, case, timeout=2 * SLOW_SECONDS)
        except (OSError, http.client.HTTPException) as error:
            self._fail(case, f"no answer: {type(error).__name__}: {error}")
            return
        took = time.monotonic() - started
        if took > self.slowest[0]:
            self.slowest = (took, case.describe()[:200])
        changed = self.fingerprint() != before
        self.statuses[answer.status] += 1
        self.by_kind.setdefault(case.kind, Counter())[answer.status] += 1
        self._check(case, answer, took, changed)
        if case.method == "DELETE" and answer.status == 204:
            self.uid = self._seed()

    def _check(self, case: Case, answer: Answer, took: float, changed: bool) -> None:
        status = answer.status
        if took > SLOW_SECONDS:
            self._fail(case, f"answered {status} after {took:.1f} s")
        if status >= 500:
            self._fail(case, f"a {status}: {answer.body[:300]!r}")
            return
        hostile = case.kind not in ("drawn body", "path trick", "wrong method") and case.body
        if "start=0001" in case.path or "%00Z" in case.path:  # bad dates in a query
            hostile = True
        reads = case.path.startswith(READS_BODY) or "?start=" in case.path
        if hostile and reads and status < 400:
            self._fail(case, f"a hostile body was let through ({status})")
        if status >= 400 and not case.protocol:
            try:
                error = json.loads(answer.body)["error"]
                assert error["status"] == status and str(error["message"]).strip()
            except (ValueError, KeyError, TypeError, AssertionError):
                self._fail(case, f"a {status} that is not the JSON error: {answer.body[:200]!r}")
        if case.protocol and not 400 <= status < 500:
            self._fail(case, f"the HTTP parser's case answered {status}")
        if changed and (status >= 400 or case.method in ("GET", "HEAD", "TRACE")):
            self._fail(case, f"a {case.method} answered {status} changed the store")
        if case.headers.get("Authorization") == ALICE and DAVE_MARKER.encode() in answer.body:
            self._fail(case, "dave's meeting reached alice's key")

    def finish(self) -> None:
        health = requests.get(self.api.url + "/health", timeout=10)
        if health.status_code != 200:
            self.failures.append(f"unhealthy at the end: {health.status_code} {health.text}")
        dave = requests.get(
            f"{self.api.url}/api/meetings/{self.dave_uid}", headers=self.admin, timeout=10
        )
        if dave.status_code != 200 or dave.json()["subject"] != DAVE_MARKER:
            self.failures.append(f"dave's meeting changed: {dave.status_code} {dave.text[:200]}")
        growth = rss_bytes(self.api.process.pid) - self.rss_before
        if growth > MAX_GROWTH:
            self.failures.append(f"the server's memory grew by {growth / 2**20:.0f} MiB")
        self.growth = growth

    def report(self) -> str:
        lines = [
            f"{sum(self.statuses.values())} cases; statuses {dict(sorted(self.statuses.items()))}"
        ]
        for kind, counts in sorted(self.by_kind.items()):
            lines.append(f"  {kind}: {dict(sorted(counts.items()))}")
        lines.append(f"slowest {self.slowest[0]:.2f} s: {self.slowest[1]}")
        lines.append(f"memory growth: {getattr(self, 'growth', 0) / 2**20:.1f} MiB")
        lines.append(f"failures: {len(self.failures)}")
        return "\n".join(lines + self.failures[:60])
