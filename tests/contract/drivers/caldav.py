"""The contract-suite driver for kind = "caldav": a real, stock Radicale server, with a
recording and fault-injecting proxy (tests/support/dav_proxy.py) between the backend and it.

The user's own edits (seed / edit / remove) and ``events()`` go to Radicale directly, as the
user's phone would, so they never count as the backend's requests.
"""

from __future__ import annotations

import atexit
import dataclasses
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import caldav
import pytest
import vobject

from bridge.backends.base import Backend, RemoteEvent
from bridge.backends.caldav import dav, wire
from bridge.backends.kinds import BindingSpec, kind_of
from tests.support.dav_proxy import DavProxy
from tests.support.radicale_server import Radicale, start_radicale

_VUTC = vobject.icalendar.utc


def _when(value: datetime, all_day: bool) -> str:
    if all_day:
        return f";VALUE=DATE:{value.astimezone(UTC).strftime('%Y%m%d')}"
    return f":{value.astimezone(UTC).strftime('%Y%m%dT%H%M%SZ')}"


class CaldavDriver:
    kind = "caldav"
    page_setting = "batch_size"
    keeps_stray_instances = True

    def __init__(self, radicale: Radicale, directory: Path, login: str = "alice") -> None:
        self.radicale = radicale
        self.login = login
        self.calendar_url = radicale.calendar(login)
        self.path = dav.Paths(self.calendar_url).path
        self.proxy = DavProxy(radicale.url)
        self.password_file = directory / f"{login}-caldav-password"
        self.password_file.write_text(radicale.password(login) + "\n")
        self.password_file.chmod(0o600)  # as an admin keeps it: `bridge check` reports others
        self.direct = caldav.DAVClient(
            url=self.calendar_url, username=login, password=radicale.password(login)
        )

    def close(self) -> None:
        self.proxy.stop()
        self.direct.close()

    # --- the binding ----------------------------------------------------------------------------
    def binding_backend_settings(self) -> dict[str, Any]:
        return {
            "url": self.proxy.url + self.path,
            "username": self.login,
            "password_file": str(self.password_file),
            "timeout": 10.0,
        }

    def binding_secret(self) -> dict[str, Any]:
        return {}

    def make_backend(self) -> Backend:
        spec = BindingSpec(
            id=1,
            login=self.login,
            kind=self.kind,
            settings=self.binding_backend_settings(),
            secret=self.binding_secret(),
        )
        make = kind_of(self.kind).make
        assert make is not None
        return make(spec)

    # --- the user, in their own client ----------------------------------------------------------
    def _put(self, remote_id: str, text: str) -> None:
        answer = self.direct.request(
            self.calendar_url + remote_id, "PUT", text, {"Content-Type": "text/calendar"}
        )
        assert answer.status in (201, 204), answer.status

    def seed(
        self,
        *,
        subject: str,
        start: datetime,
        end: datetime,
        all_day: bool = False,
        recurrence: tuple[str, ...] = (),
        private: bool = False,
        description: str = "",
        location: str = "",
        attendees: tuple[str, ...] = (),
    ) -> str:
        uid = uuid.uuid4().hex
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        lines = [
            "BEGIN:VCALENDAR",
            "VERSION:2.0",
            "PRODID:-//phone//EN",
            "BEGIN:VEVENT",
            f"UID:{uid}",
            f"DTSTAMP:{stamp}",
            f"LAST-MODIFIED:{stamp}",
            f"DTSTART{_when(start, all_day)}",
            f"DTEND{_when(end, all_day)}",
            *(line for line in recurrence),
        ]
        for name, value in (("SUMMARY", subject), ("LOCATION", location)):
            if value:
                lines.append(f"{name}:{value}")
        if description:
            lines.append("DESCRIPTION:" + description.replace("\n", "\\n"))
        if private:
            lines.append("CLASS:PRIVATE")
        if attendees:
            lines.append(f"ORGANIZER:mailto:{self.login}@example.com")
            lines += [f"ATTENDEE;PARTSTAT=NEEDS-ACTION:mailto:{a}" for a in attendees]
        lines += ["END:VEVENT", "END:VCALENDAR", ""]
        remote_id = f"{uid}.ics"
        self._put(remote_id, "\r\n".join(lines))
        return remote_id

    def edit(self, remote_id: str, **fields: Any) -> None:
        answer = self.direct.request(self.calendar_url + remote_id, "GET")
        assert answer.status == 200, answer.status
        if {"recurrence", "overrides"} & set(fields):
            self._edit_series(remote_id, answer.raw, fields)
            return
        vcal = vobject.readOne(answer.raw)
        master = next(e for e in vcal.vevent_list if "recurrence-id" not in e.contents)
        all_day = bool(fields.get("all_day", not isinstance(master.dtstart.value, datetime)))

        def put_value(name: str, value: Any) -> None:
            for line in list(master.contents.get(name, [])):
                master.remove(line)
            if value not in (None, ""):
                master.add(name).value = value

        texts = {"subject": "summary", "location": "location", "description": "description"}
        for key, value in fields.items():
            if key in texts:
                put_value(texts[key], value)
            elif key in ("start", "end"):
                value = value.astimezone(UTC).date() if all_day else value.astimezone(_VUTC)
                put_value("dtstart" if key == "start" else "dtend", value)
            elif key == "private":
                put_value("class", "PRIVATE" if value else "PUBLIC")
            elif key == "busy":
                put_value("transp", "TRANSPARENT" if str(value) == "free" else "OPAQUE")
            elif key != "all_day":
                raise ValueError(f"the caldav driver cannot edit {key!r}")
        put_value("last-modified", datetime.now(_VUTC).replace(microsecond=0))
        self._put(remote_id, vcal.serialize())

    def _edit_series(self, remote_id: str, text: bytes | str, fields: dict[str, Any]) -> None:
        """A change to the series itself (its rule, its moved occurrences): the object is
        written again whole, as a client that edits a series does."""
        raw = text.decode() if isinstance(text, bytes) else text
        event = wire.event_from_ical(raw, remote_id=remote_id)
        assert event is not None
        uid = vobject.readOne(raw).vevent.uid.value
        self._put(remote_id, wire.event_to_ical(dataclasses.replace(event, **fields), uid=uid))

    def remove(self, remote_id: str) -> None:
        answer = self.direct.request(self.calendar_url + remote_id, "DELETE")
        assert answer.status in (200, 204), answer.status

    def move(self, remote_id: str) -> str:
        """A client moving the object out of the collection and back: the same iCalendar
        text under a new resource name."""
        answer = self.direct.request(self.calendar_url + remote_id, "GET")
        assert answer.status == 200, answer.status
        raw = answer.raw.decode() if isinstance(answer.raw, bytes) else answer.raw
        self.remove(remote_id)
        new_id = f"{uuid.uuid4().hex}.ics"
        self._put(new_id, raw)
        return new_id

    def events(self) -> list[RemoteEvent]:
        answer = self.direct.request(
            self.calendar_url,
            "REPORT",
            '<?xml version="1.0" encoding="utf-8"?>'
            f'<c:calendar-query xmlns:d="DAV:" xmlns:c="{dav.C}">'
            "<d:prop><d:getetag/><c:calendar-data/></d:prop>"
            '<c:filter><c:comp-filter name="VCALENDAR"><c:comp-filter name="VEVENT"/>'
            "</c:comp-filter></c:filter></c:calendar-query>",
            {**dav.XML_HEADERS, "Depth": "1"},
        )
        found = []
        paths = dav.Paths(self.calendar_url)
        for entry in dav.parse_multistatus(answer.raw).entries:
            remote_id = paths.remote_id(entry.href)
            if remote_id and entry.data:
                event = wire.event_from_ical(entry.data, remote_id=remote_id, etag=entry.etag)
                if event is not None:
                    found.append(event)
        return sorted(found, key=lambda e: e.remote_id)

    # --- faults and counters --------------------------------------------------------------------
    def lifecycle_notice(self, subscription_id: str, what: str) -> bool:
        """CalDAV has no push (the backend offers none): nothing to send."""
        return False

    def expire_cursor(self) -> None:
        """Radicale forgets its sync tokens (as max_sync_token_age does) and answers the next
        listing with a token 403 DAV:valid-sync-token, even when nothing changed since."""
        tokens = self.radicale.root / "collection-root" / self.path.strip("/")
        shutil.rmtree(tokens / ".Radicale.cache" / "sync-token", ignore_errors=True)
        self.proxy.expire_next_token()

    def fail_next(self, method: str, status: int, count: int = 1) -> None:
        self.proxy.fail_next(method, status, count)

    def reject(self, remote_id: str, status: int = 403, times: int = 10**9) -> None:
        self.proxy.reject(remote_id, status, times)

    def write_count(self) -> int:
        return len(self.proxy.writes())

    def request_count(self) -> int:
        return len(self.proxy.records)

    def mailed(self) -> list[str]:
        return self.proxy.mailed()

    # --- the Invite action's external copy, as Radicale stores it ------------------------------
    def _stored(self, remote_id: str) -> str:
        answer = self.direct.request(self.calendar_url + remote_id, "GET")
        assert answer.status == 200, answer.status
        return answer.raw.decode() if isinstance(answer.raw, bytes) else answer.raw

    def invite_wire(self, remote_id: str) -> dict[str, Any]:
        raw = self._stored(remote_id)
        master = vobject.readOne(raw).vevent

        def text(name: str) -> str:
            found = master.contents.get(name)
            return str(found[0].value) if found else ""

        def address(line: Any) -> str:
            return str(line.value).split(":", 1)[-1]

        organiser = master.contents.get("organizer", [])
        start = master.dtstart.value
        return {
            "subject": text("summary"),
            "description": text("description"),
            "location": text("location"),
            "organiser": address(organiser[0]) if organiser else "",
            "attendees": [address(a) for a in master.contents.get("attendee", [])],
            "tags": {
                line.name: str(line.value)
                for line in master.getChildren()
                if line.name.upper().startswith("X-")
            },
            "raw": raw,
            "start": start,
            "sequence": int(text("sequence") or 0),
        }

    def invite_series(self, remote_id: str) -> dict[str, Any]:
        """The copy's series from the stored object: the master's RRULE and EXDATEs
        expanded (RFC 5545, by vobject's rruleset), each RECURRENCE-ID component moving
        its occurrence."""
        raw = self._stored(remote_id)
        components = list(vobject.readOne(raw).vevent_list)
        (master,) = [c for c in components if "recurrence-id" not in c.contents]

        def utc(value: Any) -> datetime:
            if not isinstance(value, datetime):
                return datetime(value.year, value.month, value.day, tzinfo=UTC)
            return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)

        def text(component: Any, name: str) -> str:
            found = component.contents.get(name)
            return str(found[0].value) if found else ""

        rule = text(master, "rrule")
        occurrences = {}
        if rule:
            for when in master.getrruleset(addRDate=True):
                occurrences[utc(when)] = utc(when)
        moved = {}
        for child in components:
            if "recurrence-id" not in child.contents:
                continue
            original = utc(child.recurrence_id.value)
            occurrences[original] = utc(child.dtstart.value)
            organiser = child.contents.get("organizer", [])
            moved[original] = {
                "subject": text(child, "summary"),
                "location": text(child, "location"),
                "description": text(child, "description"),
                "organiser": str(organiser[0].value).split(":", 1)[-1] if organiser else "",
                "attendees": [
                    str(a.value).split(":", 1)[-1] for a in child.contents.get("attendee", [])
                ],
            }
        return {"rule": rule, "occurrences": occurrences, "moved": moved, "raw": raw}

    def invite_writes(self, remote_id: str) -> int:
        return sum(1 for r in self.proxy.writes() if unquote(r.path).endswith("/" + remote_id))

    def guest_edit(self, remote_id: str, **fields: Any) -> None:
        """The organiser edits the copy in their calendar app; a partstat is a guest's
        answer as their client would record it on the organiser's copy."""
        vcal = vobject.readOne(self._stored(remote_id))
        master = vcal.vevent

        def put_value(name: str, value: Any) -> None:
            for line in list(master.contents.get(name, [])):
                master.remove(line)
            master.add(name).value = value

        texts = {"subject": "summary", "location": "location", "description": "description"}
        for key, value in fields.items():
            if key in texts:
                put_value(texts[key], value)
            elif key in ("start", "end"):
                put_value("dtstart" if key == "start" else "dtend", value.astimezone(_VUTC))
            elif key == "partstat":
                email, answer = value
                for line in master.contents.get("attendee", []):
                    if str(line.value).lower().endswith(email.lower()):
                        line.params["PARTSTAT"] = [answer]
            else:
                raise ValueError(f"the caldav driver cannot guest-edit {key!r}")
        put_value("last-modified", datetime.now(_VUTC).replace(microsecond=0))
        self._put(remote_id, vcal.serialize())


@contextmanager
def open_driver(directory: Path, radicale: Radicale | None = None) -> Iterator[CaldavDriver]:
    """A driver on ``radicale``, by default on the one Radicale this test process shares
    (started on first use, stopped at exit); every driver gets a calendar of its own."""
    driver = CaldavDriver(radicale or _shared(), directory)
    try:
        yield driver
    finally:
        driver.close()


_SHARED: list[Radicale] = []


def _shared() -> Radicale:
    """One stock Radicale per test process: starting one costs about a second, and each
    test's calendar is new, so tests never see each other's events or sync tokens."""
    if not _SHARED or _SHARED[0].process.poll() is not None:
        directory = Path(tempfile.mkdtemp(prefix="contract-radicale-"))
        _SHARED[:] = [start_radicale(directory)]
        atexit.register(_SHARED[0].stop)
        atexit.register(shutil.rmtree, directory, True)
    return _SHARED[0]


@pytest.fixture
def caldav_driver(tmp_path: Path) -> Iterator[CaldavDriver]:
    with open_driver(tmp_path) as driver:
        yield driver
