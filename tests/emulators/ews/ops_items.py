"""CreateItem, GetItem, UpdateItem, DeleteItem and MoveItem on calendar items."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import datetime
from xml.etree import ElementTree as ET

from . import itemxml, meetings
from .context import Call
from .recurrence import occurrence_id, series_of
from .soap import EwsError, m, response, response_message, t
from .store import Item, Occurrence
from .times import format_datetime

SEND_INVITATIONS = ("SendToNone", "SendOnlyToAll", "SendToAllAndSaveCopy")
SEND_CHANGES = (
    "SendToNone",
    "SendOnlyToAll",
    "SendOnlyToChanged",
    "SendToAllAndSaveCopy",
    "SendToChangedAndSaveCopy",
)
CONFLICT_RESOLUTION = ("NeverOverwrite", "AutoResolve", "AlwaysOverwrite")
DELETE_TYPES = ("HardDelete", "SoftDelete", "MoveToDeletedItems")
UNDELETABLE = {"Start", "End", "Recurrence"}  # DeleteItemField on these: ErrorInvalidPropertyDelete


def _attribute(call: Call, req: ET.Element, name: str, allowed: tuple[str, ...]) -> str:
    """A required enumeration attribute, recorded in call.sends when it is a Send* one."""
    value = req.get(name)
    if name.startswith("Send"):
        call.record_send(name, value)
    if value is None:
        code = {
            "SendMeetingInvitations": "ErrorSendMeetingInvitationsRequired",
            "SendMeetingInvitationsOrCancellations": (
                "ErrorSendMeetingInvitationsOrCancellationsRequired"
            ),
            "SendMeetingCancellations": "ErrorSendMeetingCancellationsRequired",
            "ConflictResolution": "ErrorSchemaValidation",
            "DeleteType": "ErrorSchemaValidation",
        }[name]
        raise EwsError(code, f"The {name} attribute is required for calendar items.")
    if value not in allowed:
        raise EwsError("ErrorSchemaValidation", f"{name}={value!r} is not one of {allowed}")
    return value


def _per_item(
    call: Call,
    operation: str,
    elems: list[ET.Element],
    handle: Callable[[ET.Element], ET.Element | None],
) -> ET.Element:
    messages = []
    for index, elem in enumerate(elems):
        try:
            if index == 0:
                call.faults.check_first(operation)
            payload = handle(elem)
        except EwsError as err:
            if err.code == "ErrorSchemaValidation":
                raise  # a SOAP fault, not a response message
            messages.append(_error(operation, err))
            continue
        msg = response_message(operation)
        if payload is not None:
            msg.append(payload)
        messages.append(msg)
    return response(operation, messages)


def _error(operation: str, err: EwsError) -> ET.Element:
    msg = response_message(operation, error=err)
    if operation in ("CreateItem", "GetItem", "UpdateItem", "MoveItem"):
        ET.SubElement(msg, m("Items"))
    return msg


def _items(*children: ET.Element) -> ET.Element:
    items = ET.Element(m("Items"))
    items.extend(children)
    return items


def _id_only(item_id: str, change_key: str) -> ET.Element:
    cal = ET.Element(t("CalendarItem"))
    ET.SubElement(cal, t("ItemId"), {"Id": item_id, "ChangeKey": change_key})
    return cal


def _whole_request_error(operation: str, count: int, err: EwsError) -> ET.Element:
    return response(operation, [_error(operation, err) for _ in range(max(count, 1))])


# --- CreateItem -----------------------------------------------------------------------------
def create_item(call: Call, req: ET.Element) -> ET.Element:
    elems = list(req.find(m("Items")) or [])
    try:
        send = _attribute(call, req, "SendMeetingInvitations", SEND_INVITATIONS)
        disposition = req.get("MessageDisposition")
        if disposition not in (None, "SaveOnly"):
            raise EwsError(
                "ErrorInvalidOperation", "calendar items are saved, not sent (MessageDisposition)"
            )
        box = call.calendar(req.find(m("SavedItemFolderId")))
    except EwsError as err:
        if err.code == "ErrorSchemaValidation":
            raise  # a SOAP fault, not a response message
        return _whole_request_error("CreateItem", len(elems), err)

    def handle(elem: ET.Element) -> ET.Element:
        fields, extended = itemxml.read_fields(elem)
        subject = fields.get("Subject")
        call.faults.check_create(subject.text if subject is not None else None)
        for name in ("Start", "End"):
            if name not in fields:
                raise EwsError("ErrorMissingInformation", f"a calendar item needs {name}")
        itemxml.check_times(fields)
        fields.setdefault("UID", itemxml.new_uid())
        if "Recurrence" in fields:
            series_of(fields)  # validates the pattern and zone
        item = call.state.insert(box, fields, extended)
        call.record_write(box.email, item.id)
        call.record_item_send(
            meetings.created(box.email, item.id, send, meetings.addresses(fields))
        )
        return _items(_id_only(item.id, item.change_key))

    return _per_item(call, "CreateItem", elems, handle)


# --- GetItem --------------------------------------------------------------------------------
def get_item(call: Call, req: ET.Element) -> ET.Element:
    shape = itemxml.read_shape(req.find(m("ItemShape")))
    ids = list(req.find(m("ItemIds")) or [])

    def handle(elem: ET.Element) -> ET.Element:
        item, orig = call.item(elem)
        call.faults.check_item(item.id, call.operation)
        box = call.state.mailbox(item.mailbox)
        return _items(itemxml.render(item, box, shape, orig))

    return _per_item(call, "GetItem", ids, handle)


# --- UpdateItem -----------------------------------------------------------------------------
def update_item(call: Call, req: ET.Element) -> ET.Element:
    changes = list(req.find(m("ItemChanges")) or [])
    try:
        conflict = _attribute(call, req, "ConflictResolution", CONFLICT_RESOLUTION)
        send = _attribute(call, req, "SendMeetingInvitationsOrCancellations", SEND_CHANGES)
    except EwsError as err:
        if err.code == "ErrorSchemaValidation":
            raise  # a SOAP fault, not a response message
        return _whole_request_error("UpdateItem", len(changes), err)

    def handle(change: ET.Element) -> ET.Element:
        id_elem = change[0]
        item, orig = call.item(id_elem)
        call.faults.check_item(item.id, call.operation)
        sent_key = id_elem.get("ChangeKey")
        # MS-OXWSCORE ConflictResolutionType: only NeverOverwrite fails on a conflict;
        # AutoResolve and AlwaysOverwrite write over it.
        if conflict == "NeverOverwrite" and sent_key and sent_key != item.change_key:
            raise EwsError(
                "ErrorIrresolvableConflict",
                "The send or update operation could not be performed because the change key passed "
                "in the request does not match the current change key for the item.",
            )
        updates = change.find(t("Updates"))
        if updates is None:
            raise EwsError("ErrorSchemaValidation", "ItemChange without Updates")
        before = meetings.addresses(item.fields)
        if orig is None:
            _apply(item.fields, item.extended, list(updates), series=False)
            if "Recurrence" in item.fields:
                _prune_exceptions(item)
        else:
            exception = item.exceptions.get(orig) or Occurrence()
            merged = dict(item.fields)
            merged.update(exception.fields)
            start, end = itemxml.occurrence_times(item, orig)
            merged["Start"] = _time_element("Start", start)
            merged["End"] = _time_element("End", end)
            staged = Occurrence(dict(exception.fields), dict(exception.extended))
            _apply(staged.fields, staged.extended, list(updates), series=True, base=merged)
            item.exceptions[orig] = staged
        call.state.touch(item)
        new_id = item.id if orig is None else occurrence_id(item.id, orig)
        call.record_write(item.mailbox, new_id)
        after = meetings.addresses(item.fields)
        record = meetings.updated(item.mailbox, new_id, send, before, after)
        if record.kind == "update":  # the organiser sent a new version of the meeting
            item.sequence += 1
        call.record_item_send(record)
        return _items(_id_only(new_id, item.change_key))

    result = _per_item(call, "UpdateItem", changes, handle)
    for msg in result.iter(m("UpdateItemResponseMessage")):
        if msg.get("ResponseClass") == "Success":
            ET.SubElement(ET.SubElement(msg, m("ConflictResults")), t("Count")).text = "0"
    return result


def _apply(
    fields: dict, extended: dict, updates: list[ET.Element], series: bool, base: dict | None = None
) -> None:
    staged = dict(fields)
    staged_ext = dict(extended)
    for update in updates:
        kind = update.tag.split("}")[1]
        target = update[0]
        target_tag = target.tag.split("}")[1]
        if target_tag == "ExtendedFieldURI":
            key = itemxml.prop_key(target)
            if kind == "DeleteItemField":
                staged_ext.pop(key, None)
                continue
            new_fields, new_ext = itemxml.read_fields(_single(update))
            if key not in new_ext:
                raise EwsError(
                    "ErrorInvalidPropertyUpdateSentMessage",
                    "value does not match the ExtendedFieldURI",
                )
            staged_ext[key] = new_ext[key]
            continue
        if target_tag != "FieldURI":
            raise EwsError("ErrorInvalidPropertyRequest", f"unsupported field path {target_tag}")
        name = itemxml.field_name(target.get("FieldURI", ""))
        if series and name in itemxml.SERIES_ONLY:
            raise EwsError("ErrorInvalidPropertySet", f"{name} cannot be set on an occurrence")
        if kind == "DeleteItemField":
            if name in UNDELETABLE and not (name == "Recurrence" and not series):
                raise EwsError("ErrorInvalidPropertyDelete", f"{name} cannot be deleted")
            staged.pop(name, None)
            continue
        new_fields, _ = itemxml.read_fields(_single(update))
        if name not in new_fields or len(new_fields) != 1:
            raise EwsError(
                "ErrorIncorrectUpdatePropertyCount", f"the update must carry exactly {name}"
            )
        value = new_fields[name]
        if kind == "AppendToItemField":
            value = _append(
                staged.get(name) if name in staged else (base or {}).get(name), value, name
            )
        elif kind != "SetItemField":
            raise EwsError("ErrorSchemaValidation", f"unknown update {kind}")
        staged[name] = value
    itemxml.check_times({**(base or {}), **staged})
    if not series and "Recurrence" in staged:
        series_of(staged)
    fields.clear()
    fields.update(staged)
    extended.clear()
    extended.update(staged_ext)


def _time_element(name: str, value: datetime) -> ET.Element:
    elem = ET.Element(t(name))
    elem.text = format_datetime(value)
    return elem


def _single(update: ET.Element) -> ET.Element:
    if len(update) != 2:
        raise EwsError(
            "ErrorIncorrectUpdatePropertyCount", "an update names one field and one item"
        )
    return update[1]


def _append(old: ET.Element | None, new: ET.Element, name: str) -> ET.Element:
    if old is None:
        return new
    joined = copy.deepcopy(old)
    if name == "Body":
        joined.text = (old.text or "") + (new.text or "")
    elif name in ("RequiredAttendees", "OptionalAttendees", "Resources", "Categories"):
        joined.extend(copy.deepcopy(list(new)))
    else:
        raise EwsError("ErrorInvalidPropertyAppend", f"{name} cannot be appended to")
    return joined


def _prune_exceptions(item: Item) -> None:
    """Exceptions and deletions whose original start is no longer in the series are dropped."""
    series = series_of(item.fields)
    item.exceptions = {o: e for o, e in item.exceptions.items() if series.index_of(o) is not None}
    item.deleted = {o for o in item.deleted if series.index_of(o) is not None}


# --- DeleteItem -----------------------------------------------------------------------------
def delete_item(call: Call, req: ET.Element) -> ET.Element:
    ids = list(req.find(m("ItemIds")) or [])
    try:
        _attribute(call, req, "DeleteType", DELETE_TYPES)
        send = _attribute(call, req, "SendMeetingCancellations", SEND_INVITATIONS)
    except EwsError as err:
        if err.code == "ErrorSchemaValidation":
            raise  # a SOAP fault, not a response message
        return _whole_request_error("DeleteItem", len(ids), err)

    def handle(elem: ET.Element) -> None:
        item, orig = call.item(elem)
        call.faults.check_item(item.id, call.operation)
        before = meetings.addresses(item.fields)
        if orig is None:
            call.state.remove(item)
        else:
            delete_occurrence(call, item, orig)
        gone = item.id if orig is None else occurrence_id(item.id, orig)
        call.record_write(item.mailbox, gone)
        call.record_item_send(meetings.deleted(item.mailbox, gone, send, before))
        return None

    return _per_item(call, "DeleteItem", ids, handle)


def delete_occurrence(call: Call, item: Item, orig: datetime) -> None:
    item.exceptions.pop(orig, None)
    item.deleted.add(orig)
    call.state.touch(item)


# --- MoveItem -------------------------------------------------------------------------------
def move_item(call: Call, req: ET.Element) -> ET.Element:
    ids = list(req.find(m("ItemIds")) or [])
    try:
        target = call.calendar(req.find(m("ToFolderId")))
    except EwsError as err:
        if err.code == "ErrorSchemaValidation":
            raise  # a SOAP fault, not a response message
        return _whole_request_error("MoveItem", len(ids), err)

    def handle(elem: ET.Element) -> ET.Element:
        item, orig = call.item(elem)
        call.faults.check_item(item.id, call.operation)
        if orig is not None:
            raise EwsError(
                "ErrorCalendarCannotMoveOrCopyOccurrence", "An occurrence cannot be moved."
            )
        moved = call.state.move(item, target)
        call.record_write(target.email, moved.id)
        return _items(_id_only(moved.id, moved.change_key))

    return _per_item(call, "MoveItem", ids, handle)
