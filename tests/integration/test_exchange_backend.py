"""What only EWS has, against the EWS emulator: `check()` telling the four failures apart,
impersonation (two mailboxes through one account, NTLM), ErrorServerBusy's back-off
honoured, and the emulator's record that no write asked Exchange to send anything."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from bridge.backends.exchange.backend import ExchangeBackend
from bridge.backends.exchange.settings import ExchangeSettings
from tests.emulators.ews import EwsEmulator
from tests.support.remote_events import meeting


@pytest.fixture
def ews() -> Iterator[EwsEmulator]:
    with EwsEmulator() as server:
        server.add_mailbox("alice@corp.test")
        server.add_mailbox("bob@corp.test")
        server.add_account("CORP\\svc", "pw", impersonation=("alice@corp.test", "bob@corp.test"))
        server.add_account("CORP\\alice", "alice-pw", mailboxes=("alice@corp.test",))
        yield server


def backend(ews: EwsEmulator, **changes) -> ExchangeBackend:
    values = dict(
        url=ews.url, email="alice@corp.test", username="CORP\\svc", password="pw",
        auth_type="ntlm", access_type="impersonation", max_back_off=0.2, timeout=10.0,
    )  # fmt: skip
    values.update(changes)
    return ExchangeBackend(ExchangeSettings(**values))


def test_check_tells_the_four_failures_apart(ews):
    assert backend(ews).check() is None
    wrong_url = backend(ews, url=ews.url.replace("/EWS/Exchange.asmx", "/owa/x.asmx")).check()
    assert "cannot reach EWS" in wrong_url
    assert "refused" in backend(ews, password="nope").check()
    assert "no mailbox" in backend(ews, email="zed@corp.test").check()
    denied = backend(ews, username="CORP\\alice", password="alice-pw", email="bob@corp.test")
    assert "may not impersonate" in denied.check()


def test_two_mailboxes_through_one_impersonating_account_over_ntlm(ews):
    alice, bob = backend(ews), backend(ews, email="bob@corp.test")
    alice.create(meeting("a-1"), idempotency_key="a-1")
    bob.create(meeting("b-1"), idempotency_key="b-1")
    assert [i["subject"] for i in ews.mailbox("alice@corp.test").items()] == ["Meeting a-1"]
    assert [i["subject"] for i in ews.mailbox("bob@corp.test").items()] == ["Meeting b-1"]
    assert bob.find_by_meeting_id("a-1") is None


COUNTED = (
    "bridge_remote_calls_total",
    "bridge_remote_retries_total",
    "bridge_throttle_waits_total",
    "bridge_throttle_wait_seconds_total",
)


def sample(name: str) -> float:
    return REGISTRY.get_sample_value(name, {"kind": "exchange"}) or 0.0


def test_server_busy_back_off_is_honoured_and_bounded(ews):
    made = backend(ews)
    before = {name: sample(name) for name in COUNTED}
    ews.fail_next("CreateItem", code="ErrorServerBusy", count=2, back_off_ms=150)
    created = made.create(meeting(), idempotency_key="k")
    assert created.remote_id and made.session.waited == [0.15, 0.15]
    moved = {name: sample(name) - before[name] for name in COUNTED}  # bridge.metrics
    assert moved["bridge_throttle_waits_total"] == 2 and moved["bridge_remote_retries_total"] == 2
    assert moved["bridge_throttle_wait_seconds_total"] == pytest.approx(0.3)
    assert moved["bridge_remote_calls_total"] >= 3
    ews.fail_next("UpdateItem", code="ErrorServerBusy", count=1, back_off_ms=60_000)
    made.update(created.remote_id, meeting(subject="x"), etag=created.etag)
    assert made.session.waited[-1] == 0.2  # max_back_off, not a minute


def test_no_write_asks_exchange_to_send_anything(ews):
    made = backend(ews)
    created = made.create(meeting(), idempotency_key="k")
    updated = made.update(created.remote_id, meeting(subject="y"), etag=created.etag)
    made.create_many([(meeting("m-2"), "m-2"), (meeting("m-3"), "m-3")])
    made.delete(created.remote_id, etag=updated.etag)
    assert ews.sends and all(value == "SendToNone" for _, _, value in ews.sends), ews.sends


def test_an_exchange_online_url_is_refused_at_config_load(tmp_path: Path):
    from bridge.config import ConfigError, load_config

    config = tmp_path / "bridge.toml"
    config.write_text(
        '[server]\nauth = "none"\n[[users]]\nlogin = "alice"\nemail = "a@example.com"\n'
        '[[users.bindings]]\nname = "ews"\nkind = "exchange"\n[users.bindings.backend]\n'
        'url = "https://outlook.office365.com/EWS/Exchange.asmx"\n'
    )
    with pytest.raises(ConfigError, match='kind = "graph"'):
        load_config(config)
