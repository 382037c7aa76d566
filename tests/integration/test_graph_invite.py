"""The Invite action's copy on Microsoft Graph, against the Graph emulator over real HTTP:
what reaches the wire (organiser + externals, the invite tag, no CRM id), whom the emulator
says each write mailed, transactionId idempotency, and the refusals of what Graph cannot do
(an unsent copy) or must not do (write an event that is no invite copy)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bridge.backends.base import (
    InviteCopy,
    NotFound,
    PreconditionFailed,
    Rejected,
    RemoteAttendee,
    RemoteEvent,
    Window,
)
from bridge.backends.graph import wire
from bridge.backends.graph.backend import GraphBackend
from bridge.backends.graph.settings import graph_settings
from bridge.backends.kinds import BindingSpec
from tests.emulators.graph import GraphEmulator
from tests.support.remote_events import invite_copy

TENANT = "fabrikam.example"
ALICE = f"alice@{TENANT}"
APP, SECRET = "app-id-1", "the-secret"
GUESTS = ("ext.one@partner.example", "ext.two@partner.example")
START = datetime.now(UTC).replace(microsecond=0, second=0, minute=0) + timedelta(days=3)


@pytest.fixture
def graph() -> Iterator[GraphEmulator]:
    with GraphEmulator() as g:
        tenant = g.add_tenant(TENANT)
        g.add_app(tenant, APP, SECRET)
        g.add_mailbox(ALICE, tenant)
        yield g


@pytest.fixture
def made(graph: GraphEmulator, tmp_path: Path) -> Iterator[GraphBackend]:
    secret = tmp_path / "secret"
    secret.write_text(SECRET)
    values = {
        "tenant": TENANT, "client_id": APP, "mailbox": ALICE, "client_secret_file": str(secret),
        "authority_host": graph.url, "graph_url": graph.graph_url, "max_retries": 2,
        "retry_after_max": 0.05,
    }  # fmt: skip
    backend = GraphBackend(graph_settings(BindingSpec(1, "alice", "graph", values, {})))
    yield backend
    backend.close()


def copy(**changes) -> InviteCopy:
    return invite_copy(ALICE, GUESTS, START, **changes)


def mails(graph: GraphEmulator) -> list[tuple[str, tuple[str, ...]]]:
    return [(m.reason, m.recipients) for m in graph.mailed]


def test_abilities_say_graph_cannot_hold_an_unsent_copy(made):
    abilities = made.invites().abilities()
    assert abilities.can_send and not abilities.can_hold_unsent
    assert "cannot hold an unsent" in abilities.note


def test_unsent_is_refused_before_anything_is_written(made, graph):
    with pytest.raises(Rejected, match="cannot hold an unsent"):
        made.invites().create_invite(copy(), send=False, idempotency_key="k")
    assert graph.event_writes == [] and graph.mailed == []


def test_sent_copy_holds_exactly_organiser_and_externals_with_the_tag_and_no_crm_id(made, graph):
    sent = made.invites().create_invite(copy(), send=True, idempotency_key="inv-m1-0")
    assert sent.mailed
    stored = graph.mailbox(ALICE).render(sent.remote_id)
    assert stored["organizer"]["emailAddress"]["address"] == ALICE
    assert [a["emailAddress"]["address"] for a in stored["attendees"]] == list(GUESTS)
    assert "Agenda: the figures." in stored["body"]["content"]
    tags = graph.mailbox(ALICE).extended(sent.remote_id)
    assert tags == {wire.INVITE_PROPERTY: "true"}
    assert mails(graph) == [("invitation", GUESTS)]


def test_the_same_key_never_makes_two_copies(made, graph):
    first = made.invites().create_invite(copy(), send=True, idempotency_key="same")
    again = made.invites().create_invite(copy(), send=True, idempotency_key="same")
    assert again.remote_id == first.remote_id
    assert len(graph.mailbox(ALICE).events()) == 1 and len(graph.mailed) == 1


def test_update_mails_an_update_and_cancels_the_removed_one(made, graph):
    sent = made.invites().create_invite(copy(), send=True, idempotency_key="k")
    later = START + timedelta(days=1)
    fewer = copy(
        start=later, end=later + timedelta(hours=1), attendees=(RemoteAttendee(GUESTS[0]),)
    )
    updated = made.invites().update_invite(sent.remote_id, fewer, send=True, etag=sent.etag)
    assert updated.mailed and updated.etag != sent.etag
    assert mails(graph)[1:] == [("cancellation", (GUESTS[1],)), ("update:end,start", (GUESTS[0],))]
    with pytest.raises(PreconditionFailed):
        made.invites().update_invite(sent.remote_id, copy(), send=True, etag=sent.etag)
    with pytest.raises(Rejected, match="cannot hold an unsent"):
        made.invites().update_invite(sent.remote_id, copy(), send=False, etag="")
    assert len(graph.mailed) == 3


def test_cancel_mails_the_cancellation_and_removes_the_copy(made, graph):
    sent = made.invites().create_invite(copy(), send=True, idempotency_key="k")
    with pytest.raises(Rejected, match="cannot hold an unsent"):
        made.invites().cancel_invite(sent.remote_id, send=False, etag="")
    with pytest.raises(PreconditionFailed):
        made.invites().cancel_invite(sent.remote_id, send=True, etag='W/"stale"')
    made.invites().cancel_invite(sent.remote_id, send=True, etag=sent.etag)
    assert mails(graph) == [("invitation", GUESTS), ("cancel", GUESTS)]
    assert graph.mailbox(ALICE).event(sent.remote_id) is None
    with pytest.raises(NotFound):
        made.invites().cancel_invite(sent.remote_id, send=True, etag="")


def test_only_invite_copies_are_written_and_bad_copies_are_refused(made, graph):
    own = graph.mailbox(ALICE).create(
        subject="Mine",
        start={"dateTime": START.replace(tzinfo=None).isoformat(), "timeZone": "UTC"},
        end={"dateTime": (START + timedelta(hours=1)).replace(tzinfo=None).isoformat(),
             "timeZone": "UTC"},
    )["id"]  # fmt: skip
    with pytest.raises(Rejected, match="not an invite copy"):
        made.invites().update_invite(own, copy(), send=True, etag="")
    with pytest.raises(Rejected, match="not an invite copy"):
        made.invites().cancel_invite(own, send=True, etag="")
    with pytest.raises(Rejected, match="organiser"):
        made.invites().create_invite(
            copy(organiser=RemoteAttendee(f"bob@{TENANT}")), send=True, idempotency_key="x"
        )
    with pytest.raises(Rejected, match="no external participant"):
        made.invites().create_invite(copy(attendees=()), send=True, idempotency_key="y")
    assert [w.method for w in graph.event_writes] == [] and graph.mailed == []


def test_a_guest_response_shows_on_the_copy_and_sync_sees_it_as_an_invite_copy(made, graph):
    sent = made.invites().create_invite(copy(), send=True, idempotency_key="k")
    graph.mailbox(ALICE).attendee_response(sent.remote_id, GUESTS[1], "accepted")
    window = Window(START - timedelta(days=5), START + timedelta(days=5))
    pulled = [c for p in made.list_changes(None, window) for c in p.changes]
    [read] = [c for c in pulled if isinstance(c, RemoteEvent) and c.remote_id == sent.remote_id]
    assert read.is_invite_copy and read.crm_meeting_id is None
    assert {a.email: a.partstat for a in read.attendees}[GUESTS[1]] == "ACCEPTED"
    assert made.find_by_meeting_id("inv-m1-0") is None
