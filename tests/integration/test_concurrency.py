"""Two server processes writing to one database at once lose nothing."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from xml.etree import ElementTree

from bench.reports import sync_collection
from tests.support import server as support
from tests.support.http import request, vevent


def sync(url: str, token: str = "") -> tuple[str, int]:
    answer = request(
        url,
        "REPORT",
        "/alice/meetings/",
        sync_collection(token),
        headers={"Depth": "0", "Content-Type": "application/xml"},
    )
    assert answer.status == 207, answer
    tree = ElementTree.fromstring(answer.body)
    new_token = tree.findtext("{DAV:}sync-token")
    return new_token, len(tree.findall("{DAV:}response"))


def test_two_processes_write_concurrently(bridge_server, db_url, tmp_path):
    other_dir = tmp_path / "second"
    other_dir.mkdir()
    port = support.free_port()
    second = support.start(support.write_config(other_dir, db_url, port), port, cwd=other_dir)
    try:
        token, count = sync(bridge_server.url)
        assert count == 0
        urls = [bridge_server.url, second.url]

        def writer(n: int) -> list[int]:
            url = urls[n % 2]
            return [
                request(
                    url,
                    "PUT",
                    f"/alice/meetings/c-{n}-{i}.ics",
                    vevent(f"c-{n}-{i}", f"Concurrent {n}/{i}"),
                ).status
                for i in range(8)
            ]

        with ThreadPoolExecutor(8) as pool:
            statuses = [s for batch in pool.map(writer, range(8)) for s in batch]
        assert statuses == [201] * 64
        _, listed = sync(second.url)
        assert listed == 64
        _, delta = sync(bridge_server.url, token)
        assert delta == 64
    finally:
        second.stop()
