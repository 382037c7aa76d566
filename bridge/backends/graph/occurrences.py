"""``unsupported_recurrence = "occurrences"``: a series whose rule Graph cannot express
(FREQ=HOURLY, BYHOUR, RDATE, several rules, ...) written as single events, one per
occurrence in the sync window, instead of being refused.

The copies are one-way (CRM -> calendar). Each carries the CRM tag and an occurrence marker
(``CrmOccurrenceOf``: JSON of the group's id, its etag and the series as the CRM wrote it).
The engine knows the group by one virtual id, ``occurrences:<group>``: create, update and
delete of that id rewrite or remove every copy; ``get`` and ``find_by_meeting_id`` give the
series back from the marker exactly as it was written, so its ``content_hash()`` is the
pushed one (echo suppression holds). A pull never reports a copy (bridge.backends.graph.delta
skips marked events), so a copy edited or deleted in Outlook never changes, deletes or
makes a meeting; the next CRM change of the series writes the copies again.

The window slides: each marker also says up to when its group was written ("until", the
pull window's end plus ``rebaseline_days``), and the delta cursor keeps a table of groups
and how far each is covered (bridge.backends.graph.delta.Cursor). When a pull's window
reaches past a group's cover, ``extend`` writes the occurrences after it, and only those:
the copies already written are left as they are (also those the user deleted), and an
occurrence that has a copy at its start already is not written twice.
"""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import asdict, replace
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from bridge.backends.base import Deleted, PreconditionFailed, RemoteEvent, RemoteOverride, Window
from bridge.backends.graph import wire
from bridge.backends.graph.http import GraphClient, raise_for
from bridge.backends.graph.recurrence import occurrence_starts
from bridge.model import BusyStatus

log = logging.getLogger("bridge.backends.graph")

PREFIX = "occurrences:"
GROUP_NS = uuid.UUID("5b0d7c1e-8f3e-4d55-9a7e-2c61f0a4b3d9")
#: Most copies one series may make (the rest of the window is left out, and said).
MAX_COPIES = 500


def is_group(remote_id: str) -> bool:
    return remote_id.startswith(PREFIX)


def group_of(idempotency_key: str, meeting_id: str) -> str:
    """The virtual id of a new group: ``occurrences:<uuid>:<CRM meeting id>``."""
    return f"{PREFIX}{uuid.uuid5(GROUP_NS, idempotency_key)}:{meeting_id}"


def meeting_of(group: str) -> str:
    return group[len(PREFIX) + 37 :]


def group_etag(event: RemoteEvent) -> str:
    return "occ-" + event.content_hash()[:24]


# --- the series, kept on each copy ---------------------------------------------------------


def _dump(event: RemoteEvent, group: str, until: datetime) -> str:
    data = asdict(replace(event, remote_id="", etag="", attendees=(), updated=None))
    data.pop("attendees"), data.pop("updated"), data.pop("remote_id"), data.pop("etag")
    marker = {"group": group, "etag": group_etag(event), "until": until.isoformat()}
    return json.dumps({**marker, "series": data}, default=str)


def cover_of(item: dict[str, Any]) -> tuple[str, datetime | None] | None:
    """(group, written until) of a copy's marker (until None: a marker from before the
    window slid); None when ``item`` is no copy of ours."""
    text = marker_of(item)
    if not text:
        return None
    try:
        data = json.loads(text)
        group = str(data["group"])
        until = datetime.fromisoformat(data["until"]) if data.get("until") else None
    except (ValueError, KeyError, TypeError):
        return None
    return group, until


def _load(text: str) -> tuple[str, str, RemoteEvent] | None:
    """(group id, group etag, the series) of a marker; None when it is not ours."""
    try:
        data = json.loads(text)
        series = dict(data["series"])
        overrides = tuple(
            RemoteOverride(
                o["recurrence_id"],
                datetime.fromisoformat(o["start"]),
                datetime.fromisoformat(o["end"]),
                o["subject"],
                o["location"],
                o["description"],
                BusyStatus(o["busy"]),
            )
            for o in series.pop("overrides")
        )
        event = RemoteEvent(
            remote_id=str(data["group"]),
            etag=str(data["etag"]),
            start=datetime.fromisoformat(series.pop("start")),
            end=datetime.fromisoformat(series.pop("end")),
            recurrence=tuple(series.pop("recurrence")),
            overrides=overrides,
            busy=BusyStatus(series.pop("busy")),
            **series,
        )
    except (ValueError, KeyError, TypeError):
        return None
    return event.remote_id, event.etag, event


def marker_of(item: dict[str, Any]) -> str:
    """The occurrence marker on a read event ("" on every event that is no copy)."""
    return wire.tags_of(item).get(wire.OCCURRENCE_PROPERTY.lower(), "")


# --- expansion ------------------------------------------------------------------------------


def expand(event: RemoteEvent, window: Window) -> list[RemoteEvent]:
    """The series' occurrences that touch ``window``, as single events (overrides applied,
    EXDATEs left out), each tagged with the CRM id."""
    tz = wire.zone(event.timezone)
    length = event.end - event.start
    moved = {o.recurrence_id: o for o in event.overrides}
    out: list[RemoteEvent] = []
    for when in occurrence_starts(event.start.astimezone(tz), event.recurrence, window.end):
        key = wire.recurrence_id(when, event.all_day, tz)
        start, end = when, when + length
        fields: dict[str, Any] = {}
        override = moved.get(key)
        if override is not None:
            start, end = override.start, override.end
            fields = {
                "subject": override.subject,
                "location": override.location,
                "description": override.description,
                "busy": override.busy,
            }
        if end <= window.start:
            continue
        single = replace(
            event, remote_id="", etag="", recurrence=(), overrides=(), start=start, end=end
        )
        out.append(replace(single, **fields))
        if len(out) >= MAX_COPIES:
            log.warning("%s: only the first %d occurrences are written", event.subject, MAX_COPIES)
            break
    return out


class OccurrenceGroups:
    """Writes, reads and removes the copies of one mailbox's series written as occurrences."""

    def __init__(self, http: GraphClient, base: str) -> None:
        self.http, self.base = http, base
        #: group -> how far this backend wrote it since its last pull (None: removed)
        self.noted: dict[str, datetime | None] = {}

    def copies(self, group: str) -> list[dict[str, Any]]:
        """Every copy of ``group`` (found by the CRM tag, then by the group the marker names)."""
        return [i for i in self._tagged_copies(meeting_of(group)) if _group_in(i) == group]

    def _tagged_copies(self, meeting_id: str) -> list[dict[str, Any]]:
        value = meeting_id.replace("'", "''")
        crm = wire.CRM_ID_PROPERTY
        flt = f"singleValueExtendedProperties/Any(ep: ep/id eq '{crm}' and ep/value eq '{value}')"
        params = {"$filter": flt, "$expand": wire.EXPAND_TAGS, "$top": "100"}
        reply = self.http.call("GET", f"{self.base}/events", params=params)
        raise_for(reply, "GET occurrence copies", mailbox=True)
        items = list((reply.body or {}).get("value", []))
        link = (reply.body or {}).get("@odata.nextLink")
        while link:
            page = self.http.call("GET", link)
            raise_for(page, "GET occurrence copies")
            items += (page.body or {}).get("value", [])
            link = (page.body or {}).get("@odata.nextLink")
        return [item for item in items if marker_of(item)]

    def read(self, group: str) -> RemoteEvent | Deleted:
        """The series as written (from a copy's marker); Deleted when no copy is left."""
        for item in self.copies(group):
            loaded = _load(marker_of(item))
            if loaded is not None:
                return loaded[2]
        return Deleted(group)

    def for_meeting(self, meeting_id: str) -> RemoteEvent | None:
        for item in self._tagged_copies(meeting_id):
            loaded = _load(marker_of(item))
            if loaded is not None:
                return loaded[2]
        return None

    def write(
        self, event: RemoteEvent, group: str, window: Window, *, etag: str | None = None
    ) -> RemoteEvent:
        """Replace the group's copies by ``event``'s occurrences in ``window``; the series
        as the engine links it (remote id ``group``). ``etag`` (an update): the group's
        etag the caller saw, PreconditionFailed when the copies were written since."""
        old = self.copies(group)
        if etag:
            current = {(_load(marker_of(i)) or ("", "", None))[1] for i in old}
            if current and etag not in current:
                raise PreconditionFailed(f"Microsoft Graph: occurrences {group} changed")
        self.remove(old)
        singles = expand(event, window)
        self._post(singles, _dump(event, group, window.end))
        self.noted[group] = window.end
        log.info(
            "Microsoft Graph cannot express the recurrence of %s (%s): written as %d single "
            "occurrences in the window (unsupported_recurrence = occurrences; one-way)",
            event.crm_meeting_id,
            "; ".join(event.recurrence),
            len(singles),
        )
        return replace(event, remote_id=group, etag=group_etag(event))

    def extend(self, group: str, covered: datetime | None, until: datetime) -> datetime | None:
        """Write ``group``'s occurrences that start after ``covered`` and before ``until``
        (the window slid); the new cover, or None when the group has no copy left (deleted
        from the CRM, or by the user in Outlook: it stays as it is). ``covered`` None: as
        far as the markers say (or, markers from before the window slid, the last copy)."""
        copies = self.copies(group)
        loaded = [(_load(marker_of(i)), cover_of(i)) for i in copies]
        series = next((one[2] for one, _ in loaded if one is not None), None)
        if series is None:
            return None
        marks = [cover[1] for _, cover in loaded if cover is not None and cover[1] is not None]
        if covered is not None:
            marks.append(covered)
        if not marks:
            marks = [wire.parse_time(i["start"]) for i in copies]
        covered = max(marks)
        if until <= covered:
            return covered
        have = {wire.parse_time(i["start"]) for i in copies}
        singles = [
            s
            for s in expand(series, Window(covered, until))
            if s.start > covered and s.start not in have
        ]
        self._post(singles, _dump(series, group, until))
        log.info(
            "Microsoft Graph: %d more occurrences of %s written (the window slid to %s)",
            len(singles),
            series.crm_meeting_id,
            until.isoformat(),
        )
        return until

    def _post(self, singles: list[RemoteEvent], marker: str) -> None:
        parts = []
        for single in singles:
            body = wire.create_body(single, "", None)
            body.pop("transactionId")  # a rewrite makes new copies: no de-duplication
            body["singleValueExtendedProperties"].append(
                {"id": wire.OCCURRENCE_PROPERTY, "value": marker}
            )
            parts.append(
                {
                    "method": "POST",
                    "url": f"{self.base}/events",
                    "body": body,
                    "headers": {"Content-Type": "application/json"},
                }
            )
        for reply in self.http.batch(parts) if parts else []:
            raise_for(reply, "POST occurrence")

    def remove(self, copies: list[dict[str, Any]]) -> None:
        for item in copies:
            self.noted[_group_in(item)] = None
        parts = [
            {"method": "DELETE", "url": f"{self.base}/events/{quote(item['id'], safe='')}"}
            for item in copies
        ]
        for reply in self.http.batch(parts) if parts else []:
            if reply.status != 404:
                raise_for(reply, "DELETE occurrence")


def _group_in(item: dict[str, Any]) -> str:
    loaded = _load(marker_of(item))
    return loaded[0] if loaded is not None else ""


def default_window(until: datetime) -> Window:
    return Window(datetime.now(until.tzinfo) - timedelta(days=30), until)
