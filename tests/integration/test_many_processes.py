"""Many processes on one MariaDB: `bridge serve` x 2 behind a round-robin and `bridge
worker` x 4, with Google bindings (the emulator) for every user.

CalDAV PUTs go to both serves in turn, from several clients at once: every PUT lands,
shows through both serves, and is synced out to its user's Google calendar; a sync token
one serve gave works on the other; and no binding is ever run by two processes at once
(every round's start and end is logged under the binding's lease and counted here).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from xml.etree import ElementTree

import bcrypt
import pytest

from bench.reports import sync_collection
from tests.support.databases import database
from tests.support.google_toml import google_binding
from tests.support.http import request, vevent
from tests.support.round_log import never_twice_at_once, rounds
from tests.support.server import ROOT, free_port, wait_listening

pytestmark = pytest.mark.mysql

USERS = 20
PUTS = 3  # per user
WORKERS = 4


def login(n: int) -> str:
    return f"p{n:02d}"


def config_text(google, db_url: str, port: int) -> str:
    users = "".join(
        f"""
[[users]]
login = "{login(n)}"
email = "{login(n)}@example.com"
"""
        + google_binding(google, backend="requests_per_second = 1000\nbackoff_base = 0.01")
        for n in range(USERS)
    )
    return f"""
[server]
host = "127.0.0.1"
port = {port}
htpasswd = "users.htpasswd"

[store]
url = "{db_url}"

[secrets]
key_env = "BRIDGE_SECRET_KEY"

[sync]
poll_seconds = 5
heartbeat_seconds = 1
lease_seconds = 5
{users}"""


def write_config(directory: Path, google, db_url: str, port: int, htpasswd: str) -> Path:
    directory.mkdir()
    (directory / "users.htpasswd").write_text(htpasswd)
    path = directory / "bridge.toml"
    path.write_text(config_text(google, db_url, port))
    return path


def start(args: list[str], config: Path, env: dict[str, str]) -> tuple[subprocess.Popen, Path]:
    log = config.parent / "process.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "bridge.cli", *args, "--config", str(config)],
        cwd=config.parent,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        env=env,
    )
    return process, log


def sync(url: str, user: str, token: str = "") -> tuple[str, set[str]]:
    answer = request(
        url,
        "REPORT",
        f"/{user}/meetings/",
        sync_collection(token),
        user=user,
        headers={"Depth": "0", "Content-Type": "application/xml"},
    )
    assert answer.status == 207, answer
    tree = ElementTree.fromstring(answer.body)
    hrefs = {
        href.rsplit("/", 1)[-1]
        for href in (r.findtext("{DAV:}href") or "" for r in tree.findall("{DAV:}response"))
    }
    return tree.findtext("{DAV:}sync-token") or "", hrefs


def test_two_serves_and_four_workers_on_one_mariadb(tmp_path, google_emulator, monkeypatch):
    from bridge.config import load_config
    from bridge.secret_box import Keyring, generate_key
    from bridge.store import binding_secrets
    from bridge.store import bindings as binding_store
    from bridge.wiring import open_store

    key = generate_key()
    monkeypatch.setenv("BRIDGE_SECRET_KEY", key)
    env = {**os.environ, "BRIDGE_SECRET_KEY": key, "PYTHONPATH": str(ROOT)}
    htpasswd = "".join(
        f"{login(n)}:{bcrypt.hashpw(login(n).encode(), bcrypt.gensalt(4)).decode()}\n"
        for n in range(USERS)
    )
    with database("mysql", tmp_path, at_head=True) as db_url:
        ports = [free_port(), free_port()]
        while ports[1] == ports[0]:
            ports[1] = free_port()
        configs = {
            f"serve-{i}": write_config(
                tmp_path / f"serve-{i}", google_emulator, db_url, port, htpasswd
            )
            for i, port in enumerate(ports)
        }
        for i in range(WORKERS):
            configs[f"worker-{i}"] = write_config(
                tmp_path / f"worker-{i}", google_emulator, db_url, free_port(), htpasswd
            )
        # The users and bindings of the config, and each binding's Google refresh token.
        settings = load_config(configs["serve-0"])
        store = open_store(settings)
        keyring = Keyring([key])
        for n in range(USERS):
            who = login(n)
            user = google_emulator.add_user(f"{who}@example.com")
            row = store.read(lambda c, who=who: binding_store.by_login(c, who))[0]
            secret = {"refresh_token": user.refresh_token}
            store.write(
                lambda tx, r=row, s=secret: binding_secrets.set_secret(tx, r.id, s, keyring)
            )
        store.dispose()

        processes: dict[str, tuple[subprocess.Popen, Path]] = {}
        launched = time.monotonic()
        try:
            for name, config in configs.items():
                processes[name] = start(
                    ["serve" if name.startswith("serve") else "worker"], config, env
                )
            for i, port in enumerate(ports):
                process, log = processes[f"serve-{i}"]
                wait_listening(f"serve-{i}", process, port, 60, log.read_text, lambda: None)
            urls = [f"http://127.0.0.1:{port}" for port in ports]
            before = {login(n): sync(urls[n % 2], login(n))[0] for n in range(USERS)}

            def put(k: int) -> int:
                n, i = k % USERS, k // USERS
                user = login(n)
                return request(
                    urls[k % 2],  # round-robin over the two serves
                    "PUT",
                    f"/{user}/meetings/{user}-{i}.ics",
                    vevent(
                        f"{user}-{i}",
                        f"Put {user} {i}",
                        start=f"202612{i + 1:02d}T{n % 10 + 8:02d}0000Z",
                        end=f"202612{i + 1:02d}T{n % 10 + 9:02d}0000Z",
                    ),
                    user=user,
                ).status

            started = time.monotonic()
            with ThreadPoolExecutor(8) as pool:
                statuses = list(pool.map(put, range(USERS * PUTS)))
            took = time.monotonic() - started
            assert statuses == [201] * (USERS * PUTS)
            print(f"{USERS * PUTS} PUTs over 2 serves in {took:.2f} s (under test load)")

            expected = {
                login(n): {f"{login(n)}-{i}.ics" for i in range(PUTS)} for n in range(USERS)
            }
            for n in range(USERS):
                user = login(n)
                for url in urls:  # every PUT shows through both serves
                    assert sync(url, user)[1] == expected[user], (url, user)
                # the token one serve gave works on the other: exactly the PUTs since it
                assert sync(urls[(n + 1) % 2], user, before[user])[1] == expected[user]

            def synced_out() -> bool:
                return all(
                    {e.get("summary") for e in google_emulator.events(f"{login(n)}@example.com")}
                    >= {f"Put {login(n)} {i}" for i in range(PUTS)}
                    for n in range(USERS)
                )

            deadline = time.monotonic() + 60
            while not synced_out():
                assert time.monotonic() < deadline, "not every PUT reached Google"
                time.sleep(0.2)
            print(f"synced out {time.monotonic() - started:.2f} s after the first PUT")
            print(f"processes started {time.monotonic() - launched:.2f} s ago")
            for name, (process, log) in processes.items():
                assert process.poll() is None, f"{name} exited:\n{log.read_text()[-3000:]}"
        finally:
            stopped = time.time()
            for process, _ in processes.values():
                process.send_signal(signal.SIGTERM)
            for process, _ in processes.values():
                try:
                    process.wait(30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()

    for n in range(USERS):  # no duplicates on the Google side
        summaries = [e.get("summary") for e in google_emulator.events(f"{login(n)}@example.com")]
        assert len(summaries) == len(set(summaries)) == PUTS, summaries
    logs = {name: log for name, (_, log) in processes.items()}
    found = rounds(logs, stopped)
    never_twice_at_once(found)
    assert len(found) == USERS, sorted(found)
