"""The mailbox owner's view (what a user does in Outlook), in Python terms, for tests and drivers.

Field names (keyword arguments of create/update, keys of item()):
  subject, body, body_type ("Text" | "HTML"), location, start, end (aware datetimes),
  start_tz, end_tz (Windows zone ids, e.g. "W. Europe Standard Time"), is_all_day,
  sensitivity ("Normal" | "Personal" | "Private" | "Confidential"),
  legacy_free_busy_status ("Free" | "Tentative" | "Busy" | "OOF" | "WorkingElsewhere" | "NoData"),
  required_attendees, optional_attendees (lists of e-mail addresses),
  recurrence (dict, see `recurrence_element`), uid,
  extended ({(property_set_id, property_name): str} - String-typed named properties).
item() adds: id, change_key, calendar_item_type, organizer (this mailbox), sequence
(AppointmentSequenceNumber), attendee_responses ({address: ResponseType}),
modified_occurrences ({original start: fields}),
deleted_occurrences (sorted original starts), extended keyed by (set id, name, type).
"""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime
from typing import Any
from xml.etree import ElementTree as ET

from .itemxml import new_uid
from .meetings import respond
from .recurrence import occurrence_id, series_of
from .soap import EwsError, t
from .store import Item, Mailbox, Occurrence, State
from .times import format_datetime, parse_datetime, windows_zone, zone_id

_SIMPLE = {
    "subject": "Subject",
    "location": "Location",
    "sensitivity": "Sensitivity",
    "legacy_free_busy_status": "LegacyFreeBusyStatus",
    "uid": "UID",
}
_PATTERN_KEYS = {
    "interval": "Interval",
    "days_of_week": "DaysOfWeek",
    "day_of_week_index": "DayOfWeekIndex",
    "day_of_month": "DayOfMonth",
    "month": "Month",
    "first_day_of_week": "FirstDayOfWeek",
}
# Child order inside each pattern element (types.xsd).
_PATTERN_ORDER = (
    "Interval",
    "DaysOfWeek",
    "DayOfWeekIndex",
    "DayOfMonth",
    "Month",
    "FirstDayOfWeek",
)


def _el(name: str, text: str | None = None, **attrs: str) -> ET.Element:
    elem = ET.Element(t(name), attrs)
    if text is not None:
        elem.text = text
    return elem


def recurrence_element(spec: dict[str, Any]) -> ET.Element:
    """{"pattern": "WeeklyRecurrence", "interval": 1, "days_of_week": "Monday Wednesday",
    "start_date": date, then "end_date": date or "count": int or neither (no end)}."""
    rec = _el("Recurrence")
    pattern = ET.SubElement(rec, t(spec["pattern"]))
    for name in _PATTERN_ORDER:
        key = next(k for k, v in _PATTERN_KEYS.items() if v == name)
        if key in spec:
            ET.SubElement(pattern, t(name)).text = str(spec[key])
    start: date = spec["start_date"]
    if "end_date" in spec:
        rng = ET.SubElement(rec, t("EndDateRecurrence"))
        ET.SubElement(rng, t("StartDate")).text = start.isoformat()
        ET.SubElement(rng, t("EndDate")).text = spec["end_date"].isoformat()
    elif "count" in spec:
        rng = ET.SubElement(rec, t("NumberedRecurrence"))
        ET.SubElement(rng, t("StartDate")).text = start.isoformat()
        ET.SubElement(rng, t("NumberOfOccurrences")).text = str(spec["count"])
    else:
        rng = ET.SubElement(rec, t("NoEndRecurrence"))
        ET.SubElement(rng, t("StartDate")).text = start.isoformat()
    return rec


def recurrence_spec(elem: ET.Element) -> dict[str, Any]:
    pattern, rng = list(elem)
    spec: dict[str, Any] = {"pattern": pattern.tag.split("}")[1]}
    for key, name in _PATTERN_KEYS.items():
        value = pattern.findtext(t(name))
        if value is not None:
            spec[key] = int(value) if key in ("interval", "day_of_month") else value
    spec["start_date"] = date.fromisoformat((rng.findtext(t("StartDate")) or "")[:10])
    if rng.findtext(t("EndDate")):
        spec["end_date"] = date.fromisoformat((rng.findtext(t("EndDate")) or "")[:10])
    if rng.findtext(t("NumberOfOccurrences")):
        spec["count"] = int(rng.findtext(t("NumberOfOccurrences")) or "0")
    return spec


def _attendees(tag: str, addresses: list[str]) -> ET.Element:
    outer = _el(tag)
    for address in addresses:
        attendee = ET.SubElement(outer, t("Attendee"))
        box = ET.SubElement(attendee, t("Mailbox"))
        ET.SubElement(box, t("EmailAddress")).text = address
    return outer


def to_elements(values: dict[str, Any]) -> tuple[dict[str, ET.Element], dict, set[str]]:
    """Python field values -> (elements by EWS name, extended props, EWS names to delete (None))."""
    fields: dict[str, ET.Element] = {}
    extended: dict = {}
    deletes: set[str] = set()
    body_type = values.get("body_type", "Text")
    for key, value in values.items():
        if key == "body_type":
            continue
        if value is None:
            deletes.add(_name_of(key))
            continue
        if key in _SIMPLE:
            fields[_SIMPLE[key]] = _el(_SIMPLE[key], str(value))
        elif key == "body":
            fields["Body"] = _el("Body", value, BodyType=body_type)
        elif key in ("start", "end"):
            if value.tzinfo is None:
                raise ValueError(f"{key} must be timezone-aware")
            fields[key.title()] = _el(key.title(), format_datetime(value))
        elif key in ("start_tz", "end_tz"):
            windows_zone(value)
            name = "StartTimeZone" if key == "start_tz" else "EndTimeZone"
            fields[name] = _el(name, Id=value)
        elif key == "is_all_day":
            fields["IsAllDayEvent"] = _el("IsAllDayEvent", "true" if value else "false")
        elif key in ("required_attendees", "optional_attendees"):
            name = "RequiredAttendees" if key == "required_attendees" else "OptionalAttendees"
            fields[name] = _attendees(name, list(value))
        elif key == "recurrence":
            fields["Recurrence"] = recurrence_element(value)
        elif key == "extended":
            for (prop_set, prop_name), prop_value in value.items():
                extended[(prop_set.lower(), prop_name, "String")] = prop_value
        else:
            raise ValueError(f"unknown calendar item field {key!r}")
    return fields, extended, deletes


def _name_of(key: str) -> str:
    names = {
        **_SIMPLE,
        "body": "Body",
        "start_tz": "StartTimeZone",
        "end_tz": "EndTimeZone",
        "is_all_day": "IsAllDayEvent",
        "required_attendees": "RequiredAttendees",
        "optional_attendees": "OptionalAttendees",
        "recurrence": "Recurrence",
    }
    if key not in names:
        raise ValueError(f"{key} cannot be removed")
    return names[key]


def from_elements(fields: dict[str, ET.Element]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, name in _SIMPLE.items():
        if name in fields:
            out[key] = fields[name].text or ""
    if "Body" in fields:
        out["body"] = fields["Body"].text or ""
        out["body_type"] = fields["Body"].get("BodyType", "Text")
    for key in ("start", "end"):
        if key.title() in fields:
            out[key] = parse_datetime(fields[key.title()].text or "")
    if "StartTimeZone" in fields or "MeetingTimeZone" in fields:
        out["start_tz"] = zone_id(fields.get("StartTimeZone", fields.get("MeetingTimeZone")))
    if "EndTimeZone" in fields:
        out["end_tz"] = zone_id(fields["EndTimeZone"])
    if "IsAllDayEvent" in fields:
        out["is_all_day"] = (fields["IsAllDayEvent"].text or "").strip() == "true"
    for key, name in (
        ("required_attendees", "RequiredAttendees"),
        ("optional_attendees", "OptionalAttendees"),
    ):
        if name in fields:
            out[key] = [a.findtext(f"{t('Mailbox')}/{t('EmailAddress')}") for a in fields[name]]
    if "Recurrence" in fields:
        out["recurrence"] = recurrence_spec(fields["Recurrence"])
    return out


class MailboxView:
    """One mailbox as its owner sees it. Every method takes the emulator's lock."""

    def __init__(self, emulator: Any, email: str) -> None:
        self._emulator = emulator
        self.email = email

    @property
    def _state(self) -> State:
        return self._emulator.state

    def _box(self) -> Mailbox:
        return self._state.mailbox(self.email)

    def _item(self, item_id: str) -> Item:
        item = self._box().items.get(item_id)
        if item is None:
            raise KeyError(f"no item {item_id!r} in {self.email}")
        return item

    def create(self, **values: Any) -> str:
        """A new item in the calendar (as if made in Outlook); returns its ItemId."""
        with self._emulator.lock:
            fields, extended, _ = to_elements(values)
            if "Start" not in fields or "End" not in fields:
                raise ValueError("create() needs start and end")
            fields.setdefault("UID", new_uid())
            if "Recurrence" in fields:
                series_of(fields)
            return self._state.insert(self._box(), fields, extended).id

    def update(self, item_id: str, **values: Any) -> str:
        """Change fields (None removes one); returns the new ChangeKey."""
        with self._emulator.lock:
            item = self._item(item_id)
            fields, extended, deletes = to_elements(values)
            item.fields.update(fields)
            for name in deletes:
                item.fields.pop(name, None)
            item.extended.update(extended)
            if "Recurrence" in fields or "Start" in fields:
                item.exceptions, item.deleted = {}, set()
            self._state.touch(item)
            return item.change_key

    def set_extended(self, item_id: str, prop_set: str, name: str, value: str | None) -> None:
        with self._emulator.lock:
            item = self._item(item_id)
            key = (prop_set.lower(), name, "String")
            if value is None:
                item.extended.pop(key, None)
            else:
                item.extended[key] = value
            self._state.touch(item)

    def respond(self, item_id: str, attendee: str, response: str) -> str:
        """An attendee's meeting response ("Accept", "Decline", "Tentative") reaches this
        organiser's item: its ResponseType changes (a modification: new ChangeKey, returned)."""
        with self._emulator.lock:
            item = self._item(item_id)
            if not respond(item.fields, attendee, response):
                raise KeyError(f"{attendee!r} does not attend {item_id!r}")
            self._state.touch(item)
            return item.change_key

    def delete(self, item_id: str) -> None:
        with self._emulator.lock:
            self._state.remove(self._item(item_id))

    def move(self, item_id: str) -> str:
        """Move the item to another folder and back: same content, a new ItemId (returned)."""
        with self._emulator.lock:
            return self._state.move(self._item(item_id)).id

    def occurrence_starts(self, item_id: str, limit: int = 50) -> list[datetime]:
        with self._emulator.lock:
            starts = series_of(self._item(item_id).fields).starts()
            return [s for _, s in zip(range(limit), starts, strict=False)]

    def modify_occurrence(self, item_id: str, original_start: datetime, **values: Any) -> str:
        """Make (or change) an exception; returns the occurrence's ItemId."""
        with self._emulator.lock:
            item = self._item(item_id)
            orig = self._original(item, original_start)
            fields, extended, _ = to_elements(values)
            exception = item.exceptions.setdefault(orig, Occurrence())
            exception.fields.update(fields)
            exception.extended.update(extended)
            self._state.touch(item)
            return occurrence_id(item.id, orig)

    def delete_occurrence(self, item_id: str, original_start: datetime) -> None:
        with self._emulator.lock:
            item = self._item(item_id)
            orig = self._original(item, original_start)
            item.exceptions.pop(orig, None)
            item.deleted.add(orig)
            self._state.touch(item)

    def _original(self, item: Item, original_start: datetime) -> datetime:
        orig = original_start.astimezone(UTC)
        if not item.is_recurring or series_of(item.fields).index_of(orig) is None:
            raise EwsError(
                "ErrorItemNotFound", f"{original_start} is not an occurrence of {item.id}"
            )
        return orig

    def items(self) -> list[dict[str, Any]]:
        with self._emulator.lock:
            return [
                self._describe(i) for i in sorted(self._box().items.values(), key=lambda i: i.seq)
            ]

    def item(self, item_id: str) -> dict[str, Any]:
        with self._emulator.lock:
            return self._describe(self._item(item_id))

    def raw(self, item_id: str) -> str:
        """The item as stored, every element and extended property, as XML text."""
        with self._emulator.lock:
            item = self._item(item_id)
            root = ET.Element(t("CalendarItem"))
            root.extend(copy.deepcopy(list(item.fields.values())))
            for (prop_set, name, kind), value in sorted(item.extended.items()):
                ET.SubElement(root, t("ExtendedProperty"), PropertySetId=prop_set,
                              PropertyName=name, PropertyType=kind).text = value  # fmt: skip
            return ET.tostring(root, encoding="unicode")

    def _describe(self, item: Item) -> dict[str, Any]:
        out = from_elements(item.fields)
        out.update(
            id=item.id,
            organizer=self.email,
            sequence=item.sequence,
            attendee_responses={
                (a.findtext(f"{t('Mailbox')}/{t('EmailAddress')}") or "").lower(): (
                    a.findtext(t("ResponseType")) or "Unknown"
                )
                for name in ("RequiredAttendees", "OptionalAttendees")
                for a in item.fields.get(name, ())
            },
            change_key=item.change_key,
            calendar_item_type="RecurringMaster" if item.is_recurring else "Single",
            extended=dict(item.extended),
            modified_occurrences={
                orig: {**from_elements(exc.fields), "extended": dict(exc.extended)}
                for orig, exc in sorted(item.exceptions.items())
            },
            deleted_occurrences=sorted(item.deleted),
        )
        return out
