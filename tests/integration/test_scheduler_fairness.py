"""The scheduler with many bindings, against the Google emulator over HTTP, on SQLite and
MariaDB: a pass takes the longest waiting bindings first, so with more due bindings than
a pass runs none starves and a failing one does not hold the others back; and the
bindings of one remote account never run more rounds at once than the limit, even with
two schedulers (as two processes would be) racing for them in threads."""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import Counter

import pytest
from sqlalchemy import update

from bridge.secret_box import Keyring
from bridge.store import Store, binding_secrets
from bridge.store import bindings as binding_store
from bridge.store import users as user_store
from bridge.store.schema import bindings
from bridge.sync.rules import SyncRules
from bridge.sync.scheduler import Scheduler, Timing
from bridge.wiring import BackendMaker
from tests.support.google_toml import google_settings

CALENDAR = "shared@example.com"
HOUR = 3600


class Fleet:
    """A store with ``count`` Google bindings (five users), all reading one emulator
    calendar; ``accounts[i]`` is binding i's remote account (None: none)."""

    def __init__(self, db_url: str, google, count: int, accounts=None, broken=()) -> None:
        self.store = Store(db_url)
        self.keyring = Keyring.generate()
        self.google = google
        token = google.add_user(CALENDAR).refresh_token
        settings = google_settings(google, max_retries=0)
        logins = [f"user{u}" for u in range(5)]
        records = [
            binding_store.BindingRecord(
                logins[i % 5],
                f"g{i:03d}",
                "google",
                settings,
                account=None if accounts is None else accounts[i],
            )
            for i in range(count)
        ]

        def setup(tx) -> list[int]:
            user_store.sync(tx, [user_store.UserRecord(u, f"{u}@example.com") for u in logins])
            binding_store.sync(tx, records, self.keyring)
            made = {
                r.name: r.id
                for login in logins
                for r in binding_store.by_login(tx.conn, login)  # noqa: B023
            }
            ids = [made[f"g{i:03d}"] for i in range(count)]
            for i, binding_id in enumerate(ids):
                secret = {"refresh_token": "revoked-long-ago" if i in broken else token}
                binding_secrets.set_secret(tx, binding_id, secret, self.keyring)
            return ids

        self.ids: list[int] = self.store.write(setup)
        self.backend_for = BackendMaker(self.keyring)

    def scheduler(self, owner: str, backend_for=None, **timing) -> Scheduler:
        return Scheduler(
            self.store,
            backend_for or self.backend_for,
            lambda row: SyncRules(),
            timing=Timing(**timing),
            owner=owner,
        )

    def set_next_run(self, values: dict[int, float]) -> None:
        def write(tx) -> None:
            for binding_id, at in values.items():
                tx.conn.execute(
                    update(bindings).where(bindings.c.id == binding_id).values(next_run_at=at)
                )

        self.store.write(write)

    def row(self, binding_id: int):
        return self.store.read(lambda c: binding_store.get(c, binding_id))


@pytest.fixture
def fleet_of(db_url, google_emulator):
    made: list[Fleet] = []

    def make(count: int, **kwargs) -> Fleet:
        made.append(Fleet(db_url, google_emulator, count, **kwargs))
        return made[-1]

    yield make
    for fleet in made:
        fleet.store.dispose()


def test_no_binding_starves_and_a_failing_one_holds_nobody_back(fleet_of):
    broken = range(5)  # their refresh token was revoked: every round fails
    fleet = fleet_of(50, broken=broken)
    ids = fleet.ids
    # The broken ones waited longest; the others in order of their index.
    fleet.set_next_run({b: 1.0 + i for i, b in enumerate(ids)})
    poll = 600  # back-off: 600 s after one failure, 1200 s after two (both +-20%)
    worker = fleet.scheduler("w", poll_seconds=poll, pass_size=10)
    good = [b for i, b in enumerate(ids) if i not in broken]

    for again in range(2):  # the second time, the broken ones are due first again
        if again:
            fleet.store.write(lambda tx: binding_store.request_run(tx, ids))  # all due now
        ran: Counter[int] = Counter()
        passes = []
        for _ in range(5):  # ceil(50 / 10)
            results = worker.run_due()
            assert 0 < len(results) <= 10
            passes.append(results)
            ran.update(list(results))
        assert all(ran[b] == 1 for b in good), ran  # each ran once: none starved
        failed = [b for results in passes for b, r in results.items() if isinstance(r, Exception)]
        assert sorted(failed) == sorted(ids[i] for i in broken)
        assert all(fleet.row(b).last_success_at is not None for b in good)
        assert worker.run_due() == {}  # nothing is due: the broken ones back off

    for i in broken:
        row = fleet.row(ids[i])
        assert row.failures == 2 and row.next_run_at > time.time() + 1.5 * poll  # longer


def test_a_pass_takes_the_longest_waiting_first(fleet_of):
    fleet = fleet_of(12)
    now = time.time()
    waited = {b: now - 100 * (i % 4) - i for i, b in enumerate(fleet.ids)}  # mixed order
    fleet.set_next_run(waited)
    worker = fleet.scheduler("w", poll_seconds=HOUR, pass_size=4, rounds_at_once=1)
    order = [list(worker.run_due()) for _ in range(3)]
    expected = sorted(fleet.ids, key=lambda b: waited[b])
    assert order == [expected[0:4], expected[4:8], expected[8:12]]


def test_a_binding_this_process_refuses_does_not_take_a_place_in_every_pass(fleet_of):
    from bridge.sync.adopted import BindingRefused

    fleet = fleet_of(3)
    refused, *others = fleet.ids
    fleet.set_next_run({b: 1.0 + i for i, b in enumerate(fleet.ids)})  # refused one first

    def rules_for(row):
        if row.id == refused:
            raise BindingRefused(f"binding {row.id}: another configuration's rules")
        return SyncRules()

    worker = fleet.scheduler("w", poll_seconds=HOUR, pass_size=1)
    worker.rules_for = rules_for
    assert isinstance(worker.run_due()[refused], BindingRefused)
    assert list(worker.run_due()) == [others[0]]  # not the refused one again
    assert list(worker.run_due()) == [others[1]]
    assert worker.run_due() == {}
    assert fleet.row(refused).next_run_at == 1.0  # nothing about it changed
    worker.close()


class Slow:
    """The real backend behind a slow network: every call waits first."""

    def __init__(self, backend, delay: dict) -> None:
        self.backend, self.delay = backend, delay  # delay["seconds"]: may change

    def __getattr__(self, name):
        real = getattr(self.backend, name)
        if not callable(real):
            return real

        def call(*args, **kwargs):
            time.sleep(self.delay["seconds"])
            return real(*args, **kwargs)

        return call


class InFlight(logging.Handler):
    """Counts the rounds running at once per account, from the scheduler's own
    'round started' / 'round ended' lines (written while the lease is held)."""

    PATTERN = re.compile(r"binding (\d+): round (started|ended) by")

    def __init__(self, account_of: dict[int, str]) -> None:
        super().__init__(logging.INFO)
        self.account_of = account_of
        self.now: Counter[str] = Counter()
        self.most: Counter[str] = Counter()
        self.owners: set[str] = set()

    def emit(self, record: logging.LogRecord) -> None:
        found = self.PATTERN.match(record.getMessage())
        if found is None:
            return
        account = self.account_of[int(found.group(1))]
        # (Handler.handle holds the handler's lock around emit: one line at a time.)
        if found.group(2) == "started":
            self.now[account] += 1
            self.most[account] = max(self.most[account], self.now[account])
            self.owners.add(record.getMessage().split(" by ")[1].split()[0])
        else:
            self.now[account] -= 1


def test_one_accounts_rounds_stay_within_the_limit_across_schedulers(fleet_of):
    accounts = ["google:a"] * 8 + ["google:b"] * 4
    fleet = fleet_of(12, accounts=accounts)
    counted = InFlight(dict(zip(fleet.ids, accounts, strict=True)))
    sync_log = logging.getLogger("bridge.sync")
    sync_log.addHandler(counted)
    level = sync_log.level
    sync_log.setLevel(logging.INFO)
    delay = {"seconds": 0.5}

    def slow(row):
        return Slow(fleet.backend_for(row), delay)

    timing = {"poll_seconds": HOUR, "rounds_at_once": 6, "rounds_per_account": 2}
    one, two = (fleet.scheduler(name, backend_for=slow, **timing) for name in ("one", "two"))
    threads: list[threading.Thread] = []
    stop = threading.Event()
    try:
        # "one" runs a pass: no more of an account than the limit, though it has threads.
        first: dict = {}
        threads.append(threading.Thread(target=lambda: first.update(one.run_due())))
        threads[-1].start()
        deadline = time.monotonic() + 10
        while sum(counted.now.values()) < 4 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert counted.now == {"google:a": 2, "google:b": 2}
        # "two" (another process, as far as the store can tell) finds both accounts full:
        # it runs nothing, and leaves the bindings it tried due.
        tried = two.run_due()
        assert tried and all(result is None for result in tried.values()), tried
        threads[-1].join(30)
        assert Counter(accounts[fleet.ids.index(b)] for b in first) == {
            "google:a": 2,
            "google:b": 2,
        }
        assert all(first[b] is not None for b in first)

        # Both race for the rest, taking due bindings as their rounds end.
        delay["seconds"] = 0.05
        for worker in (one, two):
            threads.append(
                threading.Thread(
                    target=worker.run_forever, args=(stop,), kwargs={"tick_seconds": 0.05}
                )
            )
            threads[-1].start()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if all(fleet.row(b).last_success_at is not None for b in fleet.ids):
                break
            time.sleep(0.05)
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)
        for worker in (one, two):
            worker.close()
        sync_log.removeHandler(counted)
        sync_log.setLevel(level)
    assert all(fleet.row(b).last_success_at is not None for b in fleet.ids)  # all ran
    assert counted.most == {"google:a": 2, "google:b": 2}  # reached, never passed
    assert all(fleet.row(b).lease_owner is None for b in fleet.ids)


def test_bridge_sync_waits_for_a_round_of_the_account_then_says_why(fleet_of):
    from bridge.cli_sync import Busy, _run_waiting

    fleet = fleet_of(2, accounts=["google:a", "google:a"])
    busy, mine = fleet.ids
    assert fleet.store.write(lambda tx: binding_store.take_lease(tx, busy, "elsewhere", 60))
    worker = fleet.scheduler("cli", rounds_per_account=1)
    row = fleet.row(mine)
    started = time.monotonic()
    with pytest.raises(Busy) as caught:
        _run_waiting(worker, fleet.store, row, 0.5, lambda *_: None)
    assert time.monotonic() - started < 5  # the wait is kept, not spun past
    assert "waits for a round of its remote account google:a" in str(caught.value)
    assert "1 running, [sync] rounds_per_account = 1" in str(caught.value)
    assert fleet.row(mine).lease_owner is None and fleet.row(mine).last_success_at is None

    fleet.store.write(lambda tx: binding_store.release_lease(tx, busy, "elsewhere"))
    assert _run_waiting(worker, fleet.store, row, 0.5, lambda *_: None) is not None
    worker.close()
