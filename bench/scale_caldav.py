"""The mixed CalDAV load of the scale benchmark: many clients over real HTTP.

Each client is a thread with its own keep-alive connection, logged in (Basic, no password
check: ``auth = "none"``) as one user and working on that user's meetings calendar. A
client first syncs the calendar in full (``sync_initial``), then every ``sync_every``
seconds (jittered) runs one incremental sync-collection (``sync``) and, drawn each cycle,
a calendar-query for the current month (``month_query``, p=0.3), a PUT of a new event
(``put``, p=0.15) and a DELETE of one it put before (``delete``, p=0.1). Latencies are
measured around the whole request, body read.
"""

from __future__ import annotations

import base64
import http.client
import random
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime

from bench import data, reports

OPERATIONS = ("sync_initial", "sync", "month_query", "put", "delete")


@dataclass
class Tally:
    """Latencies per operation and failures, shared by every client (under a lock)."""

    seconds: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, op: str, elapsed: float, ok: bool) -> None:
        with self.lock:
            if ok:
                self.seconds[op].append(elapsed)
            else:
                self.errors[op] += 1


def percentile(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


class CaldavClient:
    def __init__(self, host: str, port: int, login: str, tally: Tally, seed: int) -> None:
        self.conn = http.client.HTTPConnection(host, port, timeout=120)
        self.login = login
        self.calendar = f"/{login}/meetings/"
        self.tally = tally
        self.rng = random.Random(seed)
        self.token = ""
        self.mine: list[str] = []
        self.made = 0
        auth = base64.b64encode(f"{login}:x".encode()).decode()
        self.headers = {"Authorization": f"Basic {auth}"}

    def request(self, op: str, method: str, path: str, body: str, headers: dict) -> bytes | None:
        begin = time.perf_counter()
        try:
            self.conn.request(method, path, body.encode(), {**self.headers, **headers})
            response = self.conn.getresponse()
            payload = response.read()
            ok = response.status < 300
        except (OSError, http.client.HTTPException):
            self.conn.close()  # reconnects on the next request
            payload, ok = None, False
        self.tally.add(op, time.perf_counter() - begin, ok)
        return payload if ok else None

    def sync(self, op: str) -> None:
        body = self.request(
            op,
            "REPORT",
            self.calendar,
            reports.sync_collection(self.token),
            {"Depth": "1", "Content-Type": "application/xml"},
        )
        if body is not None:
            self.token = reports.parse_multistatus(body).sync_token or self.token

    def month(self) -> None:
        now = datetime.now(UTC)
        first = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        nxt = first.replace(year=first.year + (first.month == 12), month=first.month % 12 + 1)
        stamp = "%Y%m%dT%H%M%SZ"
        query = reports.calendar_query(first.strftime(stamp), nxt.strftime(stamp))
        headers = {"Depth": "1", "Content-Type": "application/xml"}
        self.request("month_query", "REPORT", self.calendar, query, headers)

    def put(self) -> None:
        self.made += 1
        uid = f"load-{self.login}-{self.made}-{self.rng.randrange(1 << 30)}"
        text = data.extra_event(uid, datetime.now(UTC).date(), minutes=self.made)
        headers = {"Content-Type": "text/calendar; charset=utf-8", "If-None-Match": "*"}
        if self.request("put", "PUT", f"{self.calendar}{uid}.ics", text, headers) is not None:
            self.mine.append(f"{uid}.ics")

    def delete(self) -> None:
        href = self.mine.pop(self.rng.randrange(len(self.mine)))
        self.request("delete", "DELETE", self.calendar + href, "", {})

    def run(self, stop: threading.Event, sync_every: float) -> None:
        self.sync("sync_initial")
        while not stop.is_set():
            cycle = time.monotonic()
            self.sync("sync")
            if self.rng.random() < 0.3:
                self.month()
            if self.rng.random() < 0.15:
                self.put()
            if self.mine and self.rng.random() < 0.1:
                self.delete()
            rest = sync_every * self.rng.uniform(0.5, 1.5) - (time.monotonic() - cycle)
            stop.wait(max(0.0, rest))
        self.conn.close()


def run_load(
    host: str, port: int, logins: list[str], *, clients: int, seconds: float, sync_every: float
) -> dict:
    """``clients`` clients (user ``logins[i % len]``) for ``seconds``; the figures per op."""
    tally = Tally()
    stop = threading.Event()
    workers = [
        CaldavClient(host, port, logins[i % len(logins)], tally, seed=i) for i in range(clients)
    ]
    threads = [
        threading.Thread(target=c.run, args=(stop, sync_every), daemon=True) for c in workers
    ]
    begin = time.perf_counter()
    for thread in threads:
        thread.start()
    stop.wait(seconds)
    stop.set()
    for thread in threads:
        thread.join(300)
    elapsed = time.perf_counter() - begin
    per_op = {}
    for op in OPERATIONS:
        values = tally.seconds.get(op, [])
        per_op[op] = {
            "count": len(values),
            "errors": tally.errors.get(op, 0),
            "per_second": len(values) / elapsed,
            "p50": percentile(values, 50),
            "p95": percentile(values, 95),
            "p99": percentile(values, 99),
        }
    total = sum(len(v) for v in tally.seconds.values())
    return {
        "clients": clients,
        "seconds": elapsed,
        "requests": total,
        "requests_per_second": total / elapsed,
        "errors": sum(tally.errors.values()),
        "operations": per_op,
    }
