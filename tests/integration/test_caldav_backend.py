"""The CalDAV backend against a real, stock Radicale server (tests/support/radicale_server.py):
the wire cases only CalDAV has. Generic backend behaviour is in the contract suite."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bridge.backends.base import (
    AuthError,
    Deleted,
    NotFound,
    PreconditionFailed,
    Rejected,
    RemoteEvent,
    ResyncRequired,
    Window,
)
from bridge.backends.caldav.backend import CaldavBackend, name_for
from bridge.backends.caldav.settings import CaldavSettings
from bridge.backends.kinds import BindingConfigError, BindingSpec, kind_of
from bridge.model import BusyStatus, Override
from tests.support.dav_proxy import DavProxy
from tests.support.radicale_server import Radicale, start_radicale

WINDOW = Window(datetime(2020, 1, 1, tzinfo=UTC), datetime(2035, 1, 1, tzinfo=UTC))
BERLIN = ZoneInfo("Europe/Berlin")


def _event(meeting_id: str = "m-1", **fields: object) -> RemoteEvent:
    event = RemoteEvent(
        remote_id="",
        start=datetime(2026, 6, 1, 9, tzinfo=BERLIN),
        end=datetime(2026, 6, 1, 10, tzinfo=BERLIN),
        timezone="Europe/Berlin",
        crm_meeting_id=meeting_id,
        subject="Quarterly review",
        description="agenda",
    )
    return replace(event, **fields)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def radicale(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Radicale]:
    server = start_radicale(tmp_path_factory.mktemp("radicale"))
    yield server
    server.stop()


@pytest.fixture
def calendar(radicale: Radicale) -> str:
    return radicale.calendar("alice")


@pytest.fixture
def backend(calendar: str) -> Iterator[CaldavBackend]:
    made = CaldavBackend(CaldavSettings(calendar, "alice", "alice-pw", timeout=10))
    yield made
    made.close()


def _all(backend: CaldavBackend, cursor: str | None) -> tuple[list, str]:
    pages = list(backend.list_changes(cursor, WINDOW))
    assert all(p.cursor is None for p in pages[:-1]) and pages[-1].cursor
    return [c for p in pages for c in p.changes], pages[-1].cursor


def _user_put(server: Radicale, calendar: str, name: str, text: str) -> None:
    import caldav

    with caldav.DAVClient(url=calendar, username="alice", password="alice-pw") as client:
        assert client.request(calendar + name, "PUT", text).status in (201, 204)


SERIES = _event(
    recurrence=("RRULE:FREQ=WEEKLY;COUNT=8", "EXDATE:20260608T070000Z"),
    overrides=(
        Override(
            "2026-06-15T07:00:00+00:00",
            datetime(2026, 6, 15, 14, tzinfo=BERLIN),
            datetime(2026, 6, 15, 15, tzinfo=BERLIN),
            subject="moved",
        ),
    ),
)
ROUND_TRIPS = {
    "timed": _event(),
    "all-day": _event(
        start=datetime(2026, 6, 1, tzinfo=UTC),
        end=datetime(2026, 6, 2, tzinfo=UTC),
        all_day=True,
        timezone="UTC",
    ),
    "series moved and cancelled": SERIES,
    "private": _event(private=True),
    "transparent": _event(busy=BusyStatus.FREE),
    "utc": _event(timezone="UTC"),
}


@pytest.mark.parametrize("name", sorted(ROUND_TRIPS))
def test_what_is_created_lists_back_with_the_same_hash(backend: CaldavBackend, name: str) -> None:
    _, cursor = _all(backend, None)
    event = ROUND_TRIPS[name]
    created = backend.create(event, idempotency_key=f"key-{name}")
    assert created.remote_id == name_for(f"key-{name}") and created.etag
    assert _all(backend, cursor)[0] == []  # its own write, unchanged since: not fetched
    reader = CaldavBackend(backend.settings)  # another process reads what the server holds
    try:
        changes, _ = _all(reader, cursor)
    finally:
        reader.close()
    assert [c.remote_id for c in changes] == [created.remote_id]
    listed = changes[0]
    assert isinstance(listed, RemoteEvent)
    assert listed.content_hash() == event.content_hash() == created.content_hash()
    assert listed.etag == created.etag and listed.crm_meeting_id == "m-1"


def test_update_and_delete_round_trip_with_if_match(backend: CaldavBackend) -> None:
    created = backend.create(_event(), idempotency_key="k")
    changed = _event(subject="Moved review", location="Room 2")
    updated = backend.update(created.remote_id, changed, etag=created.etag)
    assert updated.etag != created.etag
    got = backend.get(created.remote_id)
    assert got is not None and got.content_hash() == changed.content_hash()
    with pytest.raises(PreconditionFailed):
        backend.update(created.remote_id, _event(subject="stale"), etag=created.etag)
    with pytest.raises(PreconditionFailed):
        backend.delete(created.remote_id, etag=created.etag)
    backend.delete(created.remote_id, etag=updated.etag)
    assert backend.get(created.remote_id) is None
    with pytest.raises(NotFound):
        backend.delete(created.remote_id, etag=updated.etag)
    with pytest.raises(NotFound):
        backend.update(created.remote_id, changed, etag=updated.etag)
    with pytest.raises(NotFound):
        backend.set_tag(created.remote_id, "m-1", etag=updated.etag)


def test_create_twice_with_one_key_makes_one_object(backend: CaldavBackend) -> None:
    first = backend.create(_event(), idempotency_key="same")
    again = backend.create(_event(), idempotency_key="same")
    assert again.remote_id == first.remote_id and again.etag == first.etag
    newer = backend.create(_event(subject="changed meanwhile"), idempotency_key="same")
    assert newer.remote_id == first.remote_id and newer.subject == "changed meanwhile"
    with pytest.raises(Rejected):
        backend.create(_event("m-other"), idempotency_key="same")
    changes, _ = _all(backend, None)
    assert len(changes) == 1


def test_deletion_by_the_user_is_detected(
    backend: CaldavBackend,
    radicale: Radicale,
    calendar: str,
) -> None:
    created = backend.create(_event(), idempotency_key="k")
    _, cursor = _all(backend, None)
    import caldav

    with caldav.DAVClient(url=calendar, username="alice", password="alice-pw") as client:
        assert client.request(calendar + created.remote_id, "DELETE").status in (200, 204)
    changes, cursor = _all(backend, cursor)
    assert changes == [Deleted(created.remote_id)]
    assert _all(backend, cursor)[0] == []


def test_expired_sync_token_asks_for_a_resync(
    backend: CaldavBackend,
    radicale: Radicale,
    calendar: str,
) -> None:
    _, cursor = _all(backend, None)
    backend.create(_event(), idempotency_key="k")
    # Radicale drops old tokens (max_sync_token_age); here all of them at once.
    path = calendar.split("/", 3)[3].strip("/")
    shutil.rmtree(radicale.root / "collection-root" / path / ".Radicale.cache" / "sync-token")
    with pytest.raises(ResyncRequired):
        _all(backend, cursor)
    with pytest.raises(ResyncRequired):
        _all(backend, "sync:http://radicale.org/ns/sync/not-a-token")
    changes, _ = _all(backend, None)
    assert len(changes) == 1


def test_pages_are_bounded_by_the_batch_size(calendar: str) -> None:
    small = CaldavBackend(CaldavSettings(calendar, "alice", "alice-pw", batch_size=2))
    for number in range(5):
        small.create(_event(f"m-{number}"), idempotency_key=f"k{number}")
    pages = list(small.list_changes(None, WINDOW))
    assert [len(p.changes) for p in pages] == [2, 2, 1]
    assert [p.cursor is not None for p in pages] == [False, False, True]
    small.close()


def test_find_by_meeting_id_skips_the_invite_copy(backend: CaldavBackend) -> None:
    backend.create(_event("m-7", is_invite_copy=True), idempotency_key="invite")
    assert backend.find_by_meeting_id("m-7") is None
    sync = backend.create(_event("m-7"), idempotency_key="sync")
    backend.create(_event("m-77"), idempotency_key="other")
    found = backend.find_by_meeting_id("m-7")
    assert found is not None and found.remote_id == sync.remote_id
    assert backend.find_by_meeting_id("m-8") is None


def test_set_tag_keeps_the_users_content(
    backend: CaldavBackend,
    radicale: Radicale,
    calendar: str,
) -> None:
    text = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//phone//EN\r\nBEGIN:VEVENT\r\n"
        "UID:phone-1\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260601T090000Z\r\n"
        "DTEND:20260601T100000Z\r\nSUMMARY:Lunch\r\nCATEGORIES:food\r\n"
        "BEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER:-PT15M\r\nDESCRIPTION:x\r\nEND:VALARM\r\n"
        "END:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    _user_put(radicale, calendar, "phone-1.ics", text)
    before = backend.get("phone-1.ics")
    assert before is not None and before.crm_meeting_id is None
    tagged = backend.set_tag("phone-1.ics", "m-3", etag=before.etag)
    assert tagged.crm_meeting_id == "m-3" and tagged.content_hash() == before.content_hash()
    stored = radicale.stored(calendar, "phone-1.ics")
    assert "CATEGORIES:food" in stored and "TRIGGER:-PT15M" in stored and "UID:phone-1" in stored
    with pytest.raises(PreconditionFailed):
        backend.set_tag("phone-1.ics", "m-4", etag=before.etag)
    found = backend.find_by_meeting_id("m-3")
    assert found is not None and found.remote_id == "phone-1.ics"


def test_no_attendee_is_ever_written(
    backend: CaldavBackend,
    radicale: Radicale,
    calendar: str,
) -> None:
    created = backend.create(_event(), idempotency_key="k")
    updated = backend.update(created.remote_id, SERIES, etag=created.etag)
    stored = radicale.stored(calendar, updated.remote_id)
    assert "ATTENDEE" not in stored and "ORGANIZER" not in stored
    # the user's own attendees stay, but client-scheduled: no server mails them
    text = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//phone//EN\r\nBEGIN:VEVENT\r\n"
        "UID:team\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260601T090000Z\r\n"
        "DTEND:20260601T100000Z\r\nSUMMARY:Team\r\nORGANIZER:mailto:alice@example.com\r\n"
        "ATTENDEE;PARTSTAT=ACCEPTED:mailto:zed@example.org\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    _user_put(radicale, calendar, "team.ics", text)
    proxy = DavProxy(radicale.url)
    try:
        path = calendar.split("/", 3)[3]
        via = CaldavBackend(CaldavSettings(f"{proxy.url}/{path}", "alice", "alice-pw"))
        team = via.get("team.ics")
        assert team is not None and [a.email for a in team.attendees] == ["zed@example.org"]
        tagged = via.set_tag("team.ics", "m-5", etag=team.etag)
        via.update("team.ics", replace(tagged, subject="Team moved"), etag=tagged.etag)
        via.close()
        assert [r.method for r in proxy.writes()] == ["PUT", "PUT"]
        assert proxy.mailed() == []
    finally:
        proxy.stop()
    stored = radicale.stored(calendar, "team.ics").replace("\r\n ", "")
    assert "SCHEDULE-AGENT=CLIENT" in stored and "Team moved" in stored


def test_check_says_what_is_wrong(radicale: Radicale, calendar: str) -> None:
    def check(url: str, password: str = "alice-pw") -> str | None:
        made = CaldavBackend(CaldavSettings(url, "alice", password, timeout=5))
        try:
            return made.check()
        finally:
            made.close()

    assert check(calendar) is None
    assert (check(calendar, "wrong") or "").startswith("credentials refused")
    assert (check(radicale.url + "/alice/missing/") or "").startswith("calendar not found")
    assert (check(radicale.url + "/alice/") or "").startswith("not a calendar")
    from tests.support.server import free_port

    assert (check(f"http://127.0.0.1:{free_port()}/x/") or "").startswith("server unreachable")
    made = CaldavBackend(CaldavSettings(calendar, "alice", "wrong", timeout=5))
    with pytest.raises(AuthError):
        list(made.list_changes(None, WINDOW))
    made.close()


def test_the_kind_makes_a_backend_from_a_password_file(
    calendar: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make = kind_of("caldav").make
    assert make is not None
    secret_file = tmp_path / "pw"
    secret_file.write_text("alice-pw\n")
    settings = {"url": calendar, "username": "alice", "password_file": str(secret_file)}
    made = make(BindingSpec(1, "alice", "caldav", settings))
    assert made.check() is None and made.push() is None
    made.close()
    monkeypatch.setenv("ALICE_CALDAV", "alice-pw")
    env = {"url": calendar, "username": "alice", "password_env": "ALICE_CALDAV"}
    assert make(BindingSpec(1, "alice", "caldav", env)).check() is None
    for broken, key in (
        ({**settings, "password_file": str(tmp_path / "none")}, "password_file"),
        ({**env, "password_env": "NOT_SET_ANYWHERE"}, "password_env"),
        ({"url": calendar, "username": "alice"}, "password_file"),
        ({"username": "alice", "password_env": "ALICE_CALDAV"}, "url"),
    ):
        with pytest.raises(BindingConfigError, match=key):
            make(BindingSpec(1, "alice", "caldav", broken))


def test_without_sync_collection_it_lists_by_ctag_and_etags(
    radicale: Radicale, calendar: str
) -> None:
    proxy = DavProxy(radicale.url)
    proxy.faults.no_sync_collection = True
    path = calendar.split("/", 3)[3]
    via = CaldavBackend(CaldavSettings(f"{proxy.url}/{path}", "alice", "alice-pw"))
    try:
        first = via.create(_event("m-1"), idempotency_key="a")
        second = via.create(_event("m-2"), idempotency_key="b")
        changes, cursor = _all(via, None)
        assert cursor.startswith("etag:")
        assert sorted(c.remote_id for c in changes) == sorted([first.remote_id, second.remote_id])
        before = len(proxy.records)
        assert _all(via, cursor) == ([], cursor)
        assert len(proxy.records) - before == 1  # an idle round: the ctag alone
        via.update(first.remote_id, _event("m-1", subject="new"), etag=first.etag)
        via.delete(second.remote_id, etag=second.etag)
        reader = CaldavBackend(via.settings)
        try:
            changes, _ = _all(reader, cursor)
        finally:
            reader.close()
        assert sorted(changes, key=lambda c: c.remote_id) == sorted(
            [via.get(first.remote_id), Deleted(second.remote_id)], key=lambda c: c.remote_id
        )
        # The writer's own listing leaves out its update (unchanged since it wrote it).
        assert _all(via, cursor)[0] == [Deleted(second.remote_id)]
    finally:
        via.close()
        proxy.stop()


def test_a_crm_update_keeps_the_users_own_additions(radicale: Radicale, calendar: str) -> None:
    """The user's alarm, categories and X- property on the series, and the alarm on one
    moved occurrence, survive a CRM update; a stale etag writes nothing; one GET + one PUT."""
    proxy = DavProxy(radicale.url)
    path = calendar.split("/", 3)[3]
    via = CaldavBackend(CaldavSettings(f"{proxy.url}/{path}", "alice", "alice-pw"))
    try:
        created = via.create(SERIES, idempotency_key="series")
        mine = radicale.stored(calendar, created.remote_id)  # read_text: "\n" line ends
        head, _, rest = mine.partition("END:VEVENT\n")
        mine = (
            head + "CATEGORIES:Customer\nX-FOO:kept\n"
            "BEGIN:VALARM\nACTION:DISPLAY\nTRIGGER:-PT30M\nDESCRIPTION:go\nEND:VALARM\n"
            "END:VEVENT\n"
            + rest.replace(
                "SUMMARY:moved\n",
                "SUMMARY:moved\nBEGIN:VALARM\nACTION:DISPLAY\nTRIGGER:-PT5M\n"
                "DESCRIPTION:moved soon\nEND:VALARM\n",
            )
        )
        assert "TRIGGER:-PT5M" in mine
        _user_put(radicale, calendar, created.remote_id, mine.replace("\n", "\r\n"))
        users_text = radicale.stored(calendar, created.remote_id)
        users = via.get(created.remote_id)
        assert users is not None and users.content_hash() == SERIES.content_hash()
        changed = replace(SERIES, subject="Moved by the CRM", location="Room 9")
        before = len(proxy.records)
        with pytest.raises(PreconditionFailed):
            via.update(created.remote_id, changed, etag=created.etag)
        assert [r.method for r in proxy.records[before:]] == ["GET"]  # nothing written
        assert radicale.stored(calendar, created.remote_id) == users_text
        before = len(proxy.records)
        updated = via.update(created.remote_id, changed, etag=users.etag)
        assert [r.method for r in proxy.records[before:]] == ["GET", "PUT"]
        assert len([r for r in proxy.records[before:] if r in proxy.writes()]) == 1
        stored = radicale.stored(calendar, created.remote_id).replace("\n ", "")
        for kept in ("CATEGORIES:Customer", "X-FOO:kept", "TRIGGER:-PT30M", "TRIGGER:-PT5M"):
            assert stored.count(kept) == 1, kept
        assert "DESCRIPTION:moved soon" in stored and "SUMMARY:Moved by the CRM" in stored
        got = via.get(created.remote_id)
        assert got is not None and got.etag == updated.etag
        assert got.content_hash() == changed.content_hash() == updated.content_hash()
        # the occurrence gone from the event: its component (and its alarm) go with it
        plain = replace(changed, overrides=())
        via.update(created.remote_id, plain, etag=updated.etag)
        stored = radicale.stored(calendar, created.remote_id).replace("\n ", "")
        assert "TRIGGER:-PT5M" not in stored and "RECURRENCE-ID" not in stored
        assert "TRIGGER:-PT30M" in stored and "X-FOO:kept" in stored
        assert proxy.mailed() == []
    finally:
        via.close()
        proxy.stop()


def test_an_incremental_listing_fetches_only_what_others_changed(
    radicale: Radicale, calendar: str
) -> None:
    """The round after our own writes asks the server once: members still at the etag our
    write got are not fetched; one the user changed since is; a full listing has all."""
    proxy = DavProxy(radicale.url)
    path = calendar.split("/", 3)[3]
    via = CaldavBackend(CaldavSettings(f"{proxy.url}/{path}", "alice", "alice-pw"))
    try:
        _, cursor = _all(via, None)
        ours = via.create(_event("m-1"), idempotency_key="a")
        edited = via.create(_event("m-2"), idempotency_key="b")
        other = CaldavBackend(CaldavSettings(f"{radicale.url}/{path}", "alice", "alice-pw"))
        try:
            other.update(edited.remote_id, _event("m-2", subject="on the phone"), etag=edited.etag)
        finally:
            other.close()
        before = len(proxy.records)
        changes, cursor = _all(via, cursor)
        assert [(c.remote_id, c.subject) for c in changes] == [(edited.remote_id, "on the phone")]
        assert len(proxy.records) - before == 2  # sync-collection + one multiget
        full, _ = _all(via, None)
        assert sorted(c.remote_id for c in full) == sorted([ours.remote_id, edited.remote_id])
    finally:
        via.close()
        proxy.stop()
