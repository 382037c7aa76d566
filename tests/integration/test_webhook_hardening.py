"""The Google webhook of a running `bridge serve`, over HTTP, on SQLite and MariaDB: the
resource id, the channel's expiry and the message number are checked, a flood of genuine
notifications makes at most two rounds and no new OAuth token, and refusals are logged
once per channel per minute."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from dataclasses import dataclass

import pytest
from sqlalchemy import update

from bridge.store import Store
from bridge.store import bindings as binding_store
from bridge.store import channels as channel_store
from bridge.store.schema import bindings, channels
from tests.integration.test_serve_push import start_with_binding
from tests.support import server as support

FAR = 4_000_000_000.0


@dataclass
class Served:
    server: support.Server
    hook: str
    store: Store
    google: object
    channel_id: str
    token: str
    resource_id: str
    binding_id: int

    def channel(self):
        return self.store.read(lambda c: channel_store.by_channel_id(c, self.channel_id))

    def binding(self):
        return self.store.read(lambda c: binding_store.get(c, self.binding_id))

    def headers(self, number: int, **changes: str) -> dict[str, str]:
        headers = {
            "X-Goog-Channel-ID": self.channel_id,
            "X-Goog-Channel-Token": self.token,
            "X-Goog-Resource-ID": self.resource_id,
            "X-Goog-Resource-State": "exists",
            "X-Goog-Message-Number": str(number),
        }
        headers.update(changes)
        return {k: v for k, v in headers.items() if v is not None}

    def post(self, headers: dict[str, str]) -> tuple[int, str]:
        request = urllib.request.Request(self.hook, data=b"", headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                return answer.status, answer.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    def postpone(self) -> None:
        """The binding is not due (as after a successful round)."""
        self.store.write(
            lambda tx: tx.conn.execute(
                update(bindings).where(bindings.c.id == self.binding_id).values(next_run_at=FAR)
            )
        )

    def lists(self) -> int:
        return self.google.calls["events.list"]


#: A webhook's refusal: the REST API's JSON error (bridge.api.webhooks).
REFUSED = '{"error": {"status": %d, "message": "%s"}}'


def _wait(predicate, timeout: float = 20.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def _quiet(served: Served, seconds: float = 1.5) -> None:
    """Wait until no round runs and events.list has not been called for ``seconds``."""
    last, since = served.lists(), time.monotonic()
    deadline = time.monotonic() + 30
    while time.monotonic() - since < seconds:
        assert time.monotonic() < deadline, served.server.output()[-3000:]
        time.sleep(0.1)
        row = served.binding()
        if served.lists() != last or (row.lease_until or 0) > time.time():
            last, since = served.lists(), time.monotonic()


@pytest.fixture
def served(tmp_path, db_url, google_emulator):
    api_port = support.free_port()
    api = f"""
[api]
enabled = true
port = {api_port}
public_url = "http://127.0.0.1:{api_port}"
"""
    server = start_with_binding(tmp_path, db_url, google_emulator, api=api)
    store = Store(db_url)
    try:
        _wait(
            lambda: [c for c in google_emulator.watches.channels.values() if not c.stopped],
            what="the push channel",
        )
        remote = next(c for c in google_emulator.watches.channels.values() if not c.stopped)
        _wait(
            lambda: getattr(
                store.read(lambda c: channel_store.by_channel_id(c, remote.id)), "resource_id", ""
            ),
            what="the channel's confirmation",
        )
        row = store.read(lambda c: channel_store.by_channel_id(c, remote.id))
        served = Served(
            server,
            f"http://127.0.0.1:{api_port}/webhooks/google",
            store,
            google_emulator,
            remote.id,
            remote.token,
            remote.resource_id,
            row.binding_id,
        )
        _quiet(served)
        yield served
    finally:
        server.stop()
        store.dispose()


def test_the_stored_token_is_a_digest(served):
    row = served.channel()
    assert served.token not in row.token_hash and row.token_hash.startswith("sha256:")


def test_a_wrong_resource_id_is_refused_and_changes_nothing(served):
    served.postpone()
    before = served.channel().last_message
    status, body = served.post(served.headers(500, **{"X-Goog-Resource-ID": "another-calendar"}))
    assert (status, body) == (403, REFUSED % (403, "resource id does not match the channel"))
    status, _ = served.post(served.headers(501, **{"X-Goog-Resource-ID": None}))
    assert status == 403
    assert served.binding().next_run_at == FAR
    assert served.channel().last_message == before
    assert "alice" not in body and str(served.binding_id) not in body


def test_an_expired_channel_is_refused(served):
    served.postpone()
    served.store.write(
        lambda tx: tx.conn.execute(
            update(channels)
            .where(channels.c.channel_id == served.channel_id)
            .values(expiration=time.time() - 1)
        )
    )
    status, body = served.post(served.headers(600))
    assert (status, body) == (410, REFUSED % (410, "channel expired"))
    assert served.binding().next_run_at == FAR


def test_a_missing_or_malformed_message_number_is_refused(served):
    served.postpone()
    for number in (None, "", "seven", "-3", "1e3"):
        status, body = served.post(served.headers(0, **{"X-Goog-Message-Number": number}))
        assert (status, body) == (
            400,
            REFUSED % (400, "X-Goog-Message-Number missing or not a number"),
        )
    assert served.binding().next_run_at == FAR


def test_an_old_or_repeated_message_is_accepted_and_ignored(served):
    # A genuine new message makes the binding due (within push_coalesce_seconds).
    served.postpone()
    assert served.post(served.headers(700)) == (200, "")
    assert served.channel().last_message == 700
    assert served.binding().next_run_at <= time.time() + 2
    _wait(lambda: served.binding().next_run_at > time.time() + 10, what="the round")
    _quiet(served)

    # Its replay, and an older message, are answered 200 and start no round.
    served.postpone()
    lists = served.lists()
    for number in (700, 699, 1):
        assert served.post(served.headers(number)) == (200, "")
    assert served.binding().next_run_at == FAR
    assert served.channel().last_message == 700
    time.sleep(3.5)  # past push_coalesce_seconds and a few scheduler ticks
    assert served.lists() == lists
    assert served.binding().next_run_at == FAR


def test_a_flood_of_notifications_makes_at_most_two_rounds_and_no_new_token(served):
    served.postpone()
    lists, tokens = served.lists(), served.google.calls["oauth.token"]
    # Genuine notifications, one every 50 ms for 2.5 s: longer than a scheduler tick and a
    # round, so without coalescing each tick would start another round.
    number, began = 1000, time.monotonic()
    while time.monotonic() - began < 2.5:
        number += 1
        assert served.post(served.headers(number)) == (200, "")
        time.sleep(0.05)
    time.sleep(3)  # push_coalesce_seconds (2) and a scheduler tick
    _quiet(served)
    rounds = served.lists() - lists
    assert 1 <= rounds <= 2, (rounds, number - 1000, served.server.output()[-3000:])
    # The access token fetched for the first round is still valid: reused, not refetched.
    assert served.google.calls["oauth.token"] == tokens
    assert served.channel().last_message == number


def test_refusals_are_logged_once_per_channel_per_minute(served):
    served.postpone()
    wrong = served.headers(800, **{"X-Goog-Channel-Token": "forged"})
    for _ in range(25):
        assert served.post(wrong) == (403, REFUSED % (403, "wrong channel token"))
    for n in range(10):
        unknown = served.headers(900 + n, **{"X-Goog-Channel-ID": f"nope-{n}"})
        assert served.post(unknown) == (404, REFUSED % (404, "unknown channel"))
    assert served.binding().next_run_at == FAR

    def lines(text: str) -> list[str]:
        return [line for line in served.server.output().splitlines() if text in line]

    _wait(lambda: lines("refused: unknown channel"), what="the log line", timeout=5)
    wrong_token = lines("refused: wrong channel token")
    assert len(wrong_token) == 1, wrong_token
    assert served.channel_id in wrong_token[0] and "forged" not in wrong_token[0]
    assert len(lines("refused: unknown channel")) == 1


def test_a_binding_backing_off_after_failures_is_not_hurried(served):
    served.store.write(
        lambda tx: tx.conn.execute(
            update(bindings)
            .where(bindings.c.id == served.binding_id)
            .values(next_run_at=FAR, failures=3)
        )
    )
    assert served.post(served.headers(1500)) == (200, "")
    assert served.channel().last_message == 1500
    assert served.binding().next_run_at == FAR
