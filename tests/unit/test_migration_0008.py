"""Migration 0008 re-renders every stored meeting's view for non-participants."""

from __future__ import annotations

from alembic import command
from radicale.item import get_etag
from sqlalchemy import select, update

from bridge.ical import busy_only, parse_calendar
from bridge.store import Store
from bridge.store import meetings as meeting_store
from bridge.store.migrate import alembic_config, current_revision, head_revision, upgrade
from bridge.store.schema import meetings
from tests.unit.test_store import meeting_write, store  # noqa: F401 - helper and fixture

MIXED = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\n"
    "BEGIN:VEVENT\r\nUID:mixed\r\nDTSTAMP:20261101T000000Z\r\nDTSTART:20261201T100000Z\r\n"
    "DTEND:20261201T110000Z\r\nRRULE:FREQ=DAILY;COUNT=3\r\nSUMMARY:Stand-up\r\nEND:VEVENT\r\n"
    "BEGIN:VEVENT\r\nUID:mixed\r\nDTSTAMP:20261101T000000Z\r\n"
    "RECURRENCE-ID:20261202T100000Z\r\nDTSTART:20261202T100000Z\r\n"
    "DTEND:20261202T110000Z\r\nSUMMARY:Doctor\r\nCLASS:PRIVATE\r\nEND:VEVENT\r\n"
    "END:VCALENDAR\r\n"
)


def test_0008_rerenders_stale_busy_views(store: Store) -> None:  # noqa: F811
    write = meeting_write("mixed", "mixed.ics", organiser="alice")
    store.write(lambda tx: meeting_store.save(tx, write))
    # What revision 0004 wrote for a public meeting: the whole object as busy time.
    store.write(
        lambda tx: tx.conn.execute(
            update(meetings).values(ical=MIXED, busy_ical="stale", busy_etag='"stale"')
        )
    )
    cfg = alembic_config(store.engine)
    with store.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0004")
    assert current_revision(store.engine) == "0004"
    upgrade(store.engine)
    assert current_revision(store.engine) == head_revision(store.engine)

    row = store.read(lambda c: c.execute(select(meetings)).one())
    assert row.busy_ical == busy_only(parse_calendar(MIXED))
    assert row.busy_etag == get_etag(row.busy_ical)
    assert "Stand-up" in row.busy_ical and "Doctor" not in row.busy_ical
