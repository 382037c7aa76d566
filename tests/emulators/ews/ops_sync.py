"""SyncFolderItems on a calendar folder: creates, updates and deletes since a SyncState, paged."""

from __future__ import annotations

from xml.etree import ElementTree as ET

from . import itemxml
from .context import Call
from .ops_find import NOT_IN_FIND
from .soap import EwsError, m, response, response_message, t
from .store import SyncSnapshot


def sync_folder_items(call: Call, req: ET.Element) -> ET.Element:
    try:
        shape = itemxml.read_shape(req.find(m("ItemShape")))
        shape.exclude |= NOT_IN_FIND
        folder = req.find(m("SyncFolderId"))
        if folder is None or len(folder) != 1:
            raise EwsError("ErrorSchemaValidation", "SyncFolderId is required")
        box = call.calendar(folder)
        limit_text = (req.findtext(m("MaxChangesReturned")) or "").strip()
        if not limit_text.isdigit() or not 1 <= int(limit_text) <= 512:
            # types.xsd restricts it to 1..512: a violation fails schema validation
            raise EwsError("ErrorSchemaValidation", "MaxChangesReturned must be between 1 and 512")
        limit = int(limit_text)
        ignored = {e.get("Id") for e in req.find(m("Ignore")) or []}
        state_text = (req.findtext(m("SyncState")) or "").strip()
        old = call.state.snapshot(state_text or None, box)
    except EwsError as err:
        if err.code == "ErrorSchemaValidation":
            raise  # a SOAP fault, not a response message
        # Exchange's error message still carries an empty SyncState and IncludesLastItemInRange.
        msg = response_message("SyncFolderItems", error=err)
        ET.SubElement(msg, m("SyncState"))
        ET.SubElement(msg, m("IncludesLastItemInRange")).text = "true"
        return response("SyncFolderItems", [msg])

    current = {i.id: i for i in box.items.values() if i.id not in ignored}
    changes: list[tuple[int, str, str]] = []  # (order, kind, item id)
    for item_id, item in current.items():
        if item_id not in old.seen:
            changes.append((item.seq, "Create", item_id))
        elif old.seen[item_id] != item.change_key:
            changes.append((item.seq, "Update", item_id))
    for item_id in old.seen:
        if item_id not in current:
            changes.append((0, "Delete", item_id))
    changes.sort()
    page, rest = changes[:limit], changes[limit:]
    seen = dict(old.seen)
    msg = response_message("SyncFolderItems")
    state_elem = ET.SubElement(msg, m("SyncState"))
    ET.SubElement(msg, m("IncludesLastItemInRange")).text = "false" if rest else "true"
    container = ET.SubElement(msg, m("Changes"))
    for _, kind, item_id in page:
        change = ET.SubElement(container, t(kind))
        if kind == "Delete":
            ET.SubElement(change, t("ItemId"), {"Id": item_id})
            seen.pop(item_id, None)
            continue
        item = current[item_id]
        change.append(itemxml.render(item, box, shape))
        seen[item_id] = item.change_key
    state_elem.text = call.state.save_snapshot(SyncSnapshot(box.email, old.generation, seen))
    return response("SyncFolderItems", [msg])
