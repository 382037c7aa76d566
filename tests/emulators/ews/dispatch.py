"""One SOAP request -> one SOAP response: headers (version, impersonation), faults, operations."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from typing import Any
from xml.etree import ElementTree as ET

from . import ops_find, ops_items, ops_misc, ops_sync
from .context import Call
from .faults import Faults
from .soap import (
    ACCEPTED_VERSIONS,
    SOAP,
    BadRequest,
    EwsError,
    SoapFault,
    envelope,
    fault_envelope,
    m,
    parse,
    response,
    response_message,
    t,
)
from .store import Account, State
from .streaming import StreamPlan

log = logging.getLogger(__name__)

OPERATIONS: dict[str, Callable[[Call, ET.Element], ET.Element]] = {
    "GetFolder": ops_misc.get_folder,
    "FindItem": ops_find.find_item,
    "GetItem": ops_items.get_item,
    "CreateItem": ops_items.create_item,
    "UpdateItem": ops_items.update_item,
    "DeleteItem": ops_items.delete_item,
    "MoveItem": ops_items.move_item,
    "SyncFolderItems": ops_sync.sync_folder_items,
    "ResolveNames": ops_misc.resolve_names,
    "ConvertId": ops_misc.convert_id,
    "Subscribe": lambda call, req: call.push.subscribe(call, req),
    "Unsubscribe": lambda call, req: call.push.unsubscribe(call, req),
    "GetStreamingEvents": lambda call, req: call.push.streams.plan(call, req),
}
DEFAULT_VERSION = "Exchange2007_SP1"  # what Exchange assumes without RequestServerVersion
#: The write operations and the element holding their items (one ResponseMessage each).
WRITE_ITEMS = {"CreateItem": "Items", "UpdateItem": "ItemChanges", "DeleteItem": "ItemIds"}


class Outcome:
    def __init__(
        self, status: int, body: bytes, call: Call | None, operation: str, error: str | None = None
    ) -> None:
        self.status, self.body, self.call, self.operation = status, body, call, operation
        self.error = error  # an emulator bug (traceback text), never an EWS error
        self.stream: StreamPlan | None = None  # GetStreamingEvents: served after the lock


def handle(
    state: State,
    faults: Faults,
    push: Any,
    account: Account,
    body: bytes,
    asked: list[tuple[str, int]],
) -> Outcome:
    """Serve one request; a write request's (operation, items) goes to ``asked`` first,
    whatever the answer."""
    version: str | None = None
    operation = "?"
    call: Call | None = None
    try:
        root = parse(body)
        header = root.find(f"{{{SOAP}}}Header")
        soap_body = root.find(f"{{{SOAP}}}Body")
        if root.tag != f"{{{SOAP}}}Envelope" or soap_body is None or len(soap_body) != 1:
            raise BadRequest("not a SOAP 1.1 envelope with one body element")
        request = soap_body[0]
        if not request.tag.startswith(m("")):
            raise BadRequest(f"unexpected body element {request.tag}")
        operation = request.tag.split("}")[1]
        if operation in WRITE_ITEMS:
            items = request.find(m(WRITE_ITEMS[operation]))
            asked.append((operation, 0 if items is None else len(items)))
        version = _version(header)
        status = faults.raise_for(operation)
        if status is not None:
            return Outcome(status, b"", None, operation)
        impersonated = _impersonation(state, account, header)
        if operation not in OPERATIONS:
            raise SoapFault(
                "ErrorInvalidRequest", f"The request is invalid: {operation} is not emulated."
            )
        call = Call(
            state, account, operation, version, faults=faults, push=push, impersonated=impersonated
        )
        try:
            result = OPERATIONS[operation](call, request)
        except EwsError as err:
            if err.code == "ErrorSchemaValidation":
                raise BadRequest(err.message) from err
            result = response(operation, [response_message(operation, error=err)])
        if isinstance(result, StreamPlan):
            outcome = Outcome(200, b"", call, operation)
            outcome.stream = result
            return outcome
        return Outcome(200, envelope(version, result), call, operation)
    except (SoapFault, BadRequest) as fault:
        return Outcome(500, fault_envelope(fault, version), call, operation)
    except Exception as exc:  # noqa: BLE001 - an emulator bug must surface as a fault, not a hang
        log.exception("EWS emulator failed on %s", operation)
        fault = SoapFault("ErrorInternalServerError", f"emulator failure: {exc!r}")
        trace = traceback.format_exc()
        return Outcome(500, fault_envelope(fault, version), call, operation, error=trace)


def _version(header: ET.Element | None) -> str:
    elem = header.find(t("RequestServerVersion")) if header is not None else None
    if elem is None:
        return DEFAULT_VERSION
    value = elem.get("Version", "")
    if value not in ACCEPTED_VERSIONS:
        raise SoapFault("ErrorInvalidServerVersion", "The specified server version is invalid.")
    return value


def _impersonation(state: State, account: Account, header: ET.Element | None) -> str | None:
    elem = header.find(t("ExchangeImpersonation")) if header is not None else None
    if elem is None:
        return None
    sid = elem.find(t("ConnectingSID"))
    if sid is None or len(sid) != 1:
        raise BadRequest("ExchangeImpersonation needs one ConnectingSID child")
    kind = sid[0].tag.split("}")[1]
    if kind not in ("PrimarySmtpAddress", "SmtpAddress"):
        raise SoapFault("ErrorImpersonationFailed", f"ConnectingSID {kind} is not emulated")
    address = (sid[0].text or "").strip().lower()
    if not account.impersonation:
        raise SoapFault(
            "ErrorImpersonateUserDenied",
            "The account does not have permission to impersonate the requested user.",
        )
    if address not in state.mailboxes:
        raise SoapFault(
            "ErrorNonExistentMailbox", "The SMTP address has no mailbox associated with it."
        )
    if "*" not in account.impersonation and address not in account.impersonation:
        raise SoapFault(
            "ErrorImpersonateUserDenied",
            "The account does not have permission to impersonate the requested user.",
        )
    return address
