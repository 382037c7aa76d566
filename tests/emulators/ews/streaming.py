"""GetStreamingEvents: one long HTTP response (chunked) carrying a SOAP envelope per batch of
notifications, ended by an envelope with ConnectionStatus Closed."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from xml.etree import ElementTree as ET

from .context import Call
from .soap import EwsError, envelope, m, response, response_message, t

if TYPE_CHECKING:
    from .push import Push


class StreamPlan:
    """A validated GetStreamingEvents request, served outside the emulator's lock."""

    def __init__(self, subscription_ids: list[str], seconds: float, version: str) -> None:
        self.subscription_ids = subscription_ids
        self.seconds = seconds
        self.version = version


class Streams:
    def __init__(self, push: Push) -> None:
        self.push = push
        self.cond = threading.Condition(threading.Lock())
        self.generation = 0  # close_all() bumps it: open streams end
        self.open = 0

    def notify(self) -> None:
        with self.cond:
            self.cond.notify_all()

    def close_all(self) -> None:
        """Every open GetStreamingEvents answer ends now with ConnectionStatus Closed (as when
        its ConnectionTimeout runs out; tests do not wait minutes)."""
        with self.cond:
            self.generation += 1
            self.cond.notify_all()

    def plan(self, call: Call, req: ET.Element) -> StreamPlan | ET.Element:
        ids = [(e.text or "").strip() for e in req.iter(t("SubscriptionId"))]
        timeout_text = (req.findtext(m("ConnectionTimeout")) or "").strip()
        if not timeout_text.isdigit() or not 1 <= int(timeout_text) <= 30:
            raise EwsError("ErrorSchemaValidation", "ConnectionTimeout must be 1..30 minutes")
        unknown = [i for i in ids if i not in self.push.subscriptions]
        if not ids or unknown:
            err = EwsError("ErrorSubscriptionNotFound", "The specified subscription was not found.")
            msg = response_message("GetStreamingEvents", error=err)
            bad = ET.SubElement(msg, m("ErrorSubscriptionIds"))
            for sub_id in unknown:
                ET.SubElement(bad, m("SubscriptionId")).text = sub_id
            return response("GetStreamingEvents", [msg])
        for sub_id in ids:
            sub = self.push.subscriptions[sub_id]
            if not sub.streaming:
                raise EwsError("ErrorInvalidSubscription", "not a streaming subscription")
            call.check_access(call.state.mailbox(sub.mailbox))
        return StreamPlan(ids, int(timeout_text) * 60, call.version)

    def serve(self, plan: StreamPlan, write: Callable[[bytes], Any]) -> None:
        """Write envelopes until the timeout or close_all(); the caller does the chunking."""
        deadline = time.monotonic() + plan.seconds
        with self.cond:
            generation = self.generation
            self.open += 1
        try:
            while True:
                batch = self._drain(plan)
                if batch:
                    write(self._envelope(plan, batch, "OK"))
                with self.cond:
                    if self.generation != generation or time.monotonic() >= deadline:
                        break
                    if not self._pending(plan):
                        self.cond.wait(min(1.0, max(deadline - time.monotonic(), 0.0)))
            write(self._envelope(plan, self._drain(plan), "Closed"))
        finally:
            with self.cond:
                self.open -= 1

    def _pending(self, plan: StreamPlan) -> bool:
        return any(
            (sub := self.push.subscriptions.get(i)) is not None and sub.queue
            for i in plan.subscription_ids
        )

    def _drain(self, plan: StreamPlan) -> list[tuple[str, list[ET.Element]]]:
        with self.push.lock:
            out = []
            for sub_id in plan.subscription_ids:
                sub = self.push.subscriptions.get(sub_id)
                if sub is not None and sub.queue:
                    out.append((sub_id, sub.queue))
                    sub.queue = []
            return out

    @staticmethod
    def _envelope(plan: StreamPlan, batch: list, status: str) -> bytes:
        msg = response_message("GetStreamingEvents")
        if batch:
            notes = ET.SubElement(msg, m("Notifications"))
            for sub_id, events in batch:
                note = ET.SubElement(notes, m("Notification"))
                ET.SubElement(note, t("SubscriptionId")).text = sub_id
                note.extend(events)
        ET.SubElement(msg, m("ConnectionStatus")).text = status
        return envelope(plan.version, response("GetStreamingEvents", [msg]))
