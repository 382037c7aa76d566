"""`bridge serve` (tests.support.ops: alice's Google binding on the emulator) with REST API
keys, and a client that keeps every answer so tests can check them against the OpenAPI
document."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import bcrypt
import requests

from bridge.api.keys import hash_key
from tests.support.ops import Ops, start_ops

#: name -> (key, users); bob's key is stored as a bcrypt hash, the others as sha256.
KEYS = {
    "crm": ("crmb_admin-0123456789abcdef0123456789abcdef", ["*"]),
    "alice": ("crmb_alice-0123456789abcdef0123456789abcdef", ["alice"]),
    "bob": ("crmb_bob-0123456789abcdef0123456789abcdef0", ["bob"]),
    "carol": ("crmb_carol-0123456789abcdef0123456789abcdef", ["carol"]),
    "dave": ("crmb_dave-0123456789abcdef0123456789abcdef", ["dave"]),
}


def keys_toml() -> str:
    blocks = []
    for name, (key, users) in KEYS.items():
        if name == "bob":
            digest = bcrypt.hashpw(key.encode(), bcrypt.gensalt(rounds=4)).decode()
        else:
            digest = hash_key(key)
        listed = ", ".join(f'"{u}"' for u in users)
        blocks.append(f'[[api.keys]]\nname = "{name}"\nhash = "{digest}"\nusers = [{listed}]\n')
    return "\n".join(blocks)


@dataclass
class Api:
    ops: Ops
    #: Every (request, response) pair, for the OpenAPI check.
    seen: list[tuple[requests.PreparedRequest, requests.Response]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.ops.api_url

    def call(
        self,
        method: str,
        path: str,
        *,
        key: str | None = "crm",
        json: Any = None,
        data: bytes | None = None,
        headers: dict[str, str] | None = None,
        params: dict[str, Any] | None = None,
        token: str | None = None,
    ) -> requests.Response:
        sent = dict(headers or {})
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        elif key is not None:
            sent["Authorization"] = f"Bearer {KEYS[key][0]}"
        answer = requests.request(
            method,
            self.url + path,
            json=json,
            data=data,
            headers=sent,
            params=params,
            timeout=30,
        )
        self.seen.append((answer.request, answer))
        return answer

    def create(self, login: str, body: dict[str, Any], *, key: str = "crm") -> dict[str, Any]:
        answer = self.call("POST", f"/api/users/{login}/meetings", key=key, json=body)
        assert answer.status_code == 201, answer.text
        return answer.json()

    def stop(self) -> None:
        self.ops.server.stop()


def start_api(tmp_path, db_url, google, *, api: str = "") -> Api:
    return Api(start_ops(tmp_path, db_url, google, api=keys_toml() + api))


def meeting(subject: str = "Review", **fields: Any) -> dict[str, Any]:
    return {
        "subject": subject,
        "start": "2026-12-03T10:00:00+01:00",
        "end": "2026-12-03T11:00:00+01:00",
        "time_zone": "Europe/Copenhagen",
        **fields,
    }
