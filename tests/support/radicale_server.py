"""A real, stock Radicale server for CalDAV backend tests: filesystem storage in a temp
directory, plain htpasswd auth, owner_only rights, a free port, ``python -m radicale`` as a
subprocess. ``calendar(name)`` makes a calendar collection with MKCALENDAR (caldav library).
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import caldav
import pytest

from tests.support.server import free_port, wait_listening

USERS = {"alice": "alice-pw", "bob": "bob-pw"}


@dataclass
class Radicale:
    url: str  # http://127.0.0.1:<port>
    root: Path
    process: subprocess.Popen
    log: Path

    def password(self, user: str) -> str:
        return USERS[user]

    def calendar(self, user: str = "alice", name: str | None = None) -> str:
        """A new calendar collection of ``user``; its URL (with a trailing slash)."""
        name = name or f"cal-{uuid.uuid4().hex[:8]}"
        with caldav.DAVClient(
            url=f"{self.url}/{user}/", username=user, password=USERS[user]
        ) as client:
            client.principal().make_calendar(name=name, cal_id=name)
        return f"{self.url}/{user}/{name}/"

    def stored(self, calendar_url: str, remote_id: str) -> str:
        """The raw file Radicale keeps for one object (what the server holds, byte for byte)."""
        path = calendar_url.split("/", 3)[3]
        return (self.root / "collection-root" / path / remote_id).read_text(encoding="utf-8")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_radicale(directory: Path, timeout: float = 30) -> Radicale:
    port = free_port()
    storage = directory / "storage"
    storage.mkdir(parents=True, exist_ok=True)
    users = directory / "users.htpasswd"
    users.write_text("".join(f"{u}:{p}\n" for u, p in USERS.items()))
    config = directory / "radicale.ini"
    config.write_text(
        f"""[server]
hosts = 127.0.0.1:{port}
delay_on_error = 0
[auth]
type = htpasswd
htpasswd_filename = {users}
htpasswd_encryption = plain
delay = 0
[rights]
type = owner_only
[storage]
filesystem_folder = {storage}
[web]
type = none
[logging]
level = warning
"""
    )
    log = directory / "radicale.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "radicale", "--config", str(config)],
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    server = Radicale(f"http://127.0.0.1:{port}", storage, process, log)
    wait_listening("radicale", process, port, timeout, log.read_text, server.stop)
    return server


@pytest.fixture(scope="module")
def radicale_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Radicale]:
    """One stock Radicale per test module (each test makes its own calendar)."""
    server = start_radicale(tmp_path_factory.mktemp("radicale"))
    try:
        yield server
    finally:
        server.stop()
