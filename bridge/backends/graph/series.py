"""Writing a series' occurrences: after the master is written, each override is PATCHed
onto its instance, each EXDATE's occurrence is deleted (a series we write has no
attendees, so neither mails anyone), and the series is read back whole, so the event
returned carries the master's final etag."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bridge.backends.base import BackendError, Rejected, RemoteEvent
from bridge.backends.graph import recurrence as graph_rec
from bridge.backends.graph import wire
from bridge.backends.graph.http import GraphClient, raise_for
from bridge.backends.graph.reads import Reader, series_until
from bridge.backends.recurrence import normalise_recurrence


def rule_of(event: RemoteEvent, unsupported: str = "skip") -> dict[str, Any] | None:
    """Graph's recurrence JSON for ``event`` (None: not recurring); Rejected, naming the
    part, for a rule Graph cannot express (RDATE included): never a changed rule."""
    lines = normalise_recurrence(event.recurrence)
    rules = [line for line in lines if line.startswith("RRULE")]
    if any(line.startswith("RDATE") for line in lines):
        raise Rejected("Microsoft Graph cannot express RDATE (extra dates of a series); not synced")
    if not rules:
        return None
    if len(rules) > 1:
        raise Rejected("Microsoft Graph takes one rule per series; this one has several")
    tz_name = "UTC" if event.all_day else wire.iana(event.timezone)
    try:
        return graph_rec.to_graph(rules[0], event.start, tz_name, event.all_day)
    except graph_rec.UnsupportedRule as error:
        raise Rejected(
            f"{error} ({rules[0]}); not synced (unsupported_recurrence = {unsupported})"
        ) from None


def _exdates(event: RemoteEvent) -> set[datetime]:
    out = set()
    for line in normalise_recurrence(event.recurrence):
        if line.startswith("EXDATE"):
            value = line.partition(":")[2].rstrip("Z")
            fmt = "%Y%m%d" if len(value) == 8 else "%Y%m%dT%H%M%S"
            out.add(datetime.strptime(value, fmt).replace(tzinfo=UTC))
    return out


class SeriesWriter:
    def __init__(self, http: GraphClient, reader: Reader) -> None:
        self.http, self.reader = http, reader

    def finish(self, master: dict[str, Any], event: RemoteEvent, until: datetime) -> RemoteEvent:
        """Bring ``master``'s instances to ``event``'s overrides and exclusions; the series
        as it then is (master re-read: its final etag)."""
        reply = self.http.batch([self.reader.instances_part(master, until)])[0]
        instances = self.reader.all_instances(reply)
        current = wire.series_from_graph(master, instances, series_until(master, until))
        if current.content_hash() == event.content_hash():
            return current
        by_start: dict[datetime, dict[str, Any]] = {}
        for item in instances:
            if item.get("originalStart"):
                by_start[wire.parse_instant(item["originalStart"])] = item
        wanted = {o.recurrence_id: o for o in event.overrides}
        have = {o.recurrence_id: o for o in current.overrides}
        parts: list[dict[str, Any]] = []
        excluded = _exdates(event)
        for when, item in by_start.items():
            key = wire.recurrence_id(when, event.all_day, wire.zone(event.timezone))
            day = datetime(when.year, when.month, when.day, tzinfo=UTC)
            if (when in excluded) or (event.all_day and day in excluded):
                parts.append({"method": "DELETE", "url": self.reader.event_path(item["id"])})
                continue
            override = wanted.get(key)
            target = override or (wire.plain_occurrence(event, key) if key in have else None)
            if target is None or have.get(key) == target:
                continue
            parts.append(
                {
                    "method": "PATCH",
                    "url": self.reader.event_path(item["id"]),
                    "body": wire.override_body(event, target),
                    "headers": {"Content-Type": "application/json"},
                }
            )
        missing = set(wanted) - {
            wire.recurrence_id(w, event.all_day, wire.zone(event.timezone)) for w in by_start
        }
        if missing:
            raise Rejected(
                f"Microsoft Graph: {', '.join(sorted(missing))} is not an occurrence of the series"
            )
        for reply in self.http.batch(parts) if parts else []:
            if reply.status != 404:
                raise_for(reply, "write an occurrence")
        made = self.reader.events([master["id"]], until)[master["id"]]
        if made is None:
            raise BackendError(f"Microsoft Graph: series {master['id']} vanished while written")
        return made
