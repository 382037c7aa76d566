"""GetFolder, ResolveNames and ConvertId."""

from __future__ import annotations

import base64
from xml.etree import ElementTree as ET

from .context import Call
from .soap import EwsError, m, response, response_message, t

_DISPLAY = {
    "root": "Top of Information Store",
    "msgfolderroot": "Top of Information Store",
    "calendar": "Calendar",
}


def get_folder(call: Call, req: ET.Element) -> ET.Element:
    ids = list(req.find(m("FolderIds")) or [])
    messages = []
    for elem in ids:
        try:
            box, name = call.folder(elem)
        except EwsError as err:
            if err.code == "ErrorSchemaValidation":
                raise  # a SOAP fault, not a response message
            msg = response_message("GetFolder", error=err)
            ET.SubElement(msg, m("Folders"))
            messages.append(msg)
            continue
        msg = response_message("GetFolder")
        folders = ET.SubElement(msg, m("Folders"))
        tag = "CalendarFolder" if name == "calendar" else "Folder"
        folder = ET.SubElement(folders, t(tag))
        ET.SubElement(
            folder, t("FolderId"), {"Id": box.folder_id(name), "ChangeKey": "AQAAABYAAAA="}
        )
        if name != "root":
            parent = "root" if name == "msgfolderroot" else "msgfolderroot"
            ET.SubElement(
                folder, t("ParentFolderId"), {"Id": box.folder_id(parent), "ChangeKey": "AQAAAA=="}
            )
        ET.SubElement(folder, t("FolderClass")).text = (
            "IPF.Appointment" if name == "calendar" else "IPF.Note"
        )
        ET.SubElement(folder, t("DisplayName")).text = _DISPLAY[name]
        ET.SubElement(folder, t("TotalCount")).text = str(
            len(box.items) if name == "calendar" else 0
        )
        ET.SubElement(folder, t("ChildFolderCount")).text = "0" if name == "calendar" else "1"
        rights = ET.SubElement(folder, t("EffectiveRights"))
        for right in (
            "CreateAssociated",
            "CreateContents",
            "CreateHierarchy",
            "Delete",
            "Modify",
            "Read",
        ):
            ET.SubElement(rights, t(right)).text = "true"
        messages.append(msg)
    return response("GetFolder", messages)


def resolve_names(call: Call, req: ET.Element) -> ET.Element:
    entry = (req.findtext(m("UnresolvedEntry")) or "").strip()
    needle = entry.lower().removeprefix("smtp:")
    found = [
        box
        for key, box in sorted(call.state.mailboxes.items())
        if key == needle
        or (needle and (key.startswith(needle) or box.display_name.lower().startswith(needle)))
    ]
    exact = [box for box in found if box.email.lower() == needle]
    if exact:
        found = exact
    if not found:
        err = EwsError("ErrorNameResolutionNoResults", "No results were found.")
        return response("ResolveNames", [response_message("ResolveNames", error=err)])
    warning = None
    if len(found) > 1:
        warning = EwsError("ErrorNameResolutionMultipleResults", "Multiple results were found.")
    msg = response_message("ResolveNames", warning=warning)
    resolutions = ET.SubElement(
        msg,
        m("ResolutionSet"),
        {"TotalItemsInView": str(len(found)), "IncludesLastItemInRange": "true"},
    )
    for box in found:
        resolution = ET.SubElement(resolutions, t("Resolution"))
        mailbox = ET.SubElement(resolution, t("Mailbox"))
        ET.SubElement(mailbox, t("Name")).text = box.display_name
        ET.SubElement(mailbox, t("EmailAddress")).text = box.email
        ET.SubElement(mailbox, t("RoutingType")).text = "SMTP"
        ET.SubElement(mailbox, t("MailboxType")).text = "Mailbox"
    return response("ResolveNames", [msg])


# ConvertId formats (IdFormatType). Our EwsId is the canonical form; the others wrap its bytes.
FORMATS = ("EwsId", "EwsLegacyId", "EntryId", "HexEntryId", "StoreId", "OwaId")


def _to_raw(fmt: str, value: str) -> bytes:
    try:
        if fmt in ("EwsId", "EwsLegacyId", "OwaId"):
            return base64.b64decode(value, validate=True)
        if fmt in ("EntryId", "StoreId"):
            raw = base64.b64decode(value, validate=True)
        else:  # HexEntryId
            raw = bytes.fromhex(value)
    except ValueError:
        raise EwsError("ErrorInvalidIdMalformed", "Id is malformed.") from None
    if not raw.startswith(b"\x00\x00\x00\x00"):
        raise EwsError("ErrorInvalidIdMalformed", "Id is malformed.")
    return raw[4:]


def _from_raw(fmt: str, raw: bytes) -> str:
    if fmt in ("EwsId", "EwsLegacyId", "OwaId"):
        return base64.b64encode(raw).decode()
    wrapped = b"\x00\x00\x00\x00" + raw
    if fmt == "HexEntryId":
        return wrapped.hex().upper()
    return base64.b64encode(wrapped).decode()


def convert_id(call: Call, req: ET.Element) -> ET.Element:
    dest = req.get("DestinationFormat")
    messages = []
    for alt in list(req.find(m("SourceIds")) or []):
        try:
            if dest not in FORMATS:
                raise EwsError("ErrorSchemaValidation", f"DestinationFormat {dest!r}")
            fmt = alt.get("Format", "")
            if fmt not in FORMATS:
                raise EwsError("ErrorSchemaValidation", f"Format {fmt!r}")
            raw = _to_raw(fmt, alt.get("Id", ""))
            ews_id = base64.b64encode(raw).decode()
            item = call.state.find_item(ews_id)
            call.check_access(call.state.mailbox(item.mailbox))
            mailbox = alt.get("Mailbox") or item.mailbox
        except EwsError as err:
            if err.code == "ErrorSchemaValidation":
                raise  # a SOAP fault, not a response message
            messages.append(response_message("ConvertId", error=err))
            continue
        msg = response_message("ConvertId")
        ET.SubElement(
            msg, m("AlternateId"), {"Format": dest, "Id": _from_raw(dest, raw), "Mailbox": mailbox}
        ).set("{http://www.w3.org/2001/XMLSchema-instance}type", "t:AlternateIdType")
        messages.append(msg)
    return response("ConvertId", messages)
