"""One API call, independent of whether it came as an HTTP request or as a batch part."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from multidict import CIMultiDict, MultiDict

from .errors import ApiError, invalid


@dataclass
class Call:
    method: str
    path: str  # raw (still percent-encoded) path
    query: MultiDict[str]
    headers: CIMultiDict[str]
    body: bytes = b""
    principal: str | None = None  # e-mail of the user the bearer token belongs to
    api: str = ""  # e.g. "events.list", set by the router

    def json(self) -> dict[str, Any]:
        if not self.body:
            raise ApiError(400, "required", "Required request body is missing.")
        try:
            data = json.loads(self.body)
        except ValueError:
            raise ApiError(400, "parseError", "Parse Error") from None
        if not isinstance(data, dict):
            raise invalid("The request body must be a JSON object.")
        return data

    def param(self, name: str) -> str | None:
        return self.query.get(name)

    def flag(self, name: str, default: bool = False) -> bool:
        value = self.query.get(name)
        if value is None:
            return default
        if value.lower() in ("true", "1"):
            return True
        if value.lower() in ("false", "0"):
            return False
        raise invalid(f"Invalid boolean value for {name}: {value}", name)

    def integer(self, name: str, default: int) -> int:
        value = self.query.get(name)
        if value is None:
            return default
        try:
            return int(value)
        except ValueError:
            raise invalid(f"Invalid value for {name}: {value}", name) from None


@dataclass
class Reply:
    status: int
    body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def payload(self) -> bytes:
        return b"" if self.body is None else json.dumps(self.body).encode()


def error_reply(error: ApiError) -> Reply:
    return Reply(error.status, error.body(), dict(error.headers))
