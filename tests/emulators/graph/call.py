"""One API call (a plain request or a $batch part) and its reply."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from multidict import CIMultiDict

from .events import View
from .identity import Grant
from .store import Mailbox

PREFER_ITEM = re.compile(r'\s*([\w.-]+)\s*(?:=\s*("([^"]*)"|[^,;]*))?')


@dataclass
class Call:
    method: str
    path: str  # after /v1.0, e.g. /users/a@b.c/events
    query: dict[str, str]
    headers: CIMultiDict[str]
    body: Any = None
    grant: Grant | None = None
    box: Mailbox | None = None
    owner: str = ""  # "me" or "users/{id}" as the client wrote it
    applied: list[str] = field(default_factory=list)  # Preference-Applied values

    @classmethod
    def from_url(cls, method: str, url: str, headers: CIMultiDict[str], body: Any = None) -> Call:
        parts = urlsplit(url)
        path = unquote(parts.path)
        if path.startswith("/v1.0"):
            path = path[len("/v1.0") :]
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        return cls(method.upper(), path, query, headers, body)

    def prefer(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for header in self.headers.getall("Prefer", []):
            for item in header.split(","):
                match = PREFER_ITEM.match(item)
                if match and match.group(1):
                    value = match.group(3) if match.group(3) is not None else match.group(2)
                    out[match.group(1).lower()] = (value or "").strip()
        return out

    def view(self) -> View:
        prefer = self.prefer()
        immutable = prefer.get("idtype", "").lower() == "immutableid"
        zone = prefer.get("outlook.timezone") or None
        text = prefer.get("outlook.body-content-type", "").lower() == "text"
        if immutable:
            self.applied.append('IdType="ImmutableId"')
        if zone:
            self.applied.append(f'outlook.timezone="{zone}"')
        if text:
            self.applied.append('outlook.body-content-type="text"')
        return View(immutable=immutable, zone=zone, text=text)


@dataclass
class Reply:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
