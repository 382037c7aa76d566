"""The Graph backend against the Graph emulator over real HTTP (msal through our http_client
hook, aiohttp): what only this wire has — sign-in kinds, delta paging, resync and
re-baseline, transactionId, recurrence, throttling, Outlook meetings with attendees."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from bridge.backends.base import (
    Deleted,
    Rejected,
    RemoteEvent,
    ResyncRequired,
    Window,
)
from bridge.backends.graph.authorize import AuthorizeError, authorize
from bridge.backends.graph.backend import GraphBackend
from bridge.backends.graph.settings import graph_settings
from bridge.backends.kinds import BindingSpec
from tests.emulators.graph import GraphEmulator

TENANT = "fabrikam.example"
APP, SECRET = "app-id-1", "the-secret"
NOW = datetime.now(UTC).replace(microsecond=0)
WINDOW = Window(NOW - timedelta(days=30), NOW + timedelta(days=90))


@pytest.fixture
def graph() -> Iterator[GraphEmulator]:
    with GraphEmulator() as g:
        tenant = g.add_tenant(TENANT)
        g.add_app(tenant, APP, SECRET)
        g.add_app(tenant, "public-app", public=True)
        g.add_mailbox(f"alice@{TENANT}", tenant)
        g.add_mailbox(f"bob@{TENANT}", tenant)
        yield g


def settings(g: GraphEmulator, tmp: Path, mailbox: str = "alice", **extra) -> dict:
    secret = tmp / "secret"
    secret.write_text(extra.pop("secret", SECRET))
    return {
        "tenant": TENANT,
        "client_id": APP,
        "mailbox": f"{mailbox}@{TENANT}",
        "client_secret_file": str(secret),
        "authority_host": g.url,
        "graph_url": g.graph_url,
        "max_retries": 3,
        "retry_after_max": 0.05,
        **extra,
    }


def backend(g: GraphEmulator, tmp: Path, mailbox: str = "alice", **extra) -> GraphBackend:
    spec = BindingSpec(1, mailbox, "graph", settings(g, tmp, mailbox, **extra), {})
    return GraphBackend(graph_settings(spec))


def event(subject: str, days: int = 1, **fields) -> RemoteEvent:
    start = NOW + timedelta(days=days)
    return RemoteEvent(
        "", start, start + timedelta(hours=1), crm_meeting_id=subject, subject=subject, **fields
    )


def pull(b: GraphBackend, cursor: str | None = None, window: Window = WINDOW):
    pages = list(b.list_changes(cursor, window))
    return [c for p in pages for c in p.changes], pages[-1].cursor, len(pages)


def test_app_only_serves_two_mailboxes_with_one_token(graph, tmp_path) -> None:
    alice = backend(graph, tmp_path, "alice", tenant=TENANT.upper())  # another app cache key
    a2 = backend(graph, tmp_path, "alice")
    b2 = backend(graph, tmp_path, "bob")
    graph.reset_counters()
    a2.create(event("For Alice"), idempotency_key="a")
    b2.create(event("For Bob"), idempotency_key="b")
    assert len(graph.token_requests) == 1  # one token for the app, both mailboxes
    assert [e["subject"] for e in graph.mailbox(f"alice@{TENANT}").events()] == ["For Alice"]
    assert [e["subject"] for e in graph.mailbox(f"bob@{TENANT}").events()] == ["For Bob"]
    assert alice.check() is None


def test_delegated_sign_in_by_device_code_then_refresh(graph, tmp_path) -> None:
    graph.device_interval = 1
    config = {"tenant": TENANT, "client_id": "public-app", "authority_host": graph.url}

    def show(message: str) -> None:
        code = next(w.strip(".,") for w in message.split() if w.isupper() and len(w) >= 6)
        threading.Timer(0.2, graph.approve_device, (code, f"alice@{TENANT}")).start()

    secret = authorize(config, show)
    assert set(secret) == {"refresh_token"}
    spec = BindingSpec(
        1,
        "alice",
        "graph",
        {**config, "mailbox": f"alice@{TENANT}", "graph_url": graph.graph_url},
        secret,
    )
    user = GraphBackend(graph_settings(spec))
    made = user.create(event("Delegated"), idempotency_key="d")
    assert made.crm_meeting_id == "Delegated"
    graph.expire_tokens()  # the access token is refused: a new one from the refresh token
    assert user.get(made.remote_id).subject == "Delegated"
    graph.revoke_refresh_tokens(f"alice@{TENANT}")
    graph.expire_tokens()
    assert "authorize" in (user.check() or "") or "refused" in (user.check() or "")
    with pytest.raises(AuthorizeError, match="app-only"):
        authorize(settings(graph, tmp_path), show)


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"tenant": "nowhere.example"}, "tenant"),
        ({"secret": "wrong"}, "invalid client secret"),
        ({"mailbox": "nobody"}, "unknown mailbox"),
    ],
)
def test_check_tells_the_problems_apart(graph, tmp_path, change, words) -> None:
    mailbox = change.pop("mailbox", "alice")
    problem = backend(graph, tmp_path, mailbox, **change).check()
    assert problem is not None and words in problem
    assert "wrong" not in problem and SECRET not in problem  # never the secret


def test_check_names_a_missing_permission(graph, tmp_path) -> None:
    tenant = graph.identity.find_tenant(TENANT)
    graph.add_app(tenant, "no-calendars", SECRET, roles=("User.Read.All",))
    problem = backend(graph, tmp_path, client_id="no-calendars").check()
    assert problem is not None and "Calendars.ReadWrite" in problem


def test_delta_pages_resync_and_rebaseline(graph, tmp_path) -> None:
    b = backend(graph, tmp_path, page_size=2)
    box = graph.mailbox(f"alice@{TENANT}")
    for n in range(5):
        start = NOW + timedelta(days=n + 1)
        box.create(
            subject=f"Own {n}",
            start={"dateTime": start.replace(tzinfo=None).isoformat(), "timeZone": "UTC"},
            end={
                "dateTime": (start + timedelta(hours=1)).replace(tzinfo=None).isoformat(),
                "timeZone": "UTC",
            },
        )
    changes, cursor, pages = pull(b)
    assert pages >= 3 and sorted(c.subject for c in changes) == [f"Own {n}" for n in range(5)]
    assert pull(b, cursor)[0] == []  # nothing changed
    graph.expire_delta()
    with pytest.raises(ResyncRequired):
        pull(b, cursor)
    changes, cursor, _ = pull(b)
    # Eight days on, the rules' window left the frozen one: re-baseline, no deletions.
    later = Window(WINDOW.start + timedelta(days=8), WINDOW.end + timedelta(days=8))
    changes, cursor2, _ = pull(b, cursor, later)
    assert not any(isinstance(c, Deleted) for c in changes)
    assert len({c.remote_id for c in changes}) == len(changes) == 5  # no duplicates
    assert cursor2 != cursor


def test_transaction_id_makes_one_event_and_a_recreate_a_new_one(graph, tmp_path) -> None:
    b = backend(graph, tmp_path)
    first = b.create(event("Once"), idempotency_key="m-1")
    again = b.create(event("Once"), idempotency_key="m-1")
    assert again.remote_id == first.remote_id
    graph.mailbox(f"alice@{TENANT}").delete(first.remote_id)
    remade = b.create(event("Once"), idempotency_key="m-1/abcdef")  # plan's re-create key
    assert remade.remote_id != first.remote_id
    assert len(graph.mailbox(f"alice@{TENANT}").events()) == 1


def test_a_series_round_trips_and_an_unexpressible_rule_is_refused(graph, tmp_path) -> None:
    b = backend(graph, tmp_path)
    weekly = event(
        "Weekly",
        timezone="Europe/Berlin",
        recurrence=(
            "RRULE:FREQ=WEEKLY;COUNT=6",
            f"EXDATE:{(NOW + timedelta(days=8)):%Y%m%dT%H%M%SZ}",
        ),
    )
    made = b.create(weekly, idempotency_key="w")
    assert made.timezone == "Europe/Berlin"
    assert any(line.startswith("EXDATE") for line in made.recurrence)
    assert b.get(made.remote_id).content_hash() == made.content_hash()
    writes = len([c for c in graph.calls if c.method == "POST"])
    hourly = event("Hourly", recurrence=("RRULE:FREQ=HOURLY;COUNT=3",))
    with pytest.raises(Rejected, match="FREQ=HOURLY"):
        b.create(hourly, idempotency_key="h")
    assert len([c for c in graph.calls if c.method == "POST"]) == writes  # nothing written


def test_throttling_is_retried_and_four_at_most_are_in_flight(graph, tmp_path) -> None:
    b = backend(graph, tmp_path)
    retries = REGISTRY.get_sample_value("bridge_remote_retries_total", {"kind": "graph"}) or 0
    graph.fail_next(r"^POST .*/events$", 429, 2, retry_after=0)
    assert b.create(event("Throttled"), idempotency_key="t").subject == "Throttled"
    counted = REGISTRY.get_sample_value("bridge_remote_retries_total", {"kind": "graph"})
    assert counted == retries + 2  # bridge.metrics: each 429 sent again once
    graph.latency = 0.05
    others = [backend(graph, tmp_path) for _ in range(3)]
    made = b.create_many([(event(f"Bulk {n}", n % 20 + 1), f"k{n}") for n in range(40)])
    assert all(isinstance(m, RemoteEvent) for m in made)
    threads = [
        threading.Thread(
            target=o.create_many, args=([(event(f"T{i}{n}"), f"t{i}{n}") for n in range(8)],)
        )
        for i, o in enumerate(others)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert graph.throttle.peak[f"alice@{TENANT}"] <= 4
    assert graph.throttle.rejected == 0  # we never asked for a fifth


def test_outlook_meetings_with_attendees_are_never_changed_by_sync(graph, tmp_path) -> None:
    b = backend(graph, tmp_path)
    box = graph.mailbox(f"alice@{TENANT}")
    start = NOW + timedelta(days=3)
    made = box.create(
        subject="Planning",
        start={"dateTime": start.replace(tzinfo=None).isoformat(), "timeZone": "UTC"},
        end={
            "dateTime": (start + timedelta(hours=1)).replace(tzinfo=None).isoformat(),
            "timeZone": "UTC",
        },
        attendees=[{"emailAddress": {"address": "carol@example.com"}, "type": "required"}],
    )
    graph.reset_counters()
    (pulled,), _, _ = pull(b)
    assert pulled.attendees and pulled.subject == "Planning"
    tagged = b.set_tag(made["id"], "crm-7", etag=pulled.etag)  # the tag alone: mails no one
    assert tagged.crm_meeting_id == "crm-7" and graph.mailed == []
    with pytest.raises(Rejected, match="attendees"):
        b.update(made["id"], replace(tagged, subject="Renamed in the CRM"), etag=tagged.etag)
    with pytest.raises(Rejected, match="attendees"):
        b.delete(made["id"], etag=tagged.etag)
    fresh = backend(graph, tmp_path)  # knows nothing of it yet: looks before writing
    with pytest.raises(Rejected, match="attendees"):
        fresh.update(made["id"], replace(tagged, subject="Renamed"), etag=tagged.etag)
    assert graph.mailed == [] and graph.attendees_written == []
    assert box.event(made["id"])["subject"] == "Planning"
