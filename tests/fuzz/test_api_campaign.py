"""The HTTP API's fuzz campaign against a live `bridge api`, on SQLite and MariaDB
(tests/fuzz/api_campaign.py): every hostile kind to every route, then drawn meeting
bodies (FUZZ_API_CASES, default 150); and bodies sent too slowly, which hold a
connection no longer than the request time limit while other requests are answered."""

from __future__ import annotations

import json
import os
import socket
import time

import pytest
import requests
from hypothesis import HealthCheck, Phase, given, settings

from bridge.api.rest_common import REQUEST_SECONDS
from bridge.config.api import ApiSettings
from tests.fuzz.api_campaign import Campaign
from tests.fuzz.api_cases import ADMIN, Case, fixed_cases, json_bodies
from tests.support.api_alone import start_api_alone
from tests.support.api_matrix import meeting_body

#: Every test here opens the store first (start_api_alone: its first step migrates it): its
#: MariaDB database may come migrated (tests/conftest.py).
pytestmark = pytest.mark.migrated_first

CASES = int(os.environ.get("FUZZ_API_CASES", "150"))
#: The cut-off test's time limit ([api] request_seconds): short, so the test waits 5 s for
#: the cut-off rather than the default 30 s; the limit is what the server was given.
LIMIT = 5


def test_api_fuzz_campaign(tmp_path, db_url, google_emulator):
    api = start_api_alone(tmp_path, db_url, google_emulator)
    try:
        campaign = Campaign(api, db_url)
        for case in fixed_cases():
            campaign.run(case)

        @settings(
            max_examples=CASES,
            deadline=None,
            derandomize=True,
            database=None,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(json_bodies())
        def drawn(case: Case) -> None:
            campaign.run(case)

        drawn()
        campaign.finish()
        print(campaign.report())
        assert not campaign.failures, campaign.report()
        # 60 requests the HTTP parser refused: a few short warnings, no traceback
        log = api.log.read_text()
        assert "Traceback" not in log, log[-5000:]
        assert 1 <= log.count("refused a malformed HTTP request") <= 5, log[-5000:]
    finally:
        campaign.fingerprint.dispose()
        assert api.stop() == 0, api.log.read_text()[-3000:]


def _stall(port: int, path: str) -> socket.socket:
    """A request whose body stops after 10 of its 1000 bytes."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=LIMIT + 15)
    head = (
        f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Authorization: {ADMIN}\r\nContent-Length: 1000\r\n\r\n"
    )
    sock.sendall(head.encode() + b'{"subject"')
    return sock


def test_the_request_time_limit_defaults_to_request_seconds():
    assert ApiSettings().request_seconds == REQUEST_SECONDS == 30


def test_a_body_sent_too_slowly_is_cut_off_and_blocks_nobody(tmp_path, db_url, google_emulator):
    api = start_api_alone(tmp_path, db_url, google_emulator, api_lines=f"request_seconds = {LIMIT}")
    try:
        # a body that arrives in two parts is read whole (it was cut at the first: 400)
        body = json.dumps(meeting_body("In two parts")).encode()
        with socket.create_connection(("127.0.0.1", api.port), timeout=10) as sock:
            head = (
                "POST /api/users/alice/meetings HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                f"Content-Type: application/json\r\nAuthorization: {ADMIN}\r\n"
                f"Content-Length: {len(body)}\r\n\r\n"
            )
            sock.sendall(head.encode() + body[:20])
            time.sleep(0.5)
            sock.sendall(body[20:])
            whole = sock.makefile("rb").read().decode()
        assert whole.startswith("HTTP/1.1 201 "), whole
        assert '"subject": "In two parts"' in whole
        started = time.monotonic()
        stalled = [_stall(api.port, p) for p in ("/api/users/alice/meetings", "/webhooks/graph")]
        for _ in range(5):  # others are served meanwhile
            answer = requests.get(api.url + "/health", timeout=2)
            assert answer.status_code == 200
            time.sleep(0.2)
        for sock in stalled:
            answer = sock.recv(65536).decode()
            took = time.monotonic() - started
            assert LIMIT - 1 <= took <= LIMIT + 10, (took, answer)
            status_line, _, rest = answer.partition("\r\n")
            assert " 503 " in status_line, answer
            body = json.loads(rest.split("\r\n\r\n", 1)[1])
            assert body["error"]["status"] == 503
            assert body["error"]["message"] == f"the request took longer than {LIMIT} s", body
            sock.close()
        made = requests.get(
            api.url + "/api/users/alice/meetings",
            params={"start": "2026-12-01T00:00:00Z", "end": "2026-12-31T00:00:00Z"},
            headers={"Authorization": ADMIN},
            timeout=10,
        )
        subjects = [m["subject"] for m in made.json()["meetings"]]
        assert subjects == ["In two parts"]  # the cut-off bodies made nothing
    finally:
        assert api.stop() == 0, api.log.read_text()[-3000:]
