"""The two servers under test, as in-process WSGI apps, and loading the events into them.

Both use Radicale's ``none`` authentication with a Basic ``bench:bench`` header, so the
request runs as user ``bench``; rights are owner-only on both sides (Radicale's
``owner_only`` and ``bridge.rights``, which behaves like it below the user's home).
"""

from __future__ import annotations

import time
from pathlib import Path

from bench import data, reports
from bench.wsgi import Client

LOGIN = "bench"
CALENDAR = f"/{LOGIN}/meetings/"


def stock_radicale(tmp: Path) -> Client:
    """Radicale 3.9 with its own multifilesystem storage in ``tmp/collections``."""
    import radicale
    from radicale import config

    configuration = config.load()
    configuration.update(
        {
            "server": {"max_content_length": str(1 << 30)},  # room for the whole-calendar PUT
            "auth": {"type": "none"},
            "rights": {"type": "owner_only"},
            "storage": {
                "type": "multifilesystem",
                "filesystem_folder": str(tmp / "collections"),
            },
            "web": {"type": "none"},
        },
        "bench",
    )
    return Client(radicale.Application(configuration), "radicale", LOGIN, LOGIN)


def bridge(tmp: Path) -> Client:
    """Radicale with the bridge storage plugin and rights on SQLite in ``tmp``; the
    benchmark calendar is the CRM meetings calendar the plugin makes for the user."""
    from bridge.config import parse_config
    from bridge.server import make_app

    settings = parse_config(
        {
            "server": {"auth": "none"},
            "store": {"url": f"sqlite:///{tmp}/bench.sqlite3"},
            "users": [{"login": LOGIN, "email": f"{LOGIN}@example.com"}],
        },
        file="bench",
        base_dir=tmp,
    )
    return Client(make_app(settings), "bridge", LOGIN, LOGIN)


def stock_as_bridge_stand_in(tmp: Path) -> Client:
    """Stock Radicale labelled "bridge" (``--bridge-side radicale``: harness self-test)."""
    client = stock_radicale(tmp)
    client.name = "bridge(stock stand-in)"
    return client


def ensure_calendar(client: Client, *, create: bool) -> None:
    """Make the principal exist and, if ``create``, MKCALENDAR the benchmark calendar."""
    client.request(
        "PROPFIND",
        f"/{LOGIN}/",
        reports.propfind("resourcetype"),
        headers={"Depth": "0"},
        expect=(207,),
    )
    if create:
        client.request("MKCALENDAR", CALENDAR, reports.mkcalendar(), expect=(201,))
    client.request(
        "PROPFIND",
        CALENDAR,
        reports.propfind("resourcetype"),
        headers={"Depth": "0"},
        expect=(207,),
    )


def load_by_put(client: Client, events: list[data.Event], progress: bool = False) -> float:
    """One PUT per event (If-None-Match: * - a create); returns seconds taken."""
    begin = time.perf_counter()
    last = begin
    for i, ev in enumerate(events, 1):
        client.request(
            "PUT",
            CALENDAR + ev.href,
            ev.ics,
            headers={"Content-Type": "text/calendar; charset=utf-8", "If-None-Match": "*"},
            expect=(201,),
        )
        now = time.perf_counter()
        if progress and now - last > 15:
            print(f"  {client.name}: {i}/{len(events)} PUTs, {now - begin:.0f} s", flush=True)
            last = now
    return time.perf_counter() - begin


def load_whole(client: Client, events: list[data.Event]) -> float:
    """One PUT of the whole VCALENDAR to the collection path (Radicale's bulk import)."""
    begin = time.perf_counter()
    client.request(
        "PUT",
        CALENDAR,
        data.whole_calendar(events),
        headers={"Content-Type": "text/calendar; charset=utf-8"},
        expect=(201, 204),
    )
    return time.perf_counter() - begin
