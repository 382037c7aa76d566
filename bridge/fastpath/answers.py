"""The multistatus answers of the fast path, written from stored columns.

Each function mirrors what Radicale 3.9 writes for the same request on the same items
(radicale/app/propfind.py xml_propfind_response for an object, radicale/app/report.py
xml_report / xml_item_response / retrieve_items): the same hrefs, property order,
200/404 split, etags and stored text. None means "let Radicale answer".
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import unquote, urlparse

from radicale import pathutils, xmlutils
from radicale.app.report import test_filter
from sqlalchemy import Connection, Row

from bridge.fastpath import shapes
from bridge.fastpath.xml import element, escape, propstat, qname, split_clark
from bridge.storage_plugin import convert
from bridge.storage_plugin.collection import StoreCollection
from bridge.storage_plugin.paths import http_date
from bridge.store import items as item_store

#: One object as the collection shows it: (row, text, etag).
Shown = tuple[Row, Any, Any]


def content_type(component: str, encoding: str) -> str:
    name, component_name = convert.names(component)
    value = f"{xmlutils.OBJECT_MIMETYPES[name]};charset={encoding}"
    return f"{value};component={component_name}" if component_name else value


def _href(base_prefix: str, collection: StoreCollection, name: str) -> str:
    uri = pathutils.unstrip_path(posixpath.join(collection.path, name))
    return f"<href>{escape(xmlutils.make_href(base_prefix, uri))}</href>"


def uris_of(props: Iterable[str]) -> set[str]:
    return {split_clark(tag)[0] for tag in props}


# -- PROPFIND Depth 1: one object ----------------------------------------------------


def propfind_object(shown: Shown, props: Sequence[str], href: str, encoding: str) -> str:
    """Radicale's xml_propfind_response for an object (not a collection, no share)."""
    row, text, etag = shown
    groups: dict[int, list[str]] = {}
    for tag in props:
        name = qname(tag)
        assert name is not None
        value: str | None = None
        code = 200
        if tag == shapes.GETETAG:
            value = etag
        elif tag == shapes.GETLASTMODIFIED:
            value = http_date(row.last_modified)
        elif tag == shapes.GETCONTENTTYPE:
            value = content_type(row.component, encoding)
        elif tag == shapes.GETCONTENTLENGTH:
            value = str(len(text.encode(encoding)))
        elif tag != shapes.RESOURCETYPE:
            code = 404
        groups.setdefault(code, []).append(element(name, value))
    return (
        f"<response>{href}"
        + "".join(propstat(children, code) for code, children in groups.items())
        + "</response>"
    )


def propfind_objects(
    collection: StoreCollection,
    conn: Connection,
    props: Sequence[str],
    base_prefix: str,
    encoding: str,
) -> list[str]:
    shown = collection._shown(conn, item_store.all_in(conn, collection.source_id))
    return [
        propfind_object(entry, props, _href(base_prefix, collection, entry[0].href), encoding)
        for entry in shown
    ]


# -- REPORT: one object -------------------------------------------------------------


class TooManyEvents(Exception):
    """Radicale's [reporting] max_expand_occurrence was passed: its own 400 answers."""


class _Counter:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.vevents = 0

    def add(self, text: str) -> None:
        self.vevents += sum(1 for line in text.splitlines() if line.upper() == "BEGIN:VEVENT")
        if self.limit and self.vevents > self.limit:
            raise TooManyEvents


def report_object(
    shown: Shown, props: Sequence[str], href: str, encoding: str, counter: _Counter
) -> str | None:
    """Radicale's xml_report loop body and xml_item_response for one object."""
    row, text, etag = shown
    found: list[str] = []
    missing: list[str] = []
    for tag in props:
        name = qname(tag)
        assert name is not None
        if tag == shapes.GETCONTENTTYPE:
            found.append(element(name, content_type(row.component, encoding)))
        elif tag == shapes.GETETAG:
            found.append(element(name, etag))
        elif tag in (shapes.CALENDAR_DATA, shapes.ADDRESS_DATA):
            found.append(element(name, text))
            counter.add(text or "")
        else:
            missing.append(element(name, None))
    if not found and not missing:
        return None
    parts = [f"<response>{href}"]
    if found:
        parts.append(propstat(found, 200))
    if missing:
        parts.append(propstat(missing, 404))
    parts.append("</response>")
    return "".join(parts)


def not_found(base_prefix: str, uri: str) -> str:
    return (
        f"<response><href>{escape(xmlutils.make_href(base_prefix, uri))}</href>"
        "<status>HTTP/1.1 404 Not Found</status></response>"
    )


def report_objects(
    collection: StoreCollection,
    shown: Iterable[Shown],
    props: Sequence[str],
    base_prefix: str,
    encoding: str,
    max_occurrence: int,
) -> list[str]:
    counter = _Counter(max_occurrence)
    out = []
    for entry in shown:
        href = _href(base_prefix, collection, entry[0].href)
        written = report_object(entry, props, href, encoding, counter)
        if written is not None:
            out.append(written)
    return out


# -- which objects each REPORT lists -------------------------------------------------


def by_names(
    collection: StoreCollection, conn: Connection, names: Sequence[str], base_prefix: str
) -> tuple[list[str], list[Shown]]:
    """retrieve_items for names of this collection: 404 answers for the missing, in
    order, and the objects found, in order."""
    rows = item_store.get_many(conn, collection.source_id, names)
    missing = [
        not_found(base_prefix, pathutils.unstrip_path(posixpath.join(collection.path, n)))
        for n in names
        if n not in rows
    ]
    present = [rows[n] for n in dict.fromkeys(names) if n in rows]
    shown = {entry[0].href: entry for entry in collection._shown(conn, present)}
    return missing, [shown[n] for n in names if n in shown]


def multiget_names(
    collection: StoreCollection, hrefs: Sequence[str], base_prefix: str
) -> list[str] | None:
    """The object names a calendar-multiget names, in Radicale's order (it collects the
    references in a set); None if any is not plainly an object of this collection."""
    references: set[str] = set()
    for text in hrefs:
        path = pathutils.sanitize_path(unquote(urlparse(text).path))
        if not (path + "/").startswith(base_prefix + "/"):
            return None
        references.add(path[len(base_prefix) :])
    names = []
    for reference in references:
        try:
            name = pathutils.name_from_path(reference, collection)
        except ValueError:
            return None
        if not name:
            return None  # the collection itself: Radicale lists everything
        names.append(name)
    return names


def in_range(
    collection: StoreCollection, conn: Connection, query: shapes.Query
) -> list[Shown] | None:
    """What get_filtered then Radicale's own filter keep: the time index's certain
    matches as they are, its possible matches through Radicale's test_filter."""
    found = [
        (row, exact)
        for row, exact in item_store.in_range(conn, collection.source_id, query.start, query.end)
        if row.component == query.tag
    ]
    loose = [row for row, exact in found if not exact]
    keep: set[int] = set()
    if loose:
        for row, item in zip(loose, collection._items(conn, loose), strict=True):
            try:
                if test_filter(collection.tag, item, query.filter):
                    keep.add(row.id)
            except Exception:  # noqa: BLE001 - Radicale's own error answer
                return None
    rows = [row for row, exact in found if exact or row.id in keep]
    return collection._shown(conn, rows)
