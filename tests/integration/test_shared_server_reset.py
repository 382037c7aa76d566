"""A `bridge serve` shared by a test module, its store put back between tests
(tests/support/module_server.py, store_snapshot.py), answers as a server just started:
every row as start-up left it, the same sync token, and what one test wrote neither
visible to the next nor in its way (SQLite and MariaDB, over HTTP)."""

from __future__ import annotations

from xml.etree import ElementTree

from tests.support.http import request, vevent
from tests.support.module_server import ModuleServer, module_server  # noqa: F401

STATE = (
    '<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><D:sync-token/><D:getetag/>'
    "</D:prop></D:propfind>"
)


def _state(url: str, path: str, user: str) -> tuple[list[str], list[str]]:
    """The hrefs under ``path`` and the sync tokens Depth 1 shows."""
    answer = request(
        url, "PROPFIND", path, STATE, user=user, headers={"Depth": "1", "Content-Type": "text/xml"}
    )
    assert answer.status == 207, answer
    tree = ElementTree.fromstring(answer.body)
    return (
        sorted(h.text or "" for h in tree.iter("{DAV:}href")),
        sorted(t.text or "" for t in tree.iter("{DAV:}sync-token")),
    )


def _write_a_bit_of_everything(url: str) -> None:
    assert request(url, "PUT", "/alice/meetings/a.ics", vevent("reset-a")).status == 201
    assert request(url, "PUT", "/bob/meetings/b.ics", vevent("reset-b"), user="bob").status == 201
    assert request(url, "MKCALENDAR", "/alice/private/").status == 201
    assert request(url, "PUT", "/alice/private/p.ics", vevent("reset-p")).status == 201
    assert request(url, "DELETE", "/bob/meetings/b.ics", user="bob").status in (200, 204)


def test_a_reset_puts_every_row_back_and_the_server_answers_as_new(
    module_server: ModuleServer,  # noqa: F811 - the imported fixture
):
    url = module_server.url
    module_server.reset()
    started = {
        (path, user): _state(url, path, user)
        for path, user in (("/alice/", "alice"), ("/alice/meetings/", "alice"), ("/bob/", "bob"))
    }
    rows = module_server.snapshot.rows
    assert dict(rows)["users"] and dict(rows)["collections"]  # start-up seeded them

    _write_a_bit_of_everything(url)
    assert module_server.snapshot.current() != rows
    assert _state(url, "/alice/meetings/", "alice") != started[("/alice/meetings/", "alice")]

    module_server.reset()
    assert module_server.snapshot.current() == rows
    for (path, user), state in started.items():
        assert _state(url, path, user) == state, path
    # Nothing of the first round is in the way of writing it all again.
    _write_a_bit_of_everything(url)
    module_server.reset()
    assert module_server.snapshot.current() == rows
