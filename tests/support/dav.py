"""WebDAV / CalDAV / CardDAV request bodies for tests that speak plain HTTP."""

from __future__ import annotations

from xml.sax.saxutils import escape

C = "urn:ietf:params:xml:ns:caldav"
CR = "urn:ietf:params:xml:ns:carddav"
XML = {"Content-Type": "application/xml; charset=utf-8"}
_HEAD = '<?xml version="1.0" encoding="utf-8"?>'
_NS = f'xmlns:D="DAV:" xmlns:C="{C}" xmlns:CR="{CR}"'


def propfind(*props: str) -> str:
    """PROPFIND for qualified names such as "D:displayname" or "C:calendar-description"."""
    inner = "".join(f"<{p}/>" for p in props) or "<D:resourcetype/>"
    return f"{_HEAD}<D:propfind {_NS}><D:prop>{inner}</D:prop></D:propfind>"


def proppatch(set_xml: str = "", remove_xml: str = "") -> str:
    parts = ""
    if set_xml:
        parts += f"<D:set><D:prop>{set_xml}</D:prop></D:set>"
    if remove_xml:
        parts += f"<D:remove><D:prop>{remove_xml}</D:prop></D:remove>"
    return f"{_HEAD}<D:propertyupdate {_NS}>{parts}</D:propertyupdate>"


def calendar_query(start: str, end: str, *, expand: bool = False) -> str:
    data = (
        f'<C:calendar-data><C:expand start="{start}" end="{end}"/></C:calendar-data>'
        if expand
        else "<C:calendar-data/>"
    )
    return (
        f"{_HEAD}<C:calendar-query {_NS}><D:prop><D:getetag/>{data}</D:prop>"
        '<C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT">'
        f'<C:time-range start="{start}" end="{end}"/></C:comp-filter></C:comp-filter>'
        "</C:filter></C:calendar-query>"
    )


def multiget(hrefs: list[str], *, card: bool = False) -> str:
    refs = "".join(f"<D:href>{escape(h)}</D:href>" for h in hrefs)
    if card:
        return (
            f"{_HEAD}<CR:addressbook-multiget {_NS}><D:prop><D:getetag/><CR:address-data/>"
            f"</D:prop>{refs}</CR:addressbook-multiget>"
        )
    return (
        f"{_HEAD}<C:calendar-multiget {_NS}><D:prop><D:getetag/><C:calendar-data/>"
        f"</D:prop>{refs}</C:calendar-multiget>"
    )


def sync_collection(token: str = "") -> str:
    return (
        f"{_HEAD}<D:sync-collection {_NS}><D:sync-token>{escape(token)}</D:sync-token>"
        "<D:sync-level>1</D:sync-level><D:prop><D:getetag/><C:calendar-data/>"
        "<CR:address-data/></D:prop></D:sync-collection>"
    )


def free_busy(start: str, end: str) -> str:
    return (
        f'{_HEAD}<C:free-busy-query {_NS}><C:time-range start="{start}" end="{end}"/>'
        "</C:free-busy-query>"
    )


def addressbook_query(text: str = "") -> str:
    return (
        f"{_HEAD}<CR:addressbook-query {_NS}><D:prop><D:getetag/><CR:address-data/></D:prop>"
        '<CR:filter><CR:prop-filter name="FN">'
        f'<CR:text-match collation="i;unicode-casemap" match-type="contains">{escape(text)}'
        "</CR:text-match></CR:prop-filter></CR:filter></CR:addressbook-query>"
    )


def mkcalendar(name: str = "Made") -> str:
    return (
        f"{_HEAD}<C:mkcalendar {_NS}><D:set><D:prop><D:displayname>{escape(name)}"
        '</D:displayname><C:supported-calendar-component-set><C:comp name="VEVENT"/>'
        '<C:comp name="VTODO"/></C:supported-calendar-component-set></D:prop></D:set>'
        "</C:mkcalendar>"
    )


def mkcol_addressbook(name: str = "Book") -> str:
    return (
        f"{_HEAD}<D:mkcol {_NS}><D:set><D:prop><D:resourcetype><D:collection/>"
        f"<CR:addressbook/></D:resourcetype><D:displayname>{escape(name)}</D:displayname>"
        "</D:prop></D:set></D:mkcol>"
    )


def vcard(uid: str, name: str) -> str:
    return f"BEGIN:VCARD\r\nVERSION:3.0\r\nUID:{uid}\r\nFN:{name}\r\nN:;{name};;;\r\nEND:VCARD\r\n"
