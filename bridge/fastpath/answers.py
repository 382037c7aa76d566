"""The multistatus answers of the fast path, written from stored columns.

Each function mirrors what Radicale 3.9 writes for the same request on the same items
(radicale/app/propfind.py xml_propfind_response for an object, radicale/app/report.py
xml_report / xml_item_response / retrieve_items): the same hrefs, property order,
200/404 split, etags and stored text. None means "let Radicale answer".
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import quote, unquote, urlparse

from radicale import pathutils, xmlutils
from radicale.app.report import test_filter
from sqlalchemy import Connection

from bridge.fastpath import shapes
from bridge.fastpath.xml import element, qname, split_clark
from bridge.storage_plugin import convert
from bridge.storage_plugin.collection import StoreCollection
from bridge.storage_plugin.paths import http_date
from bridge.store import items as item_store

#: One object as the collection shows it: (row, text, etag).
Shown = tuple[item_store.Listed, Any, Any]


def content_type(component: str, encoding: str) -> str:
    name, component_name = convert.names(component)
    value = f"{xmlutils.OBJECT_MIMETYPES[name]};charset={encoding}"
    return f"{value};component={component_name}" if component_name else value


#: An object name that quote leaves as it is.
_UNQUOTED = re.compile(r"[A-Za-z0-9_.~-]+\Z")
#: An object name that urlparse, unquote and sanitize_path all leave as it is.
_PLAIN_NAME = re.compile(r"[A-Za-z0-9_.~!$&'()*+,=@-]+\Z")


class Hrefs:
    """The hrefs of a collection's objects as Radicale writes them: make_href(base_prefix,
    "/<collection path>/<name>"), i.e. the quoted prefix, computed once, and the quoted
    name (quote works character by character, so the parts can be quoted apart)."""

    def __init__(self, base_prefix: str, collection: StoreCollection) -> None:
        self.base_prefix = base_prefix
        self.collection = collection
        self.collection_uri = pathutils.unstrip_path(collection.path, True)
        # quote leaves only letters, digits, "_.-~/": nothing to escape in XML
        self.prefix = xmlutils.make_href(base_prefix, self.collection_uri)

    def element(self, name: str) -> str:
        if _UNQUOTED.match(name):  # what quote leaves as it is
            return f"<href>{self.prefix}{name}</href>"
        return f"<href>{self.prefix}{quote(name)}</href>"

    def not_found(self, name: str) -> str:
        return f"<response>{self.element(name)}<status>HTTP/1.1 404 Not Found</status></response>"

    def reference(self, text: str) -> str | None:
        """The path Radicale's calendar-multiget makes of a D:href text; None where it
        would skip the href (outside base_prefix)."""
        if text.startswith(self.prefix):
            rest = text[len(self.prefix) :]
            if _PLAIN_NAME.match(rest) and rest not in (".", ".."):
                return self.collection_uri + rest  # what the general steps below give
        path = pathutils.sanitize_path(unquote(urlparse(text).path))
        if not (path + "/").startswith(self.base_prefix + "/"):
            return None
        return path[len(self.base_prefix) :]

    def name_of(self, reference: str) -> str | None:
        """pathutils.name_from_path; None for anything but an object of this collection."""
        if reference.startswith(self.collection_uri):
            rest = reference[len(self.collection_uri) :]
            if _PLAIN_NAME.match(rest) and rest not in (".", ".."):
                return rest
        try:
            name = pathutils.name_from_path(reference, self.collection)
        except ValueError:
            return None
        return name or None


def uris_of(props: Iterable[str]) -> set[str]:
    return {split_clark(tag)[0] for tag in props}


# -- PROPFIND Depth 1: the objects --------------------------------------------------

ETAG, LAST_MODIFIED, CONTENT_TYPE, CONTENT_LENGTH, EMPTY, TEXT, MISSING = range(7)
OK_STAT = "<status>HTTP/1.1 200 OK</status></propstat>"
MISSING_STAT = "<status>HTTP/1.1 404 Not Found</status></propstat>"


def _names(props: Sequence[str]) -> list[str]:
    names = [qname(tag) for tag in props]
    assert all(n is not None for n in names)  # shapes lets only such requests through
    return names  # type: ignore[return-value]


def propfind_plan(props: Sequence[str]) -> list[tuple[str, int]]:
    """Each requested property's name and what an object answers for it
    (xml_propfind_response, the branches that apply to an object)."""
    kinds = {
        shapes.GETETAG: ETAG,
        shapes.GETLASTMODIFIED: LAST_MODIFIED,
        shapes.GETCONTENTTYPE: CONTENT_TYPE,
        shapes.GETCONTENTLENGTH: CONTENT_LENGTH,
        shapes.RESOURCETYPE: EMPTY,
    }
    return [(name, kinds.get(tag, MISSING)) for tag, name in zip(props, _names(props), strict=True)]


def propfind_object(shown: Shown, plan: Sequence[tuple[str, int]], href: str, encoding: str) -> str:
    """Radicale's xml_propfind_response for an object (not a collection, no share):
    properties in request order, one propstat per status in order of first appearance."""
    row, text, etag = shown
    groups: dict[bool, list[str]] = {}
    for name, kind in plan:
        if kind == ETAG:
            value = etag
        elif kind == LAST_MODIFIED:
            value = http_date(row.last_modified)
        elif kind == CONTENT_TYPE:
            value = content_type(row.component, encoding)
        elif kind == CONTENT_LENGTH:
            value = str(len(text.encode(encoding)))
        else:
            value = None
        written = element(name, value)
        found = kind != MISSING
        if found in groups:
            groups[found].append(written)
        else:
            groups[found] = [written]
    parts = [f"<response>{href}"]
    for found, children in groups.items():
        parts.append(f"<propstat><prop>{''.join(children)}</prop>")
        parts.append(OK_STAT if found else MISSING_STAT)
    parts.append("</response>")
    return "".join(parts)


def propfind_objects(
    collection: StoreCollection, conn: Connection, props: Sequence[str], hrefs: Hrefs, encoding: str
) -> list[str]:
    plan = propfind_plan(props)
    texts = any(kind == CONTENT_LENGTH for _, kind in plan)
    rows = item_store.all_in(conn, collection.source_id, texts=texts)
    shown = collection._shown(conn, rows)
    return [propfind_object(entry, plan, hrefs.element(entry[0].href), encoding) for entry in shown]


# -- REPORT: the objects -------------------------------------------------------------


class TooManyEvents(Exception):
    """Perhaps past Radicale's [reporting] max_expand_occurrence: Radicale counts and
    answers (its 400, or the answer if the count here was high)."""


def _vevents_at_most(text: str) -> int:
    """At least the number of lines that are BEGIN:VEVENT in any case, which Radicale
    counts (every such line holds the upper-cased string)."""
    return text.upper().count("BEGIN:VEVENT")


def report_plan(props: Sequence[str]) -> list[tuple[str, int]]:
    """Each requested property's name and what xml_report answers for an object."""
    kinds = {
        shapes.GETCONTENTTYPE: CONTENT_TYPE,
        shapes.GETETAG: ETAG,
        shapes.CALENDAR_DATA: TEXT,
        shapes.ADDRESS_DATA: TEXT,
    }
    return [(name, kinds.get(tag, MISSING)) for tag, name in zip(props, _names(props), strict=True)]


def report_objects(
    shown: Iterable[Shown], props: Sequence[str], hrefs: Hrefs, encoding: str, max_occurrence: int
) -> list[str]:
    """xml_report's loop and xml_item_response: the found properties (200) first, then
    the others (404); no response for an object when no property was asked."""
    plan = report_plan(props)
    if not plan:
        return []
    missing = "".join(element(name, None) for name, kind in plan if kind == MISSING)
    missing_stat = f"<propstat><prop>{missing}</prop>{MISSING_STAT}" if missing else ""
    found = [(name, kind) for name, kind in plan if kind != MISSING]
    opening = "<propstat><prop>" if found else ""
    closing = ("</prop>" + OK_STAT if found else "") + missing_stat + "</response>"
    # Radicale counts the VEVENTs of every calendar-data it writes.
    texts_per_object = sum(1 for _, kind in plan if kind == TEXT) if max_occurrence else 0
    content_types: dict[str, str] = {}
    vevents = 0
    out = []
    for row, text, etag in shown:
        parts = ["<response>", hrefs.element(row.href), opening]
        for name, kind in found:
            if kind == ETAG:
                parts.append(element(name, etag))
            elif kind == TEXT:
                parts.append(element(name, text))
            else:  # CONTENT_TYPE
                value = content_types.get(row.component)
                if value is None:
                    value = content_types[row.component] = content_type(row.component, encoding)
                parts.append(element(name, value))
        parts.append(closing)
        out.append("".join(parts))
        if texts_per_object:
            vevents += texts_per_object * _vevents_at_most(text or "")
            if vevents > max_occurrence:
                raise TooManyEvents
    return out


# -- which objects each REPORT lists -------------------------------------------------


def needs_texts(props: Sequence[str]) -> bool:
    return any(kind == TEXT for _, kind in report_plan(props))


def by_names(
    collection: StoreCollection,
    conn: Connection,
    names: Sequence[str],
    hrefs: Hrefs,
    *,
    texts: bool,
    everything: bool = False,
) -> tuple[list[str], list[Shown]]:
    """retrieve_items for names of this collection: 404 answers for the missing, in
    order, and the objects found, in order. ``everything``: the names are the whole
    collection (an initial sync), read in one pass rather than by name."""
    if everything:
        every = {
            row.href: row for row in item_store.all_in(conn, collection.source_id, texts=texts)
        }
        rows = {name: every[name] for name in names if name in every}
    else:
        rows = item_store.get_many(conn, collection.source_id, names, texts=texts)
    missing = [hrefs.not_found(n) for n in names if n not in rows]
    present = [rows[n] for n in dict.fromkeys(names) if n in rows]
    shown = {entry[0].href: entry for entry in collection._shown(conn, present)}
    return missing, [shown[n] for n in names if n in shown]


def multiget_names(texts: Sequence[str], hrefs: Hrefs) -> list[str] | None:
    """The object names a calendar-multiget names, in Radicale's order (it collects the
    references in a set); None if any is not plainly an object of this collection."""
    references: set[str] = set()
    for text in texts:
        reference = hrefs.reference(text)
        if reference is None:
            return None  # Radicale skips it with a warning: its business
        references.add(reference)
    names = []
    for reference in references:
        name = hrefs.name_of(reference)
        if name is None:
            return None  # another collection's object, or the collection itself
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
