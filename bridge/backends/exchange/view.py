"""The items a window needs, found with FindItem CalendarView (a first pull or a re-baseline
reads only these, never the whole folder).

CalendarView answers single items and the occurrences of series overlapping the range,
never masters; a series is named once by one of its occurrences (grouped by UID), and its
master is read with GetItem RecurringMasterItemId. CalendarView has no offset: a view with
more entries than ``limit`` is read again from the start of the last entry answered (EWS
throttles FindItem at 1000 entries by default), entries already seen are skipped. A window
longer than ``SPAN`` (two years; the engine's windows are at most 60 + 365 days) is not
expanded: every item is read, as a series over decades would be thousands of entries.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from exchangelib import EWSDateTime, EWSTimeZone
from exchangelib.properties import ItemId, RecurringMasterItemId

from bridge.backends.base import BackendError, Window

#: The longest window read through CalendarView.
SPAN = timedelta(days=730)
#: The most entries one CalendarView answers (EWS's default FindItem throttle).
LIMIT = 1000
SINGLE = ("Single",)


def _ews(value: datetime) -> EWSDateTime:
    return EWSDateTime.from_datetime(value.astimezone(UTC)).astimezone(EWSTimeZone("UTC"))


def window_ids(
    call: Callable, folder: object, window: Window, limit: int = LIMIT
) -> list[ItemId | RecurringMasterItemId] | None:
    """One id per item the window needs: a single item's ItemId, a series' master as a
    RecurringMasterItemId of one of its occurrences in the window (one per UID). None for
    a window longer than ``SPAN``: the caller reads every item."""
    if window.end < window.start:
        raise ValueError(f"the window ends ({window.end}) before it starts ({window.start})")
    if window.end - window.start > SPAN:
        return None
    seen: set[str] = set()
    series: set[str] = set()
    out: list[ItemId | RecurringMasterItemId] = []
    start, high = window.start, window.end
    while True:
        query = folder.view(start=_ews(start), end=_ews(high), max_items=limit)  # type: ignore[attr-defined]
        page = call("FindItem", lambda q=query: list(q.only("uid", "type", "start")))
        fresh = 0
        for entry in page:
            if isinstance(entry, BaseException):
                raise entry
            if entry.id in seen:
                continue
            seen.add(entry.id)
            fresh += 1
            if (entry.type or "Single") in SINGLE:
                out.append(ItemId(entry.id))
            elif entry.uid not in series:
                series.add(entry.uid)
                out.append(RecurringMasterItemId(entry.id))
        if len(page) < limit:
            break
        if not fresh:
            raise BackendError(
                f"EWS FindItem: more than {limit} calendar entries overlap {start}; "
                "the window cannot be read in pages"
            )
        start = max(start, datetime.fromtimestamp(page[-1].start.timestamp(), UTC))
    return out
