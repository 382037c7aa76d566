"""The EWS emulator's push notifications through exchangelib: Subscribe, SendNotification POSTs
to the callback (parsed with exchangelib's SendNotification), OK / Unsubscribe answers, and
the Unsubscribe operation (streaming subscriptions only)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from exchangelib import (
    Account,
    CalendarItem,
    EWSDateTime,
    EWSTimeZone,
)
from exchangelib.errors import ErrorInvalidSubscription, ErrorSubscriptionNotFound
from exchangelib.items import SEND_TO_NONE
from exchangelib.services import SendNotification

from tests.emulators.ews import EwsEmulator
from tests.emulators.ews_client import connect

ALICE = "alice@corp.test"
BERLIN = EWSTimeZone("Europe/Berlin")


class Receiver:
    """A callback URL that records the notifications and answers OK (or Unsubscribe)."""

    def __init__(self) -> None:
        self.answer = "OK"
        self.received: list = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                service = SendNotification(protocol=None)
                receiver.received.extend(service.parse(body))
                payload = (
                    service.ok_payload()
                    if receiver.answer == "OK"
                    else service.unsubscribe_payload()
                )
                self.send_response(200)
                self.send_header("Content-Type", "text/xml; charset=utf-8")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/ews-callback"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def events(self) -> list[tuple[str, str | None]]:
        out = []
        for note in self.received:
            for event in note.events:
                out.append(
                    (type(event).__name__, getattr(getattr(event, "item_id", None), "id", None))
                )
        return out


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.server.shutdown()
    r.server.server_close()


@pytest.fixture
def ews() -> Iterator[EwsEmulator]:
    with EwsEmulator() as emulator:
        emulator.add_account("CORP\\alice", "secret", mailboxes=(ALICE,))
        yield emulator


@pytest.fixture
def alice(ews: EwsEmulator) -> Account:
    return connect(ews, ALICE, "CORP\\alice", "secret")


def test_push_created_modified_deleted_and_status(
    ews: EwsEmulator, alice: Account, receiver: Receiver
) -> None:
    sub_id, watermark = alice.calendar.subscribe_to_push(
        callback_url=receiver.url, status_frequency=1
    )
    assert sub_id and watermark
    start = EWSDateTime(2026, 8, 3, 9, tzinfo=BERLIN)
    item = CalendarItem(
        account=alice,
        folder=alice.calendar,
        subject="p",
        start=start,
        end=start + timedelta(hours=1),
    )
    item.save(send_meeting_invitations=SEND_TO_NONE)
    ews.wait_for_deliveries()
    ews.mailbox(ALICE).update(item.id, subject="changed in Outlook")
    ews.wait_for_deliveries()
    ews.mailbox(ALICE).delete(item.id)
    ews.wait_for_deliveries()
    ews.send_status()
    ews.wait_for_deliveries()
    assert receiver.events() == [
        ("CreatedEvent", item.id),
        ("ModifiedEvent", item.id),
        ("DeletedEvent", item.id),
        ("StatusEvent", None),
    ]
    assert all(note.subscription_id == sub_id for note in receiver.received)
    assert receiver.received[0].previous_watermark == watermark


def test_callback_unsubscribe_ends_the_subscription(
    ews: EwsEmulator, alice: Account, receiver: Receiver
) -> None:
    alice.calendar.subscribe_to_push(callback_url=receiver.url)
    receiver.answer = "Unsubscribe"
    ews.send_status()
    deliveries = ews.wait_for_deliveries()
    assert [(d.events, d.result) for d in deliveries] == [(["StatusEvent"], "Unsubscribe")]
    assert ews.subscriptions == []
    ews.mailbox(ALICE).create(subject="after", start=EWSDateTime(2026, 8, 4, 9, tzinfo=BERLIN),
                              end=EWSDateTime(2026, 8, 4, 10, tzinfo=BERLIN))  # fmt: skip
    ews.wait_for_deliveries()
    assert len(receiver.received) == 1


def test_unsubscribe_is_not_for_push_subscriptions(
    ews: EwsEmulator, alice: Account, receiver: Receiver
) -> None:
    """MS-OXWSNTIF 3.1.4.4: Unsubscribe removes pull and streaming subscriptions; for another
    type it answers ErrorInvalidSubscription. A push subscription ends by its callback."""
    sub_id, _ = alice.calendar.subscribe_to_push(callback_url=receiver.url)
    with pytest.raises(ErrorInvalidSubscription):
        alice.calendar.unsubscribe(sub_id)
    assert ews.subscriptions == [sub_id]
    with pytest.raises(ErrorSubscriptionNotFound):
        alice.calendar.unsubscribe("U1VCbm90aGVyZQ==")


def test_unreachable_callback_is_dropped_after_three_failures(
    ews: EwsEmulator, alice: Account
) -> None:
    alice.calendar.subscribe_to_push(callback_url="http://127.0.0.1:9/nothing-listens")
    for _ in range(3):
        ews.send_status()
        ews.wait_for_deliveries()
    assert [d.status for d in ews.wait_for_deliveries()] == [None, None, None]
    assert ews.subscriptions == []


def test_streaming_subscription(ews: EwsEmulator, alice: Account) -> None:
    sub_id = alice.calendar.subscribe_to_streaming()
    got: list = []

    def listen() -> None:
        for note in alice.calendar.get_streaming_events(sub_id, connection_timeout=1):
            got.extend((type(e).__name__, e.item_id.id) for e in note.events)

    listener = threading.Thread(target=listen)
    listener.start()
    start = EWSDateTime(2026, 8, 5, 9, tzinfo=BERLIN)
    item_id = ews.mailbox(ALICE).create(subject="s", start=start, end=start + timedelta(hours=1))
    ews.mailbox(ALICE).delete(item_id)
    deadline = time.monotonic() + 10
    while len(got) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    ews.close_streams()
    listener.join(10)
    assert not listener.is_alive()
    assert got == [("CreatedEvent", item_id), ("DeletedEvent", item_id)]
    alice.calendar.unsubscribe(sub_id)
    assert ews.subscriptions == []
