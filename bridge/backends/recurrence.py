"""The ``recurrence`` lines of a RemoteEvent: their canonical form, and the model's
Recurrence as those lines and back.

Every backend writes and reads series through these lines (bridge.backends.base explains
the format); sync (bridge.sync.rules) uses ``series_span`` for its windows.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bridge.model import Override, Recurrence


def text_of(value: str) -> str:
    return value.replace("\r\n", "\n").replace("\r", "\n").strip()


def utc_text(value: datetime) -> str:
    return value.astimezone(UTC).isoformat()


def normalise_recurrence(lines: tuple[str, ...] | list[str]) -> list[str]:
    """Recurrence lines in one canonical form, so equal series hash equally."""
    out: list[str] = []
    for raw in lines:
        head, _, value = raw.strip().partition(":")
        name, *params = head.upper().split(";")
        params_text = "".join(f";{p}" for p in sorted(params))
        if name == "RRULE":
            parts = sorted(p.upper() for p in value.split(";") if p)
            out.append(f"RRULE{params_text}:{';'.join(parts)}")
        else:
            out.extend(f"{name}{params_text}:{v.strip().upper()}" for v in value.split(",") if v)
    return sorted(set(out))


def _format_date(value: datetime, all_day: bool) -> str:
    utc = value.astimezone(UTC)
    return utc.strftime("%Y%m%d") if all_day else utc.strftime("%Y%m%dT%H%M%SZ")


def _parse_date(value: str) -> datetime:
    text = value.strip().upper().rstrip("Z")
    fmt = "%Y%m%d" if len(text) == 8 else "%Y%m%dT%H%M%S"
    return datetime.strptime(text, fmt).replace(tzinfo=UTC)


def recurrence_lines(rec: Recurrence | None, all_day: bool) -> tuple[str, ...]:
    """Meeting recurrence as the lines RemoteEvent carries."""
    if rec is None:
        return ()
    param = ";VALUE=DATE" if all_day else ""
    lines = [f"RRULE:{rec.rrule}"] if rec.rrule else []
    lines += [f"EXDATE{param}:{_format_date(d, all_day)}" for d in rec.exdates]
    lines += [f"RDATE{param}:{_format_date(d, all_day)}" for d in rec.rdates]
    return tuple(normalise_recurrence(lines))


def recurrence_from_lines(
    lines: tuple[str, ...], overrides: tuple[Override, ...] = ()
) -> Recurrence | None:
    """RemoteEvent recurrence lines (and override ids) as a Meeting's Recurrence."""
    rec = Recurrence(overrides=sorted(o.recurrence_id for o in overrides))
    for line in normalise_recurrence(lines):
        head, _, value = line.partition(":")
        name = head.split(";")[0]
        if name == "RRULE":
            rec.rrule = value
        elif name == "EXDATE":
            rec.exdates.append(_parse_date(value))
        elif name == "RDATE":
            rec.rdates.append(_parse_date(value))
    if not (rec.rrule or rec.exdates or rec.rdates or rec.overrides):
        return None
    return rec


_MAX_EXPANSION = 5000


def series_span(
    start: datetime, end: datetime, lines: tuple[str, ...] = ()
) -> tuple[datetime, datetime | None]:
    """The range a series covers: (first start, last end) — end None when open-ended.

    A rule with UNTIL ends at UNTIL plus one instance's length; a rule with COUNT is
    expanded (beyond 5,000 instances, or on an unreadable rule, the series counts as
    open-ended, which errs towards syncing). RDATEs extend the range both ways.
    """
    length = max(end - start, timedelta(0))
    first, last = start, end
    open_ended = False
    for line in normalise_recurrence(lines):
        head, _, value = line.partition(":")
        name = head.split(";")[0]
        if name == "RDATE":
            when = _parse_date(value)
            first, last = min(first, when), max(last, when + length)
        elif name == "RRULE":
            rule_end = _rule_end(start, value)
            if rule_end is None:
                open_ended = True
            else:
                last = max(last, rule_end + length)
    return first, (None if open_ended else last)


def _rule_end(start: datetime, rule: str) -> datetime | None:
    parts = dict(p.split("=", 1) for p in rule.split(";") if "=" in p)
    try:
        if "UNTIL" in parts:
            until = _parse_date(parts["UNTIL"])
            return until + timedelta(days=1) if len(parts["UNTIL"]) == 8 else until
        if "COUNT" in parts:
            from dateutil.rrule import rrulestr

            naive = start.astimezone(UTC).replace(tzinfo=None)
            last = None
            for index, when in enumerate(rrulestr(rule, dtstart=naive)):
                if index >= _MAX_EXPANSION:
                    return None
                last = when
            return None if last is None else last.replace(tzinfo=UTC)
    except (ValueError, TypeError):
        return None
    return None
