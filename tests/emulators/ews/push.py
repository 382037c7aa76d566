"""EWS push notifications: Subscribe (PushSubscriptionRequest) / Unsubscribe, and the server's
SendNotification POSTs to the callback URL, honouring the SendNotificationResult it gets back."""

from __future__ import annotations

import base64
import itertools
import secrets
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from xml.etree import ElementTree as ET

import requests
from defusedxml import ElementTree as SafeET

from .context import Call
from .soap import SOAP, EwsError, m, response, response_message, t
from .streaming import Streams

EVENT_TYPES = (
    "CopiedEvent",
    "CreatedEvent",
    "DeletedEvent",
    "ModifiedEvent",
    "MovedEvent",
    "NewMailEvent",
    "FreeBusyChangedEvent",
)
MAX_FAILURES = 3  # failed deliveries in a row before the server drops a subscription


@dataclass
class Subscription:
    id: str
    mailbox: str
    url: str
    event_types: frozenset[str]
    status_frequency: int  # minutes
    watermark: str
    queue: list[ET.Element] = field(default_factory=list)
    failures: int = 0
    streaming: bool = False  # events wait for GetStreamingEvents instead of being POSTed


@dataclass
class Delivery:
    subscription_id: str
    events: list[str]  # event element names, StatusEvent included
    status: int | None  # HTTP status of the callback's answer, None when it could not be reached
    result: str | None  # SubscriptionStatus the callback answered (OK / Unsubscribe)


class Push:
    """Subscriptions and a delivery thread. `lock` is the emulator's lock."""

    def __init__(self, lock: threading.RLock) -> None:
        self.lock = lock
        self.subscriptions: dict[str, Subscription] = {}
        self.deliveries: list[Delivery] = []
        self._counter = itertools.count(1)
        self._wake = threading.Condition(threading.Lock())
        self._pending = False
        self._stop = False
        self._thread: threading.Thread | None = None
        self._idle = threading.Event()
        self._idle.set()
        self.streams = Streams(self)

    def _watermark(self) -> str:
        return base64.b64encode(f"WM{next(self._counter):012d}".encode()).decode()

    # --- operations --------------------------------------------------------------------------
    def subscribe(self, call: Call, req: ET.Element) -> ET.Element:
        try:
            request = req.find(m("PushSubscriptionRequest"))
            streaming = request is None
            if streaming:
                request = req.find(m("StreamingSubscriptionRequest"))
            if request is None:
                raise EwsError(
                    "ErrorInvalidSubscriptionRequest", "pull subscriptions are not emulated"
                )
            if request.get("SubscribeToAllFolders") in ("true", "1"):
                box = call.default_mailbox()
                call.check_access(box)
            else:
                box = call.calendar(request.find(t("FolderIds")))
            types = frozenset((e.text or "").strip() for e in request.iter(t("EventType")))
            if not types or types - set(EVENT_TYPES):
                raise EwsError("ErrorInvalidSubscriptionRequest", f"bad EventTypes {sorted(types)}")
            frequency = int(request.findtext(t("StatusFrequency")) or "30")
            if not 1 <= frequency <= 1440:
                raise EwsError(
                    "ErrorInvalidSubscriptionRequest", "StatusFrequency must be 1..1440 minutes"
                )
            url = (request.findtext(t("URL")) or "").strip()
            if not streaming and not url.startswith(("http://", "https://")):
                raise EwsError("ErrorInvalidPushSubscriptionUrl", "URL must be http(s)")
        except EwsError as err:
            if err.code == "ErrorSchemaValidation":
                raise  # a SOAP fault, not a response message
            return response("Subscribe", [response_message("Subscribe", error=err)])
        sub = Subscription(
            base64.b64encode(b"SUB" + secrets.token_bytes(15)).decode(),
            box.email.lower(), url, types, frequency, self._watermark(), streaming=streaming,
        )  # fmt: skip
        self.subscriptions[sub.id] = sub
        msg = response_message("Subscribe")
        ET.SubElement(msg, m("SubscriptionId")).text = sub.id
        if not streaming:
            ET.SubElement(msg, m("Watermark")).text = sub.watermark
        return response("Subscribe", [msg])

    def unsubscribe(self, call: Call, req: ET.Element) -> ET.Element:
        sub_id = (req.findtext(m("SubscriptionId")) or "").strip()
        sub = self.subscriptions.get(sub_id)
        if sub is None:
            err = EwsError("ErrorSubscriptionNotFound", "The specified subscription was not found.")
            return response("Unsubscribe", [response_message("Unsubscribe", error=err)])
        call.check_access(call.state.mailbox(sub.mailbox))
        if not sub.streaming:  # MS-OXWSNTIF 3.1.4.4: pull and streaming only
            err = EwsError(
                "ErrorInvalidSubscription",
                "Unsubscribe ends pull and streaming subscriptions; a push subscription ends "
                "when its callback answers Unsubscribe.",
            )
            return response("Unsubscribe", [response_message("Unsubscribe", error=err)])
        del self.subscriptions[sub_id]
        return response("Unsubscribe", [response_message("Unsubscribe")])

    # --- events ------------------------------------------------------------------------------
    def item_event(
        self,
        kind: str,
        mailbox: str,
        folder_id: str,
        item_id: str,
        change_key: str,
        old_id: str = "",
    ) -> None:
        """Called (lock held) for every write to a calendar item."""
        for sub in self.subscriptions.values():
            if sub.mailbox != mailbox.lower() or kind not in sub.event_types:
                continue
            event = ET.Element(t(kind))
            ET.SubElement(event, t("Watermark")).text = self._watermark()
            ET.SubElement(event, t("TimeStamp")).text = datetime.now(UTC).strftime(
                "%Y-%m-%dT%H:%M:%SZ"
            )
            attrs = (
                {"Id": item_id}
                if kind == "DeletedEvent"
                else {"Id": item_id, "ChangeKey": change_key}
            )
            ET.SubElement(event, t("ItemId"), attrs)
            ET.SubElement(event, t("ParentFolderId"), {"Id": folder_id, "ChangeKey": "AQAAAA=="})
            if kind == "MovedEvent":
                ET.SubElement(event, t("OldItemId"), {"Id": old_id})
                ET.SubElement(
                    event, t("OldParentFolderId"), {"Id": folder_id, "ChangeKey": "AQAAAA=="}
                )
            sub.queue.append(event)
        self._kick()
        self.streams.notify()

    def status_now(self) -> None:
        """Queue a StatusEvent on every subscription (what the server sends after StatusFrequency
        minutes without events)."""
        with self.lock:
            for sub in self.subscriptions.values():
                if sub.streaming:
                    continue
                event = ET.Element(t("StatusEvent"))
                ET.SubElement(event, t("Watermark")).text = self._watermark()
                sub.queue.append(event)
        self._kick()

    # --- delivery ----------------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="ews-push", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.streams.close_all()
        with self._wake:
            self._stop = True
            self._wake.notify()
        if self._thread is not None:
            self._thread.join(10)

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """True once every queued notification has been delivered (or given up on)."""
        return self._idle.wait(timeout)

    def _kick(self) -> None:
        with self._wake:
            self._pending = True
            self._idle.clear()
            self._wake.notify()

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._pending and not self._stop:
                    self._wake.wait()
                if self._stop:
                    return
                self._pending = False
            self._deliver_all()
            with self._wake:
                if not self._pending:
                    self._idle.set()

    def _deliver_all(self) -> None:
        with self.lock:
            batches = []
            for sub in self.subscriptions.values():
                if sub.queue and not sub.streaming:
                    batches.append((sub, sub.queue, sub.watermark))
                    sub.watermark = sub.queue[-1].findtext(t("Watermark")) or sub.watermark
                    sub.queue = []
        for sub, events, previous in batches:
            status, result = self._post(sub, events, previous)
            with self.lock:
                self.deliveries.append(
                    Delivery(sub.id, [e.tag.split("}")[1] for e in events], status, result)
                )
                if result == "Unsubscribe":
                    self.subscriptions.pop(sub.id, None)
                elif result != "OK":
                    sub.failures += 1
                    if sub.failures >= MAX_FAILURES:
                        self.subscriptions.pop(sub.id, None)
                else:
                    sub.failures = 0

    def _post(
        self, sub: Subscription, events: list[ET.Element], previous: str
    ) -> tuple[int | None, str | None]:
        msg = response_message("SendNotification")
        note = ET.SubElement(msg, m("Notification"))
        ET.SubElement(note, t("SubscriptionId")).text = sub.id
        ET.SubElement(note, t("PreviousWatermark")).text = previous
        ET.SubElement(note, t("MoreEvents")).text = "false"
        note.extend(events)
        root = ET.Element(m("SendNotification"))
        container = ET.SubElement(root, m("ResponseMessages"))
        container.append(msg)
        doc = ET.Element(f"{{{SOAP}}}Envelope")
        header = ET.SubElement(doc, f"{{{SOAP}}}Header")
        ET.SubElement(header, t("RequestServerVersion"), {"Version": "Exchange2016"})
        ET.SubElement(doc, f"{{{SOAP}}}Body").append(root)
        body = b'<?xml version="1.0" encoding="utf-8"?>' + ET.tostring(doc)
        try:
            answer = requests.post(
                sub.url, data=body, headers={"Content-Type": "text/xml; charset=utf-8"}, timeout=10
            )
        except requests.RequestException:
            return None, None
        if answer.status_code != 200:
            return answer.status_code, None
        try:
            doc = SafeET.fromstring(answer.content)
        except ET.ParseError:
            return answer.status_code, None
        result = doc.find(f"{{{SOAP}}}Body/{m('SendNotificationResult')}/{m('SubscriptionStatus')}")
        text = (result.text or "").strip() if result is not None else None
        return answer.status_code, text if text in ("OK", "Unsubscribe") else None
