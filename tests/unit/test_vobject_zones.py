"""bridge.vobject_zones: one object's VTIMEZONE never defines another object's times."""

from __future__ import annotations

import threading
from datetime import timedelta

import vobject

import bridge  # noqa: F401 - importing the package installs the per-object zones


def _calendar(offset: str | None, when: str = "20260513T141500") -> str:
    zone = (
        "BEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\nBEGIN:STANDARD\r\n"
        f"TZOFFSETFROM:{offset}\r\nTZOFFSETTO:{offset}\r\nTZNAME:X\r\n"
        "DTSTART:19701025T030000\r\nRRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\n"
        "END:STANDARD\r\nEND:VTIMEZONE\r\n"
        if offset
        else ""
    )
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:t\r\n" + zone + "BEGIN:VEVENT\r\nUID:u\r\n"
        f"DTSTAMP:20261101T000000Z\r\nDTSTART;TZID=Europe/Berlin:{when}\r\n"
        "END:VEVENT\r\nEND:VCALENDAR\r\n"
    )


def _offset(text: str) -> timedelta:
    return vobject.readOne(text).vevent.dtstart.value.utcoffset()


def test_each_object_uses_its_own_vtimezone():
    assert _offset(_calendar("+0500")) == timedelta(hours=5)
    assert _offset(_calendar("+0100")) == timedelta(hours=1)
    assert _offset(_calendar("+0500")) == timedelta(hours=5)


def test_an_object_without_vtimezone_gets_the_iana_zone_not_the_last_definition():
    _offset(_calendar("+0500"))
    assert _offset(_calendar(None, "20260513T141500")) == timedelta(hours=2)  # CEST
    assert _offset(_calendar(None, "20261210T100000")) == timedelta(hours=1)  # CET


def test_objects_in_one_stream_do_not_share_zones():
    both = _calendar("+0500") + _calendar(None)
    first, second = vobject.readComponents(both)
    assert first.vevent.dtstart.value.utcoffset() == timedelta(hours=5)
    assert second.vevent.dtstart.value.utcoffset() == timedelta(hours=2)


def test_threads_do_not_share_zones():
    seen: list[timedelta] = []
    barrier = threading.Barrier(2)

    def parse(offset: str | None) -> None:
        barrier.wait()
        for _ in range(200):
            found = _offset(_calendar(offset))
            if offset is None:
                seen.append(found)

    threads = [threading.Thread(target=parse, args=(o,)) for o in ("+0500", None)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert set(seen) == {timedelta(hours=2)}
