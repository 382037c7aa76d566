"""The storage refuses costly recurrences itself too (plain Radicale has no request guard)."""

from __future__ import annotations

import pytest

from bridge.ical.errors import ICalError
from tests.support.http import vevent
from tests.unit.test_storage_plugin import storage, upload  # noqa: F401 - fixture

CASES = {
    "RRULE:FREQ=DAILY;COUNT=3\nRRULE:FREQ=WEEKLY;COUNT=90": "2 RRULE",
    "RRULE:FREQ=DAILY;BYHOUR=1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,0;"
    "BYMINUTE=0,30": "never ends",
    "RRULE:FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30;COUNT=2": "no occurrence",
}


@pytest.mark.parametrize("extra", sorted(CASES))
@pytest.mark.parametrize("path", ["/alice/meetings/", "/alice/cal/"])
def test_costly_recurrence_is_refused_by_the_storage(storage, path, extra):  # noqa: F811
    if path == "/alice/cal/":
        with storage.acquire_lock("w", "alice"):
            storage.create_collection("/alice/cal/", props={"tag": "VCALENDAR"})
    with pytest.raises(ICalError, match=CASES[extra]):
        upload(storage, path, vevent("costly", extra=extra), prepare=False)
    collection = next(iter(storage.discover(path)))
    assert list(collection.get_all()) == []
