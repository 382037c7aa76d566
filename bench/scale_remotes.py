"""The remote calendars of the scale benchmark's bindings: the Google emulator, or a stock
Radicale (a CalDAV remote), one calendar per binding user.

Each side writes its users' binding into the configuration, stores their credentials as
the authorize commands store them, and tells which summaries a user's remote calendar
holds (the Google emulator's own state; Radicale's files, read from its storage folder).
Rounds are counted from both processes' ``/metrics`` (``bridge_sync_rounds_total``).
"""

from __future__ import annotations

import base64
import http.client
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from bridge.secret_box import Keyring
from bridge.store import Store, binding_secrets
from bridge.store import bindings as binding_store


def email(who: str) -> str:
    return f"{who}@example.com"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _store_secrets(store: Store, keyring: Keyring, secrets: dict[str, dict]) -> None:
    def write(tx) -> None:  # noqa: ANN001
        for who, secret in secrets.items():
            row = binding_store.by_login(tx.conn, who)[0]
            binding_secrets.set_secret(tx, row.id, secret, keyring)

    store.write(write)


class GoogleSide:
    kind = "google"

    def __init__(self, tmp: Path) -> None:
        from tests.emulators.google_calendar import GoogleEmulator

        self.google = GoogleEmulator().start()

    def binding_toml(self, who: str) -> str:
        g = self.google
        return (
            '[[users.bindings]]\nname = "remote"\nkind = "google"\n[users.bindings.backend]\n'
            'client_id = "client-id"\nclient_secret = "secret"\n'
            f'api_endpoint = "{g.api_endpoint}"\nbatch_uri = "{g.batch_uri}"\n'
            f'token_uri = "{g.token_uri}"\n'
        )

    def give_credentials(self, store: Store, keyring: Keyring, logins: list[str]) -> None:
        tokens = {who: self.google.add_user(email(who)).refresh_token for who in logins}
        _store_secrets(store, keyring, {w: {"refresh_token": t} for w, t in tokens.items()})

    def summaries(self, who: str) -> set[str]:
        return {e.get("summary", "") for e in self.google.events(email(who))}

    def stop(self) -> None:
        self.google.stop()


class CaldavSide:
    """A stock Radicale (htpasswd, owner-only) with calendar ``/<who>/cal/`` per user."""

    kind = "caldav"

    def __init__(self, tmp: Path, logins: list[str]) -> None:
        directory = tmp / "radicale"
        self.storage = directory / "storage"
        self.storage.mkdir(parents=True)
        self.port = _free_port()
        users = directory / "users.htpasswd"
        users.write_text("".join(f"{who}:{who}-pw\n" for who in logins))
        config = directory / "radicale.ini"
        config.write_text(
            f"[server]\nhosts = 127.0.0.1:{self.port}\ndelay_on_error = 0\n"
            f"[auth]\ntype = htpasswd\nhtpasswd_filename = {users}\n"
            "htpasswd_encryption = plain\ndelay = 0\n[rights]\ntype = owner_only\n"
            f"[storage]\nfilesystem_folder = {self.storage}\n[web]\ntype = none\n"
            "[logging]\nlevel = warning\n"
        )
        self.process = subprocess.Popen(
            [sys.executable, "-m", "radicale", "--config", str(config)],
            stdout=(directory / "radicale.log").open("wb"),
            stderr=subprocess.STDOUT,
        )
        self._wait()
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        for who in logins:
            auth = base64.b64encode(f"{who}:{who}-pw".encode()).decode()
            conn.request("MKCALENDAR", f"/{who}/cal/", headers={"Authorization": f"Basic {auth}"})
            answer = conn.getresponse()
            answer.read()
            if answer.status != 201:
                raise RuntimeError(f"MKCALENDAR /{who}/cal/: {answer.status}")
        conn.close()

    def _wait(self) -> None:
        for _ in range(300):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("radicale did not listen")

    def binding_toml(self, who: str) -> str:
        return (
            '[[users.bindings]]\nname = "remote"\nkind = "caldav"\n[users.bindings.backend]\n'
            f'url = "http://127.0.0.1:{self.port}/{who}/cal/"\nusername = "{who}"\n'
        )

    def give_credentials(self, store: Store, keyring: Keyring, logins: list[str]) -> None:
        _store_secrets(store, keyring, {who: {"password": f"{who}-pw"} for who in logins})

    def summaries(self, who: str) -> set[str]:
        folder = self.storage / "collection-root" / who / "cal"
        found = set()
        for path in folder.glob("*.ics"):
            try:
                text = path.read_text(encoding="utf-8").replace("\r\n ", "")
            except OSError:  # replaced or removed while read
                continue
            found.update(
                line[len("SUMMARY:") :].strip()
                for line in text.splitlines()
                if line.startswith("SUMMARY:")
            )
        return found

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(30)


def wait_metrics(urls: list[str], timeout: float = 60) -> None:
    """Until every process answers its /metrics (serve's API and the worker's listener)."""
    end = time.perf_counter() + timeout
    while True:
        try:
            rounds(urls)
            return
        except OSError:
            if time.perf_counter() > end:
                raise
            time.sleep(0.2)


def rounds(urls: list[str]) -> int:
    """Sync rounds run so far by the processes serving these /metrics (every outcome)."""
    total = 0
    for url in urls:
        with urllib.request.urlopen(url, timeout=30) as answer:
            for line in answer.read().decode().splitlines():
                if line.startswith("bridge_sync_rounds_total"):
                    total += int(float(line.rsplit(" ", 1)[1]))
    return total
