"""Injected failures: SOAP faults or HTTP statuses for the next calls of an operation, and
per-item ResponseCode errors (EWS answers one ResponseMessage per item, in request order;
a refused item gets ResponseClass="Error" with its ResponseCode and MessageText in its
place while the other items of the call are done)."""

from __future__ import annotations

from dataclasses import dataclass, field

from .soap import EwsError, SoapFault


@dataclass
class _Pending:
    operation: str  # "*" for any
    count: int
    code: str | None = None
    back_off_ms: int | None = None
    status: int | None = None


@dataclass
class Faults:
    pending: list[_Pending] = field(default_factory=list)
    rejections: dict[str, list] = field(default_factory=dict)  # id -> [code, left, operations]
    create_rejections: list[list] = field(default_factory=list)  # [code, left, subject or None]
    first_refusals: list[list] = field(default_factory=list)  # [operation, code, text, left]

    def fail_next(self, operation: str, code: str, count: int, back_off_ms: int | None) -> None:
        self.pending.append(_Pending(operation, count, code=code, back_off_ms=back_off_ms))

    def http_fail_next(self, operation: str, status: int, count: int) -> None:
        self.pending.append(_Pending(operation, count, status=status))

    def take(self, operation: str) -> _Pending | None:
        for entry in self.pending:
            if entry.operation in (operation, "*"):
                entry.count -= 1
                if entry.count <= 0:
                    self.pending.remove(entry)
                return entry
        return None

    def raise_for(self, operation: str) -> int | None:
        """Raise the SoapFault due for this operation, or return an HTTP status to answer with."""
        entry = self.take(operation)
        if entry is None:
            return None
        if entry.status is not None:
            return entry.status
        message = "The server cannot service this request right now. Try again later."
        if entry.code != "ErrorServerBusy":
            message = f"Injected failure {entry.code}."
        raise SoapFault(entry.code or "ErrorInternalServerError", message, entry.back_off_ms)

    def reject(
        self,
        item_id: str,
        code: str,
        times: int,
        operations: frozenset[str] | None,
        text: str | None = None,
    ) -> None:
        self.rejections[item_id] = [code, times, operations, text]

    def check_item(self, item_id: str, operation: str) -> None:
        entry = self.rejections.get(item_id)
        if entry is None or (entry[2] is not None and operation not in entry[2]):
            return
        entry[1] -= 1
        if entry[1] <= 0:
            del self.rejections[item_id]
        raise EwsError(entry[0], entry[3] or f"Injected rejection {entry[0]} for this item.")

    def refuse_first(self, operation: str, code: str, text: str, count: int) -> None:
        self.first_refusals.append([operation, code, text, count])

    def check_first(self, operation: str) -> None:
        """Raise the refusal due for the first item of this call of ``operation``."""
        for entry in self.first_refusals:
            if entry[0] == operation:
                entry[3] -= 1
                if entry[3] <= 0:
                    self.first_refusals.remove(entry)
                raise EwsError(entry[1], entry[2])

    def reject_create(self, code: str, times: int, subject: str | None) -> None:
        self.create_rejections.append([code, times, subject])

    def check_create(self, subject: str | None) -> None:
        for entry in self.create_rejections:
            if entry[2] is None or entry[2] == subject:
                entry[1] -= 1
                if entry[1] <= 0:
                    self.create_rejections.remove(entry)
                raise EwsError(entry[0], f"Injected rejection {entry[0]} of this new item.")
