"""Raw HTTP for tests that check status codes and bodies exactly."""

from __future__ import annotations

import base64
import http.client
from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: str


def request(
    base_url: str,
    method: str,
    path: str,
    body: str | bytes = b"",
    *,
    user: str | None = "alice",
    password: str | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 30,
) -> Response:
    parts = urlsplit(base_url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    data = body.encode() if isinstance(body, str) else body
    all_headers = dict(headers or {})
    if user is not None:  # None: no credentials at all (anonymous)
        token = base64.b64encode(f"{user}:{password or user}".encode()).decode()
        all_headers.setdefault("Authorization", f"Basic {token}")
    if data and "Content-Type" not in all_headers:
        all_headers["Content-Type"] = "text/calendar; charset=utf-8"
    try:
        conn.request(method, path, body=data, headers=all_headers)
        answer = conn.getresponse()
        text = answer.read().decode("utf-8", errors="replace")
        return Response(answer.status, {k.lower(): v for k, v in answer.getheaders()}, text)
    finally:
        conn.close()


def vevent(
    uid: str,
    summary: str = "Meeting",
    *,
    start: str = "20261201T100000Z",
    end: str = "20261201T110000Z",
    extra: str = "",
) -> str:
    """A one-event VCALENDAR; ``extra`` lines go inside the VEVENT."""
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//tests//EN",
        "BEGIN:VEVENT",
        f"UID:{uid}",
        "DTSTAMP:20261101T000000Z",
        f"DTSTART:{start}",
        f"DTEND:{end}",
        f"SUMMARY:{summary}",
        *[line for line in extra.strip().splitlines() if line.strip()],
        "END:VEVENT",
        "END:VCALENDAR",
        "",
    ]
    return "\r\n".join(lines)
