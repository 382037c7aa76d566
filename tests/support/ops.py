"""`bridge serve` with alice's Google binding (the emulator), the API on and alice as the
admin: what the status page, metrics, logging and reload tests start."""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bridge.config import load_config
from bridge.secret_keys import load_keyring
from bridge.store import binding_secrets
from bridge.store import bindings as binding_store
from bridge.wiring import open_store
from tests.support import google_toml
from tests.support import server as support
from tests.support.http import request

CLIENT_SECRET = "client-secret-4f7a9c2e"


def google_binding(google: Any, *, backend: str = "", rules: str = "") -> str:
    return google_toml.google_binding(
        google, client_secret=CLIENT_SECRET, backend=backend, rules=rules
    )


@dataclass
class Ops:
    server: support.Server
    api_url: str
    config: Path
    refresh_token: str

    def get(self, path: str, *, user: str | None = "alice", **kw: Any):
        return request(self.api_url, "GET", path, user=user, **kw)

    def status(self) -> list[dict[str, Any]]:
        answer = self.get("/status.json")
        assert answer.status == 200, answer.body
        return json.loads(answer.body)["bindings"]

    def binding(self) -> dict[str, Any]:
        return next(b for b in self.status() if b["login"] == "alice")

    def wait(self, check: Any, what: str, seconds: float = 20) -> Any:
        deadline = time.monotonic() + seconds
        while True:
            found = check()
            if found:
                return found
            assert time.monotonic() < deadline, f"{what}:\n{self.server.output()[-4000:]}"
            time.sleep(0.2)


def basic(user: str = "alice", password: str | None = None) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password or user}".encode()).decode()


def write_ops_config(
    tmp_path: Path,
    db_url: str,
    google: Any,
    *,
    port: int,
    api_port: int,
    top: str = "",
    backend: str = "",
    rules: str = "",
    api: str = "",
) -> Path:
    config = support.write_config(
        tmp_path, db_url, port, alice_extra=google_binding(google, backend=backend, rules=rules)
    )
    text = config.read_text()
    head, users = text.split("[[users]]", 1)
    config.write_text(
        head
        + f"""
[api]
enabled = true
port = {api_port}
admins = ["alice"]
{api.replace("{api_port}", str(api_port))}

[sync]
poll_seconds = 3600
{top}

[[users]]"""
        + users
    )
    return config


def store_refresh_token(config: Path, google: Any) -> str:
    user = google.add_user("alice@example.com")
    settings = load_config(config)
    store = open_store(settings)
    keyring = load_keyring(settings)
    row = store.read(lambda c: binding_store.by_login(c, "alice"))[0]
    secret = {"refresh_token": user.refresh_token}
    store.write(lambda tx: binding_secrets.set_secret(tx, row.id, secret, keyring))
    store.dispose()
    return user.refresh_token


def start_ops(tmp_path: Path, db_url: str, google: Any, **config: Any) -> Ops:
    port, api_port = support.free_port(), support.free_port()
    path = write_ops_config(tmp_path, db_url, google, port=port, api_port=api_port, **config)
    token = store_refresh_token(path, google)
    server = support.start(path, port, cwd=tmp_path)
    ops = Ops(server, f"http://127.0.0.1:{api_port}", path, token)
    try:
        ops.wait(lambda: _answers(ops), "the API did not answer")
    except BaseException:
        server.stop()
        raise
    return ops


def _answers(ops: Ops) -> bool:
    try:
        return ops.get("/health", user=None).status == 200
    except OSError:
        return False
