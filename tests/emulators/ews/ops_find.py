"""FindItem: CalendarView (occurrences expanded) or an indexed view with a Restriction."""

from __future__ import annotations

from datetime import datetime
from xml.etree import ElementTree as ET

from . import itemxml
from .context import Call
from .itemxml import occurrence_times
from .recurrence import series_of
from .soap import EwsError, m, response, response_message, t
from .store import Item
from .times import parse_datetime

# FindItem returns no body, attachments or recipient lists (GetItem does).
NOT_IN_FIND = {
    "Body",
    "Attachments",
    "RequiredAttendees",
    "OptionalAttendees",
    "Resources",
    "UniqueBody",
}


def find_item(call: Call, req: ET.Element) -> ET.Element:
    try:
        traversal = req.get("Traversal")
        if traversal != "Shallow":
            raise EwsError(
                "ErrorInvalidOperation", f"Traversal={traversal!r}: only Shallow is emulated"
            )
        shape = itemxml.read_shape(req.find(m("ItemShape")))
        shape.exclude |= NOT_IN_FIND
        box = call.calendar(req.find(m("ParentFolderIds")))
        view = req.find(m("CalendarView"))
        restriction = req.find(m("Restriction"))
        if view is not None:
            if restriction is not None:
                raise EwsError(
                    "ErrorInvalidRestriction",
                    "A CalendarView cannot be combined with a Restriction.",
                )
            rows, root_attrs = _calendar_view(list(box.items.values()), view)
        else:
            items = sorted(box.items.values(), key=lambda i: i.fields["Start"].text or "")
            if restriction is not None:
                test = _restriction(restriction[0])
                items = [i for i in items if test(i)]
            rows, root_attrs = _indexed(items, req.find(m("IndexedPageItemView")))
        for item, _ in rows:
            call.faults.check_item(item.id, call.operation)
    except EwsError as err:
        if err.code == "ErrorSchemaValidation":
            raise  # a SOAP fault, not a response message
        return response("FindItem", [response_message("FindItem", error=err)])
    msg = response_message("FindItem")
    root = ET.SubElement(msg, m("RootFolder"), root_attrs)
    container = ET.SubElement(root, t("Items"))
    for item, orig in rows:
        container.append(itemxml.render(item, box, shape, orig))
    return response("FindItem", [msg])


def _calendar_view(items: list[Item], view: ET.Element) -> tuple[list, dict]:
    lo = parse_datetime(view.get("StartDate", ""))
    hi = parse_datetime(view.get("EndDate", ""))
    if hi < lo:
        raise EwsError(
            "ErrorCalendarEndDateIsEarlierThanStartDate", "EndDate is earlier than StartDate."
        )
    rows: list[tuple[Item, datetime | None, datetime]] = []
    for item in items:
        if not item.is_recurring:
            start, end = _span(item)
            if _overlaps(start, end, lo, hi):
                rows.append((item, None, start))
            continue
        for orig in series_of(item.fields).starts():
            if orig >= hi:
                break
            if orig in item.deleted or orig in item.exceptions:
                continue
            start, end = occurrence_times(item, orig)
            if _overlaps(start, end, lo, hi):
                rows.append((item, orig, start))
        for orig in item.exceptions:  # modified occurrences may have moved anywhere
            start, end = occurrence_times(item, orig)
            if _overlaps(start, end, lo, hi):
                rows.append((item, orig, start))
    rows.sort(key=lambda r: r[2])
    total = len(rows)
    limit = view.get("MaxEntriesReturned")
    if limit is not None:
        if int(limit) < 1:
            raise EwsError("ErrorInvalidRequest", "MaxEntriesReturned must be at least 1")
        rows = rows[: int(limit)]
    attrs = {
        "TotalItemsInView": str(total),
        "IncludesLastItemInRange": str(len(rows) == total).lower(),
    }
    return [(r[0], r[1]) for r in rows], attrs


def _span(item: Item) -> tuple[datetime, datetime]:
    return parse_datetime(item.fields["Start"].text or ""), parse_datetime(
        item.fields["End"].text or ""
    )


def _overlaps(start: datetime, end: datetime, lo: datetime, hi: datetime) -> bool:
    """CalendarView (docs): items ending before StartDate, or starting on or after EndDate,
    are left out; so one ending exactly at StartDate is in."""
    return start < hi and end >= lo


def _indexed(items: list[Item], view: ET.Element | None) -> tuple[list, dict]:
    total = len(items)
    offset, limit = 0, total
    if view is not None:
        offset = int(view.get("Offset", "0"))
        if view.get("BasePoint", "Beginning") == "End":
            offset = max(total - offset - int(view.get("MaxEntriesReturned", total)), 0)
        if view.get("MaxEntriesReturned") is not None:
            limit = int(view.get("MaxEntriesReturned", "0"))
    page = items[offset : offset + limit]
    attrs = {
        "IndexedPagingOffset": str(offset + len(page)),
        "TotalItemsInView": str(total),
        "IncludesLastItemInRange": "true" if offset + len(page) >= total else "false",
    }
    return [(i, None) for i in page], attrs


def _restriction(expr: ET.Element):
    tag = expr.tag.split("}")[1]
    if tag in ("And", "Or"):
        parts = [_restriction(child) for child in expr]
        if tag == "And":
            return lambda item: all(p(item) for p in parts)
        return lambda item: any(p(item) for p in parts)
    if tag == "Not":
        inner = _restriction(expr[0])
        return lambda item: not inner(item)
    if tag in ("IsEqualTo", "IsNotEqualTo"):
        path, constant = expr[0], expr.find(f"{t('FieldURIOrConstant')}/{t('Constant')}")
        if constant is None:
            raise EwsError("ErrorInvalidRestriction", f"{tag} needs a FieldURIOrConstant/Constant")
        wanted = constant.get("Value", "")
        getter = _getter(path)
        same = tag == "IsEqualTo"
        return lambda item: (getter(item) == wanted) == same
    if tag == "Exists":
        getter = _getter(expr[0])
        return lambda item: getter(item) is not None
    raise EwsError("ErrorUnsupportedQueryFilter", f"restriction {tag} is not emulated")


def _getter(path: ET.Element):
    tag = path.tag.split("}")[1]
    if tag == "ExtendedFieldURI":
        key = itemxml.prop_key(path)
        return lambda item: item.extended.get(key)
    if tag == "FieldURI":
        name = itemxml.field_name(path.get("FieldURI", ""))
        if name == "ItemId":
            return lambda item: item.id
        return lambda item: item.fields[name].text if name in item.fields else None
    raise EwsError("ErrorUnsupportedPathForQuery", f"{tag} cannot be used in a restriction")
