"""WebDAV/CalDAV request bodies and multistatus answers (RFC 4918, 4791, 6578). Pure."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, unquote, urlsplit
from xml.sax.saxutils import escape

from lxml import etree

D = "DAV:"
C = "urn:ietf:params:xml:ns:caldav"
CS = "http://calendarserver.org/ns/"
XML_HEADERS = {"Content-Type": 'application/xml; charset="utf-8"'}
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)


@dataclass(frozen=True)
class Entry:
    """One <response> of a multistatus: its href, HTTP status and the props found."""

    href: str
    status: int
    etag: str = ""
    data: str | None = None
    ctag: str = ""
    sync_token: str = ""
    is_calendar: bool = False


@dataclass(frozen=True)
class Multistatus:
    entries: list[Entry]
    sync_token: str = ""
    truncated: bool = False  # a 507 on the request URI: more changes to fetch (RFC 6578 3.6)


def sync_collection(token: str) -> str:
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<d:sync-collection xmlns:d="{D}"><d:sync-token>{escape(token)}</d:sync-token>'
        "<d:sync-level>1</d:sync-level><d:prop><d:getetag/></d:prop></d:sync-collection>"
    )


def multiget(hrefs: list[str]) -> str:
    refs = "".join(f"<d:href>{escape(h)}</d:href>" for h in hrefs)
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<c:calendar-multiget xmlns:d="{D}" xmlns:c="{C}">'
        f"<d:prop><d:getetag/><c:calendar-data/></d:prop>{refs}</c:calendar-multiget>"
    )


def query_by_property(name: str, value: str) -> str:
    """calendar-query for VEVENTs whose ``name`` property contains ``value``."""
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<c:calendar-query xmlns:d="{D}" xmlns:c="{C}">'
        "<d:prop><d:getetag/><c:calendar-data/></d:prop>"
        '<c:filter><c:comp-filter name="VCALENDAR"><c:comp-filter name="VEVENT">'
        f'<c:prop-filter name="{escape(name)}">'
        f'<c:text-match collation="i;octet">{escape(value)}</c:text-match>'
        "</c:prop-filter></c:comp-filter></c:comp-filter></c:filter></c:calendar-query>"
    )


def propfind(*props: str) -> str:
    """PROPFIND for props given as ``prefix:name`` (prefixes d, c, cs)."""
    body = "".join(f"<{p}/>" for p in props)
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<d:propfind xmlns:d="{D}" xmlns:c="{C}" xmlns:cs="{CS}"><d:prop>{body}</d:prop>'
        "</d:propfind>"
    )


def _status(text: str | None) -> int:
    parts = (text or "").split()
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0


def _find_text(element: etree._Element, path: str) -> str:
    found = element.find(path, {"d": D, "c": C, "cs": CS})
    return (found.text or "") if found is not None else ""


def parse_multistatus(body: bytes | str) -> Multistatus:
    """The entries of a 207 body; ValueError when it is not a multistatus."""
    if isinstance(body, str):
        body = body.encode("utf-8")
    try:
        root = etree.fromstring(body, parser=_PARSER)
    except etree.XMLSyntaxError as exc:
        raise ValueError(f"unreadable multistatus: {exc}") from None
    if root.tag != f"{{{D}}}multistatus":
        raise ValueError(f"expected a multistatus, got {root.tag}")
    entries = []
    truncated = False
    ns = {"d": D, "c": C, "cs": CS}
    for response in root.findall("d:response", ns):
        href = _find_text(response, "d:href").strip()
        direct = response.find("d:status", ns)
        if direct is not None:
            status = _status(direct.text)
            entries.append(Entry(href, status))
            truncated = truncated or status == 507
            continue
        etag, data, ctag, token, is_cal, status = "", None, "", "", False, 0
        for propstat in response.findall("d:propstat", ns):
            code = _status(_find_text(propstat, "d:status"))
            if code != 200:
                status = status or code
                continue
            status = 200
            prop = propstat.find("d:prop", ns)
            if prop is None:
                continue
            etag = _find_text(prop, "d:getetag") or etag
            if prop.find("c:calendar-data", ns) is not None:
                data = _find_text(prop, "c:calendar-data")
            ctag = _find_text(prop, "cs:getctag") or ctag
            token = _find_text(prop, "d:sync-token") or token
            is_cal = is_cal or prop.find("d:resourcetype/c:calendar", ns) is not None
        entries.append(Entry(href, status, etag, data, ctag, token, is_cal))
    return Multistatus(entries, _find_text(root, "d:sync-token"), truncated)


class Paths:
    """Hrefs of one calendar collection ⇄ remote ids (the name relative to the collection)."""

    def __init__(self, calendar_url: str) -> None:
        self.url = calendar_url if calendar_url.endswith("/") else calendar_url + "/"
        self.path = unquote(urlsplit(self.url).path)

    def remote_id(self, href: str) -> str | None:
        """The id of a member href; None for the collection itself or a foreign href."""
        path = unquote(urlsplit(href).path)
        if not path.startswith(self.path) or path == self.path:
            return None
        return path[len(self.path) :]

    def href(self, remote_id: str) -> str:
        return quote(self.path + remote_id)

    def object_url(self, remote_id: str) -> str:
        parts = urlsplit(self.url)
        return f"{parts.scheme}://{parts.netloc}{self.href(remote_id)}"
