"""Which request bodies the fast path answers: the common shapes, nothing unusual.

Each parser returns None for anything it does not know exactly how Radicale answers
(allprop, propname, expand, filters beyond one time range, unregistered namespaces ...);
such requests go to Radicale unchanged.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass

from radicale.item import filter as radicale_filter

from bridge.fastpath.xml import DAV, qname

C = "urn:ietf:params:xml:ns:caldav"


def clark(uri: str, local: str) -> str:
    return f"{{{uri}}}{local}"


GETETAG = clark(DAV, "getetag")
GETLASTMODIFIED = clark(DAV, "getlastmodified")
GETCONTENTTYPE = clark(DAV, "getcontenttype")
GETCONTENTLENGTH = clark(DAV, "getcontentlength")
RESOURCETYPE = clark(DAV, "resourcetype")
CALENDAR_DATA = clark(C, "calendar-data")
ADDRESS_DATA = clark("urn:ietf:params:xml:ns:carddav", "address-data")

#: Properties Radicale answers for a calendar object from things other than the object
#: (the user, the rights, the configuration): left to Radicale.
PROPFIND_LEFT_TO_RADICALE = frozenset(
    clark(DAV, name)
    for name in (
        "principal-collection-set",
        "current-user-principal",
        "current-user-privilege-set",
        "supported-report-set",
        "owner",
    )
) | {clark(C, "max-resource-size")}


@dataclass(frozen=True)
class Propfind:
    props: tuple[str, ...]


@dataclass(frozen=True)
class SyncCollection:
    token: str
    props: tuple[str, ...]


@dataclass(frozen=True)
class Multiget:
    hrefs: tuple[str, ...]  # the D:href texts as sent
    props: tuple[str, ...]


@dataclass(frozen=True)
class Query:
    filter: ET.Element
    tag: str
    start: int
    end: int
    props: tuple[str, ...]


def _known(tags: list[str]) -> tuple[str, ...] | None:
    """The tags, if ElementTree writes each with a registered prefix."""
    return tuple(tags) if all(qname(t) is not None for t in tags) else None


def propfind(root: ET.Element | None) -> Propfind | None:
    """``<propfind><prop>...</prop></propfind>`` naming only object-answerable props."""
    if root is None or root.tag != clark(DAV, "propfind") or len(root) != 1:
        return None
    top = root[0]
    if top.tag != clark(DAV, "prop"):
        return None
    tags = [p.tag for p in top]
    if any(t in PROPFIND_LEFT_TO_RADICALE for t in tags):
        return None
    props = _known(tags)
    return Propfind(props) if props is not None else None


def _report_props(root: ET.Element, allowed_children: set[str]) -> tuple[str, ...] | None:
    if any(child.tag not in allowed_children for child in root):
        return None
    if root.find(".//" + clark(C, "expand")) is not None:
        return None
    prop = root.find(clark(DAV, "prop"))
    return _known([p.tag for p in prop] if prop is not None else [])


def report(root: ET.Element | None) -> SyncCollection | Multiget | Query | None:
    if root is None:
        return None
    prop, href = clark(DAV, "prop"), clark(DAV, "href")
    if root.tag == clark(DAV, "sync-collection"):
        token_tag = clark(DAV, "sync-token")
        props = _report_props(root, {prop, token_tag, clark(DAV, "sync-level")})
        if props is None:
            return None
        element = root.find(token_tag)
        token = element.text.strip() if element is not None and element.text else ""
        return SyncCollection(token, props)
    if root.tag == clark(C, "calendar-multiget"):
        props = _report_props(root, {prop, href})
        if props is None:
            return None
        hrefs = tuple(e.text or "" for e in root.findall(href))
        return Multiget(hrefs, props)
    if root.tag == clark(C, "calendar-query"):
        filters = root.findall(clark(C, "filter"))
        props = _report_props(root, {prop, clark(C, "filter")})
        if props is None or len(filters) != 1:
            return None
        try:
            tag, start, end, simple = radicale_filter.simplify_prefilters(filters, "VCALENDAR")
        except ValueError:
            return None  # a bad time range: Radicale's own refusal
        bounded = start > radicale_filter.TIMESTAMP_MIN or end < radicale_filter.TIMESTAMP_MAX
        if tag != "VEVENT" or not simple or not bounded:
            return None
        return Query(filters[0], tag, start, end, props)
    return None
