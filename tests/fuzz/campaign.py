"""The fuzz campaign shared by tests/fuzz/test_campaign.py (CI) and bench/fuzz.py (long run).

``running(db_url, directory)`` starts a live `bridge serve`, seeds it, and yields a
``Campaign``; ``Campaign.run(case)`` sends one case and checks, after every case:

- no 5xx and no request (the case or a seed read-back) over ``SLOW_SECONDS``;
- no leak: bob's private meeting's markers never reach alice or dave, its internal notes
  never reach anyone;
- a refused request (4xx) and every read change nothing in the store (fingerprint);
- every seeded object reads back byte-identically (GET body and ETag) unless the case
  legitimately changed it - then it is restored and re-read.

``Campaign.finish()`` reads every seed back once more and runs the integrity checks.
Failures are collected, not raised, so one run lists them all.
"""

from __future__ import annotations

import http.client
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from bridge.store import Store
from tests.fuzz import outcome
from tests.fuzz import seed as seeding
from tests.fuzz.cases import ORIGIN, WRITES, Case
from tests.fuzz.outcome import Failure, Stats
from tests.fuzz.regressions import REGRESSIONS
from tests.support import server as support
from tests.support.http import Response, request

SLOW_SECONDS = 5.0
TIMEOUT_SECONDS = 10.0  # twice SLOW_SECONDS: an answer this late has failed anyway
MAX_RESTARTS = 5
# Server config for speed only: logins are cached (bcrypt at cost 10 costs ~100 ms a
# request otherwise) and Radicale's deliberate delays on 401/403 and 5xx answers (0.5-1.5 s,
# against brute force) are off, so a fuzz run spends its time on the requests themselves.
SERVER_EXTRA = """
[server.radicale.auth]
cache_logins = "true"
cache_successful_logins_expiry = "3600"
delay = "0"

[server.radicale.server]
delay_on_error = "0"
"""


class Campaign:
    def __init__(
        self,
        server: support.Server,
        store: Store,
        *,
        restart: Callable[[], support.Server],
    ) -> None:
        self.server, self.url, self.store = server, server.url, store
        self._start_again, self.restarts = restart, 0
        self.groups = seeding.seed(self.url, store)
        self.baseline: dict[str, Response] = {}
        self.failures: list[Failure] = []
        self.stats = Stats()
        self.wedged = False
        self._turn = 0
        for group in self.groups:
            self._rebaseline(group, "seeding")

    # -- one case ------------------------------------------------------------------

    def run(self, case: Case) -> None:
        if self.wedged:  # a request hung: the server is stuck, the rest would only pile up
            return
        before = seeding.fingerprint(self.store)
        answer = self._send(case)
        if answer is None:
            return
        self.stats.kinds[case.kind] += 1
        self.stats.statuses[answer.status] += 1
        self.stats.by_kind[case.kind][answer.status] += 1
        self._check_answer(case, answer)
        changed = seeding.fingerprint(self.store) != before
        if changed and (400 <= answer.status < 500 or case.method not in WRITES):
            what = "a refused request" if answer.status >= 400 else f"a {case.method}"
            self._fail("store changed", case, f"{what} ({answer.status}) changed the store")
        self._check_seeds(case, answer, changed)

    def _send(self, case: Case) -> Response | None:
        started = time.monotonic()
        headers = {k: v.replace(ORIGIN, self.url) for k, v in case.headers.items()}
        try:
            answer = request(
                self.url,
                case.method,
                case.path,
                case.body.text,
                user=case.user,
                headers=headers,
                timeout=TIMEOUT_SECONDS,
            )
        except OSError as error:  # a time-out, a dropped connection, a dead server
            self.stats.took(time.monotonic() - started, case.describe(200))
            self._fail("no answer", case, self._lost(error, started))
            return None
        except http.client.HTTPException as error:  # an answer no HTTP client can read
            self.stats.took(time.monotonic() - started, case.describe(200))
            self._fail("unreadable answer", case, f"{type(error).__name__}: {error}")
            return None
        elapsed = time.monotonic() - started
        self.stats.took(elapsed, case.describe(200))
        if elapsed > SLOW_SECONDS:
            self._fail("slow", case, f"answered {answer.status} after {elapsed:.1f} s")
        return answer

    def _lost(self, error: OSError, started: float) -> str:
        """Why a request got no answer. A hung or dead server is started again (its
        database as it is), up to MAX_RESTARTS times; then the run ends."""
        why = f"{type(error).__name__}: {error} after {time.monotonic() - started:.1f} s"
        try:  # a dropped connection may be a dying server: give it a moment to exit
            exited = self.server.process.wait(0 if isinstance(error, TimeoutError) else 2)
        except subprocess.TimeoutExpired:
            exited = None
        if exited is not None:
            log = self.server.output()[-3000:]
            why += f"; the server exited with {exited}, its log ends:\n{log}"
        if isinstance(error, TimeoutError) or exited is not None:
            if self.restarts >= MAX_RESTARTS:
                self.wedged = True
                return why + "; no more restarts, the run ends here"
            self.server.process.kill()  # hung: SIGTERM would wait for the stuck request
            self.server.process.wait()
            self.server.log.rename(self.server.log.with_suffix(f".{self.restarts}.log"))
            self.server, self.restarts = self._start_again(), self.restarts + 1
            why += "; server started again"
        return why

    def _check_answer(self, case: Case, answer: Response) -> None:
        if answer.status >= 500:
            self._fail("5xx", case, f"{answer.status}: {answer.body[:800]}")
        for problem in self._leaks(case.user, answer):
            known = {"private-override-leak"} if "occurrence" in problem else set()
            self._fail("leak", case, problem, known)

    def _leaks(self, user: str, answer: Response) -> list[str]:
        seen = answer.body + "".join(answer.headers.values())
        found = []
        if seeding.NOTES_MARKER in seen:
            found.append("internal notes in a CalDAV answer")
        if user in seeding.NOT_IN_PRIVATE:
            for field_name, marker in seeding.PRIVATE_MARKERS.items():
                if marker in seen:
                    found.append(f"bob's private {field_name} shown to {user}")
            if seeding.OVERRIDE_MARKER in seen:
                found.append(f"bob's private overridden occurrence shown to {user}")
        return found

    # -- the seeded objects --------------------------------------------------------

    def _get(self, login: str, path: str) -> Response:
        started = time.monotonic()
        try:
            answer = seeding.fetch(self.url, login, path, TIMEOUT_SECONDS)
        except OSError as error:
            why = self._lost(error, started)
            self._record(Failure("no answer", f"GET {path} as {login}", why))
            return Response(0, {}, "")
        elapsed = time.monotonic() - started
        self.stats.took(elapsed, f"GET {path} as {login}")
        if elapsed > SLOW_SECONDS:
            self._record(Failure("slow", f"GET {path} as {login}", f"{elapsed:.1f} s"))
        for problem in self._leaks(login, answer):
            known = {"private-override-leak"} if "occurrence" in problem else set()
            self._record(Failure("leak", f"GET {path} as {login}", problem, known))
        return answer

    def _rebaseline(self, group: seeding.SeedGroup, why: str) -> None:
        for login, path in group.objects:
            answer = self._get(login, path)
            if answer.status != 200:
                raise RuntimeError(f"{why}: seeded {path} reads {answer.status} {answer.body}")
            self.baseline[path] = answer

    def _restore(self, group: seeding.SeedGroup) -> None:
        """Write the group again; one that cannot be restored is no longer guarded."""
        try:
            group.restore()
            self._rebaseline(group, f"restoring {group.name}")
        except Exception as error:  # noqa: BLE001 - reported, the run goes on
            self.groups.remove(group)
            self._record(Failure("seed not restorable", group.name, str(error)[:800]))

    def _check_seeds(self, case: Case, answer: Response, changed: bool) -> None:
        """Read seeds back: all of them when the store changed, else the next one in turn
        (an unchanged store cannot have changed them; that read checks the serving path)."""
        if self.wedged:
            return
        if changed:
            for group in list(self.groups):
                self._check_group(case, answer, group, group.objects)
            return
        objects = [(g, o) for g in self.groups for o in g.objects]
        group, one = objects[self._turn % len(objects)]
        self._turn += 1
        self._check_group(case, answer, group, [one])

    def _check_group(self, case: Case, answer: Response, group, objects) -> None:  # noqa: ANN001
        now = {path: self._get(login, path) for login, path in objects}
        moved = [path for path in now if _differs(now[path], self.baseline[path])]
        if not moved:
            return
        path = moved[0]
        if not (200 <= answer.status < 300 and self._targets(case, group)):
            was = self.baseline[path]
            self._fail(
                "seed damaged",
                case,
                f"{group.name}: {path} now reads {now[path].status} etag "
                f"{now[path].headers.get('etag')} "
                f"(was {was.status} etag {was.headers.get('etag')})",
            )
        elif case.user != group.organiser and group.meeting:
            # An attendee may answer (PARTSTAT) or leave; the organiser's copy keeps the rest.
            for login, own in group.objects:
                if login == group.organiser and own in now:
                    if _core(now[own]) != _core(self.baseline[own]):
                        self._fail(
                            "attendee changed the organiser's meeting",
                            case,
                            f"{group.name} ({group.organiser}'s) changed by {case.user}: {own} "
                            f"now reads {now[own].status}",
                            {"attendee-edit"},
                        )
        self._restore(group)

    def _targets(self, case: Case, group) -> bool:  # noqa: ANN001
        """Whether a successful ``case`` may change ``group``: it wrote to one of its paths
        (or a collection above one, or moved onto one)."""
        if case.method not in WRITES or case.method == "PROPPATCH":
            return False
        from urllib.parse import unquote, urlsplit

        targets = [unquote(case.path)]
        if "Destination" in case.headers:
            targets.append(unquote(urlsplit(case.headers["Destination"]).path))
        for _, path in group.objects:
            for target in targets:
                if path == target or (target.endswith("/") and path.startswith(target)):
                    return True
        return False

    # -- bookkeeping ---------------------------------------------------------------

    def _fail(self, check: str, case: Case, detail: str, known: set[str] | None = None) -> None:
        self._record(Failure(check, case.describe(), detail, case.known | (known or set())))

    def _record(self, failure: Failure) -> None:
        """Keep each distinct failure once, counting repeats."""
        for seen in self.failures:
            if seen.key() == failure.key():
                seen.repeats += 1
                return
        self.failures.append(failure)

    def run_regressions(self) -> None:
        """The hand-kept cases (regressions.py), after the generated ones."""
        for case in REGRESSIONS:
            self.run(case)

    def finish(self) -> None:
        for group in self.groups if not self.wedged else []:
            for login, path in group.objects:
                if _differs(self._get(login, path), self.baseline[path]):
                    self._record(Failure("seed damaged", "(end of run)", path))
        for problem in seeding.integrity_problems(self.store, self.server.config):
            self._record(Failure("integrity", "(end of run)", problem))

    def report(self) -> str:
        return outcome.report(self.stats, self.failures)


def _core(answer: Response) -> tuple[int, list[str]]:
    """A meeting without what an attendee's answer changes (attendees, stamps, sequence)."""
    skipped = ("ATTENDEE", "DTSTAMP", "SEQUENCE", "LAST-MODIFIED", " ")
    unfolded = answer.body.replace("\r\n ", "").splitlines()
    return answer.status, sorted(line for line in unfolded if not line.startswith(skipped))


def _differs(now: Response, old: Response) -> bool:
    return (now.status, now.headers.get("etag"), now.body) != (
        old.status,
        old.headers.get("etag"),
        old.body,
    )


@contextmanager
def running(db_url: str, directory: Path) -> Iterator[Campaign]:
    """A live `bridge serve` on ``db_url``, seeded, with its campaign."""
    port = support.free_port()
    config = support.write_config(directory, db_url, port, server_extra=SERVER_EXTRA)
    server = support.start(config, port, cwd=directory)
    store = Store(db_url, migrate=False)
    campaign = None
    try:
        campaign = Campaign(
            server,
            store,
            restart=lambda: support.start(config, port, cwd=directory),
        )
        yield campaign
    finally:
        store.dispose()
        (campaign.server if campaign else server).stop()
