"""WebDAV/CalDAV request bodies and a small multistatus reader."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from urllib.parse import unquote

DAV = "DAV:"
CALDAV = "urn:ietf:params:xml:ns:caldav"
_XML = '<?xml version="1.0" encoding="utf-8"?>\n'


def mkcalendar() -> str:
    return (
        f'{_XML}<C:mkcalendar xmlns:D="DAV:" xmlns:C="{CALDAV}"><D:set><D:prop>'
        "<D:displayname>Meetings</D:displayname>"
        '<C:supported-calendar-component-set><C:comp name="VEVENT"/>'
        "</C:supported-calendar-component-set>"
        "</D:prop></D:set></C:mkcalendar>"
    )


def propfind(*props: str) -> str:
    """PROPFIND for DAV: properties given by local name (getetag, getcontenttype...)."""
    inner = "".join(f"<D:{p}/>" for p in props)
    return f'{_XML}<D:propfind xmlns:D="DAV:"><D:prop>{inner}</D:prop></D:propfind>'


def calendar_query(start: str, end: str) -> str:
    """VEVENTs overlapping [start, end) (UTC basic format), getetag + calendar-data."""
    return (
        f'{_XML}<C:calendar-query xmlns:D="DAV:" xmlns:C="{CALDAV}">'
        "<D:prop><D:getetag/><C:calendar-data/></D:prop>"
        '<C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT">'
        f'<C:time-range start="{start}" end="{end}"/>'
        "</C:comp-filter></C:comp-filter></C:filter></C:calendar-query>"
    )


def sync_collection(token: str = "") -> str:
    return (
        f'{_XML}<D:sync-collection xmlns:D="DAV:">'
        f"<D:sync-token>{token}</D:sync-token><D:sync-level>1</D:sync-level>"
        "<D:prop><D:getetag/></D:prop></D:sync-collection>"
    )


def multiget(hrefs: list[str]) -> str:
    refs = "".join(f"<D:href>{h}</D:href>" for h in hrefs)
    return (
        f'{_XML}<C:calendar-multiget xmlns:D="DAV:" xmlns:C="{CALDAV}">'
        f"<D:prop><D:getetag/><C:calendar-data/></D:prop>{refs}</C:calendar-multiget>"
    )


# --------------------------------------------------------------------------- reading


@dataclass
class Entry:
    href: str
    status: int | None = None  # response-level status (e.g. 404 in sync-collection)
    props: dict[str, str] = field(default_factory=dict)  # local name -> text, status 200 only
    failed: dict[str, int] = field(default_factory=dict)  # local name -> non-200 status


@dataclass
class Multistatus:
    entries: list[Entry]
    sync_token: str | None

    def by_href(self) -> dict[str, Entry]:
        return {e.href: e for e in self.entries}


def _status_code(text: str | None) -> int | None:
    match = re.match(r"HTTP/\d\.\d\s+(\d{3})", (text or "").strip())
    return int(match.group(1)) if match else None


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def parse_multistatus(body: bytes) -> Multistatus:
    root = ET.fromstring(body)
    if _local(root.tag) != "multistatus":
        raise ValueError(f"not a multistatus: <{root.tag}>")
    entries = []
    for resp in root.findall(f"{{{DAV}}}response"):
        href = unquote(resp.findtext(f"{{{DAV}}}href", "").strip())
        entry = Entry(href, _status_code(resp.findtext(f"{{{DAV}}}status")))
        for propstat in resp.findall(f"{{{DAV}}}propstat"):
            code = _status_code(propstat.findtext(f"{{{DAV}}}status"))
            prop_element = propstat.find(f"{{{DAV}}}prop")
            for prop in [] if prop_element is None else list(prop_element):
                name = _local(prop.tag)
                if code == 200:
                    entry.props[name] = prop.text or ""
                else:
                    entry.failed[name] = code or 0
        entries.append(entry)
    token = root.findtext(f"{{{DAV}}}sync-token")
    return Multistatus(entries, token.strip() if token else None)


_UID = re.compile(r"^UID:(.*?)\r?$", re.MULTILINE)


def uid_of(calendar_data: str) -> str | None:
    match = _UID.search(calendar_data.replace("\r\n ", "").replace("\n ", ""))
    return match.group(1).strip() if match else None
