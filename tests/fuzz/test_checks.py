"""The campaign's checks can fail: damage done behind the server's back, a redaction that
stops working and a refused request that changes the store are all reported, while an
owner's legitimate write is not (and its seed is restored)."""

from __future__ import annotations

from sqlalchemy import update

from bridge.store.schema import collections, meetings
from tests.fuzz.campaign import running
from tests.fuzz.cases import Case
from tests.fuzz.ical_cases import Body
from tests.fuzz.seed import PRIVATE_MARKERS, SERIES
from tests.support.http import request

PROPFIND = '<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:allprop/></D:propfind>'
XML = {"Content-Type": "application/xml", "Depth": "1"}


def checks(campaign) -> list[str]:
    return sorted({failure.check for failure in campaign.failures})


def unknown(campaign) -> list:
    """Failures outside the classes found and fixed before (outcome.KNOWN)."""
    return [failure for failure in campaign.failures if not failure.known]


def test_campaign_checks_report_damage_leaks_and_refusals(db_url, tmp_path):
    with running(db_url, tmp_path) as campaign:
        read = Case("PROPFIND", "alice", "PROPFIND", "/alice/meetings-bob/", Body(PROPFIND), XML)
        campaign.run(read)
        assert unknown(campaign) == [], campaign.report()

        # The owner rewrites a seeded object: legitimate, and the seed comes back.
        changed = SERIES.replace("Weekly Zürich sync", "Renamed")
        put = Case("PUT", "alice", "PUT", "/alice/work/series.ics", Body(changed))
        campaign.run(put)
        assert unknown(campaign) == [], campaign.report()
        again = request(campaign.url, "GET", "/alice/work/series.ics", user="alice")
        assert "Weekly Zürich sync" in again.body

        # A stored meeting changes while a read is answered (as a bug in the server would
        # change it): the store changed under a read, and the seed no longer reads back.
        def damage(tx) -> None:
            tx.conn.execute(
                update(meetings)
                .where(meetings.c.uid == "dave-seed")
                .values(ical=meetings.c.ical + " ", etag='"damaged"')
            )

        during_next_case(campaign, damage)
        campaign.run(read)
        assert {"seed damaged", "store changed"} <= set(checks(campaign)), campaign.report()

        # Redaction broken (the rendering for non-participants holds the full text):
        # alice's view shows bob's markers.
        campaign.failures.clear()
        campaign.store.write(
            lambda tx: tx.conn.execute(
                update(meetings)
                .where(meetings.c.uid == "private-seed")
                .values(busy_ical=meetings.c.ical, busy_etag=meetings.c.etag)
            )
        )
        view = "/alice/meetings-bob/private-seed.ics"
        campaign.run(Case("GET", "alice", "GET", view, Body("")))
        assert "private summary shown to alice" in campaign.report()
        assert PRIVATE_MARKERS["summary"] not in campaign.report()  # it names, not shows

        # A refused request during which the store changes.
        campaign.failures.clear()
        during_next_case(
            campaign,
            lambda tx: tx.conn.execute(
                update(collections)
                .where(collections.c.path == "alice/work")
                .values(props='{"tag": "VCALENDAR", "D:displayname": "touched"}')
            ),
        )
        campaign.run(Case("PUT", "alice", "PUT", "/bob/meetings/x.ics", Body(SERIES)))
        assert "store changed" in checks(campaign), campaign.report()
        assert "a refused request (403) changed the store" in campaign.report()


def during_next_case(campaign, work) -> None:
    """Run ``work`` in a store transaction right after the next case is answered."""
    send = campaign._send

    def send_then_work(case):
        answer = send(case)
        campaign.store.write(work)
        campaign._send = send
        return answer

    campaign._send = send_then_work
