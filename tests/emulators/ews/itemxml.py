"""Calendar items <-> EWS XML: reading t:CalendarItem children, rendering the requested shape."""

from __future__ import annotations

import copy
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from xml.etree import ElementTree as ET

from .body import shaped
from .recurrence import occurrence_id, series_of
from .soap import EwsError, t
from .store import Item, Mailbox, PropKey
from .times import format_datetime, parse_datetime

# Element order of ItemType then CalendarItemType in the EWS schema (types.xsd).
ORDER = (
    "MimeContent ItemId ParentFolderId ItemClass Subject Sensitivity Body Attachments "
    "DateTimeReceived Size Categories Importance InReplyTo IsSubmitted IsDraft IsFromMe IsResend "
    "IsUnmodified InternetMessageHeaders DateTimeSent DateTimeCreated ResponseObjects "
    "ReminderDueBy "
    "ReminderIsSet ReminderNextTime ReminderMinutesBeforeStart DisplayCc DisplayTo HasAttachments "
    "ExtendedProperty Culture EffectiveRights LastModifiedName LastModifiedTime IsAssociated "
    "WebClientReadFormQueryString WebClientEditFormQueryString ConversationId UniqueBody "
    "UID RecurrenceId DateTimeStamp Start End OriginalStart IsAllDayEvent LegacyFreeBusyStatus "
    "Location When IsMeeting IsCancelled IsRecurring MeetingRequestWasSent IsResponseRequested "
    "CalendarItemType MyResponseType Organizer RequiredAttendees OptionalAttendees Resources "
    "ConflictingMeetingCount AdjacentMeetingCount ConflictingMeetings AdjacentMeetings Duration "
    "TimeZone AppointmentReplyTime AppointmentSequenceNumber AppointmentState Recurrence "
    "FirstOccurrence LastOccurrence ModifiedOccurrences DeletedOccurrences MeetingTimeZone "
    "StartTimeZone EndTimeZone ConferenceType AllowNewTimeProposal IsOnlineMeeting "
    "MeetingWorkspaceUrl NetShowUrl EnhancedLocation StartWallClock EndWallClock StartTimeZoneId "
    "EndTimeZoneId IntendedFreeBusyStatus JoinOnlineMeetingUrl OnlineMeetingSettings "
    "IsOrganizer"
).split()
_RANK = {name: n for n, name in enumerate(ORDER)}
COMPUTED = {
    "ItemId", "ParentFolderId", "DateTimeCreated", "LastModifiedTime", "CalendarItemType",
    "IsRecurring", "Organizer", "MyResponseType", "FirstOccurrence", "LastOccurrence",
    "ModifiedOccurrences", "DeletedOccurrences", "OriginalStart", "RecurrenceId", "IsMeeting",
    "HasAttachments", "IsOrganizer", "Duration", "IsCancelled", "AppointmentState", "Size",
    "AppointmentSequenceNumber",
}  # fmt: skip
# Fields an occurrence may not carry on its own (they belong to the series). Its zones it may:
# exchangelib sends StartTimeZone/EndTimeZone with every Start/End change, occurrences included.
SERIES_ONLY = {"Recurrence", "UID"}
# xs:boolean fields: "1"/"0" are accepted and stored (and answered) as "true"/"false".
BOOLEANS = {
    "IsAllDayEvent", "ReminderIsSet", "IsResponseRequested", "AllowNewTimeProposal",
    "IsOnlineMeeting", "MeetingRequestWasSent", "IsDraft", "IsAssociated",
}  # fmt: skip
DEFAULT_SHAPE = (
    "ItemId Subject Sensitivity HasAttachments IsAssociated Start End LegacyFreeBusyStatus "
    "Location CalendarItemType Organizer IsAllDayEvent"
).split()


@dataclass
class Shape:
    names: set[str] = field(default_factory=set)
    extended: list[ET.Element] = field(default_factory=list)  # requested ExtendedFieldURI elements
    all_properties: bool = False
    body_type: str = "Best"
    exclude: set[str] = field(default_factory=set)  # never returned (FindItem: bodies, recipients)


def prop_key(uri: ET.Element) -> PropKey:
    """(property set, name or id or tag, type) of an ExtendedFieldURI."""
    prop_set = uri.get("PropertySetId") or uri.get("DistinguishedPropertySetId") or ""
    name = uri.get("PropertyName") or uri.get("PropertyId") or uri.get("PropertyTag")
    ptype = uri.get("PropertyType")
    if not name or not ptype:
        raise EwsError("ErrorInvalidExtendedProperty", "ExtendedFieldURI lacks a name or a type")
    if uri.get("PropertyTag") is None and not prop_set:
        raise EwsError("ErrorInvalidExtendedProperty", "named property without a property set")
    return (prop_set.lower(), name, ptype)


def field_name(uri: str) -> str:
    """ "calendar:Start" -> "Start"."""
    if ":" not in uri:
        raise EwsError("ErrorInvalidPropertyRequest", f"bad FieldURI {uri!r}")
    return uri.split(":", 1)[1]


def read_shape(elem: ET.Element | None) -> Shape:
    shape = Shape()
    if elem is None:
        raise EwsError("ErrorSchemaValidation", "ItemShape is required")
    base = (elem.findtext(t("BaseShape")) or "").strip()
    if base not in ("IdOnly", "Default", "AllProperties"):
        raise EwsError("ErrorSchemaValidation", f"bad BaseShape {base!r}")
    shape.names.add("ItemId")
    if base == "Default":
        shape.names.update(DEFAULT_SHAPE)
    shape.all_properties = base == "AllProperties"
    shape.body_type = (elem.findtext(t("BodyType")) or "Best").strip()
    extra = elem.find(t("AdditionalProperties"))
    for child in extra if extra is not None else ():
        tag = child.tag.split("}")[1]
        if tag == "FieldURI":
            shape.names.add(field_name(child.get("FieldURI", "")))
        elif tag == "ExtendedFieldURI":
            prop_key(child)
            shape.extended.append(child)
        elif tag == "IndexedFieldURI":
            continue  # contact/address fields: nothing on a calendar item
    return shape


def read_value(elem: ET.Element) -> str:
    value = elem.find(t("Value"))
    if value is not None:
        return value.text or ""
    values = elem.find(t("Values"))
    if values is not None:
        return "\n".join(v.text or "" for v in values)
    raise EwsError("ErrorInvalidExtendedPropertyValue", "ExtendedProperty without Value")


def read_fields(cal: ET.Element) -> tuple[dict[str, ET.Element], dict[PropKey, str]]:
    """The children of a t:CalendarItem from CreateItem or a SetItemField, by local name."""
    if cal.tag != t("CalendarItem"):
        raise EwsError("ErrorInvalidItemForOperation", f"not a calendar item: {cal.tag}")
    fields: dict[str, ET.Element] = {}
    extended: dict[PropKey, str] = {}
    for child in cal:
        name = child.tag.split("}")[1]
        if name == "ExtendedProperty":
            uri = child.find(t("ExtendedFieldURI"))
            if uri is None:
                raise EwsError("ErrorSchemaValidation", "ExtendedProperty without ExtendedFieldURI")
            extended[prop_key(uri)] = read_value(child)
            continue
        if name in COMPUTED:
            raise EwsError("ErrorInvalidPropertySet", f"{name} is read-only")
        value = copy.deepcopy(child)
        if name in ("Start", "End"):
            value.text = format_datetime(parse_datetime(child.text or ""))
        elif name in BOOLEANS:
            text = (child.text or "").strip()
            if text not in ("true", "false", "1", "0"):
                raise EwsError("ErrorInvalidValueForProperty", f"{name} is not a boolean: {text!r}")
            value.text = "true" if text in ("true", "1") else "false"
        fields[name] = value
    return fields, extended


def check_times(fields: dict[str, ET.Element]) -> None:
    start, end = fields.get("Start"), fields.get("End")
    if start is None or end is None:
        return
    if parse_datetime(end.text or "") < parse_datetime(start.text or ""):
        raise EwsError("ErrorCalendarEndDateIsEarlierThanStartDate", "End is earlier than Start.")


def new_uid() -> ET.Element:
    uid = ET.Element(t("UID"))
    uid.text = "040000008200E00074C5B7101A82E00800000000" + secrets.token_hex(24).upper()
    return uid


def _el(name: str, text: str | None = None, **attrs: str) -> ET.Element:
    elem = ET.Element(t(name), attrs)
    if text is not None:
        elem.text = text
    return elem


def _mailbox(email: str, name: str) -> ET.Element:
    box = ET.Element(t("Mailbox"))
    box.append(_el("Name", name))
    box.append(_el("EmailAddress", email))
    box.append(_el("RoutingType", "SMTP"))
    box.append(_el("MailboxType", "Mailbox"))
    return box


def _occurrence_info(
    tag: str, item: Item, start: datetime, end: datetime, orig: datetime
) -> ET.Element:
    info = _el(tag)
    info.append(_el("ItemId", Id=occurrence_id(item.id, orig), ChangeKey=item.change_key))
    info.append(_el("Start", format_datetime(start)))
    info.append(_el("End", format_datetime(end)))
    info.append(_el("OriginalStart", format_datetime(orig)))
    return info


def occurrence_times(item: Item, orig: datetime) -> tuple[datetime, datetime]:
    start = parse_datetime(item.fields["Start"].text or "")
    end = parse_datetime(item.fields["End"].text or "")
    own = item.exceptions.get(orig)
    if own is not None:
        s = own.fields.get("Start")
        e = own.fields.get("End")
        o_start = parse_datetime(s.text or "") if s is not None else orig
        o_end = parse_datetime(e.text or "") if e is not None else o_start + (end - start)
        return o_start, o_end
    return orig, orig + (end - start)


def _series_elements(item: Item, names: set[str], all_props: bool) -> list[ET.Element]:
    series = series_of(item.fields)
    out: list[ET.Element] = []
    if all_props or "FirstOccurrence" in names:
        first = next(iter(series.starts()), None)
        if first is not None:
            out.append(
                _occurrence_info("FirstOccurrence", item, *occurrence_times(item, first), first)
            )
    if all_props or "LastOccurrence" in names:
        last = series.last()
        if last is not None:
            out.append(
                _occurrence_info("LastOccurrence", item, *occurrence_times(item, last), last)
            )
    if (all_props or "ModifiedOccurrences" in names) and item.exceptions:
        mods = _el("ModifiedOccurrences")
        for orig in sorted(item.exceptions):
            mods.append(_occurrence_info("Occurrence", item, *occurrence_times(item, orig), orig))
        out.append(mods)
    if (all_props or "DeletedOccurrences" in names) and item.deleted:
        dels = _el("DeletedOccurrences")
        for orig in sorted(item.deleted):
            gone = _el("DeletedOccurrence")
            gone.append(_el("Start", format_datetime(orig)))
            dels.append(gone)
        out.append(dels)
    return out


def render(
    item: Item, box: Mailbox, shape: Shape, original_start: datetime | None = None
) -> ET.Element:
    """A t:CalendarItem with the shape's fields: the item itself, or (with original_start) one of
    its occurrences, the exception's own values layered over the master's."""
    names, all_props = shape.names, shape.all_properties

    def want(name: str) -> bool:
        return name not in shape.exclude and (all_props or name in names)

    fields = dict(item.fields)
    extended = dict(item.extended)
    if original_start is not None:
        own = item.exceptions.get(original_start)
        kind = "Exception" if own is not None else "Occurrence"
        if own is not None:
            fields.update(own.fields)
            extended.update(own.extended)
        start, end = occurrence_times(item, original_start)
        fields["Start"] = _el("Start", format_datetime(start))
        fields["End"] = _el("End", format_datetime(end))
        fields.pop("Recurrence", None)
        item_id = occurrence_id(item.id, original_start)
    else:
        kind = "RecurringMaster" if item.is_recurring else "Single"
        item_id = item.id
    out: list[ET.Element] = []
    for name, value in fields.items():
        if want(name):
            out.append(shaped(value, shape.body_type) if name == "Body" else copy.deepcopy(value))
    computed = {
        "ItemId": lambda: _el("ItemId", Id=item_id, ChangeKey=item.change_key),
        "ParentFolderId": lambda: _el(
            "ParentFolderId", Id=box.folder_id("calendar"), ChangeKey="AQAAAA=="
        ),
        "ItemClass": lambda: _el("ItemClass", "IPM.Appointment"),
        "DateTimeCreated": lambda: _el("DateTimeCreated", format_datetime(item.created)),
        "LastModifiedTime": lambda: _el("LastModifiedTime", format_datetime(item.modified_at)),
        "CalendarItemType": lambda: _el("CalendarItemType", kind),
        "IsRecurring": lambda: _el(
            "IsRecurring", "true" if original_start is not None else "false"
        ),
        "Organizer": lambda: _wrap("Organizer", _mailbox(box.email, box.display_name)),
        "MyResponseType": lambda: _el("MyResponseType", "Organizer"),
        "IsOrganizer": lambda: _el("IsOrganizer", "true"),
        "HasAttachments": lambda: _el("HasAttachments", "false"),
        "IsMeeting": lambda: _el(
            "IsMeeting",
            "true" if ("RequiredAttendees" in fields or "OptionalAttendees" in fields) else "false",
        ),
        "IsCancelled": lambda: _el("IsCancelled", "false"),
        "AppointmentSequenceNumber": lambda: _el("AppointmentSequenceNumber", str(item.sequence)),
    }
    for name, make in computed.items():
        if want(name) and name not in fields:
            out.append(make())
    if original_start is not None:
        for name in ("OriginalStart", "RecurrenceId"):
            if want(name):
                out.append(_el(name, format_datetime(original_start)))
    elif item.is_recurring:
        out.extend(_series_elements(item, names, all_props))
    for uri in shape.extended:
        key = prop_key(uri)
        if key in extended:
            prop = _el("ExtendedProperty")
            prop.append(copy.deepcopy(uri))
            prop.append(_el("Value", extended[key]))
            out.append(prop)
    out.sort(key=lambda e: _RANK.get(e.tag.split("}")[1], len(ORDER)))
    cal = ET.Element(t("CalendarItem"))
    cal.extend(out)
    return cal


def _wrap(tag: str, child: ET.Element) -> ET.Element:
    outer = _el(tag)
    outer.append(child)
    return outer
