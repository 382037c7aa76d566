"""The CalDAV fast path: the hot read requests on the plugin's calendars, answered from
the store.

``FastApplication`` is Radicale's Application with ``do_PROPFIND`` and ``do_REPORT``
tried here first. It answers, after Radicale has authenticated the request and with
Radicale's own rights checks:

- PROPFIND Depth 1 of a calendar with a ``<prop>`` list (not allprop/propname, and
  without the principal/privilege properties, which depend on the user, not the object);
- REPORT sync-collection (any token Radicale accepts), calendar-multiget of objects of
  the calendar, and calendar-query with one VEVENT time-range filter, without expand.

The answer is the multistatus Radicale would write, written as text (bridge.fastpath.xml)
from indexed columns: hrefs and etags from the item rows, calendar-data as stored, and
for a colleague's calendar the same busy-only rendering of private meetings
(StoreCollection._shown). Anything else - another storage, sharing on, a non-UTF-8
encoding, an unknown namespace, a missing or refused collection, a bad sync token, an
error - is handed to Radicale untouched (the request body is put back first), so its
answer, refusal or error is Radicale's own.
"""

from __future__ import annotations

import io
import logging
import xml.etree.ElementTree as ET
from collections import Counter
from http import client
from typing import Any

import radicale
from radicale import httputils, pathutils, types, xmlutils
from radicale.app.base import Access
from radicale.app.propfind import xml_propfind_response

from bridge.fastpath import answers, request, shapes
from bridge.fastpath.xml import document, escape
from bridge.storage_plugin import Storage
from bridge.storage_plugin.collection import RootCollection, StoreCollection
from bridge.store import collections as collection_store

log = logging.getLogger("bridge.fastpath")

#: Requests answered here, by kind ("propfind", "sync-collection", "calendar-multiget",
#: "calendar-query"): how tests and operators see that the fast path served.
SERVED: Counter[str] = Counter()


class FastApplication(radicale.Application):
    def do_PROPFIND(
        self,
        environ: types.WSGIEnviron,
        base_prefix: str,
        path: str,
        user: str,
        user_groups: set,
        request_info: dict,
    ) -> types.WSGIResponse:
        answer = None
        if environ.get("HTTP_DEPTH", "0") == "1":
            answer = self._fast(environ, base_prefix, path, user, user_groups, request_info, "P")
        if answer is not None:
            return answer
        return super().do_PROPFIND(environ, base_prefix, path, user, user_groups, request_info)

    def do_REPORT(
        self,
        environ: types.WSGIEnviron,
        base_prefix: str,
        path: str,
        user: str,
        user_groups: set,
        request_info: dict,
    ) -> types.WSGIResponse:
        answer = self._fast(environ, base_prefix, path, user, user_groups, request_info, "R")
        if answer is not None:
            return answer
        return super().do_REPORT(environ, base_prefix, path, user, user_groups, request_info)

    # -- shared steps ----------------------------------------------------------------

    def _fast(
        self,
        environ: types.WSGIEnviron,
        base_prefix: str,
        path: str,
        user: str,
        user_groups: set,
        request_info: dict,
        method: str,
    ) -> types.WSGIResponse | None:
        if self._sharing._enabled or self._encoding.lower() != "utf-8":
            return None
        access = Access(self._rights, user, user_groups, path)
        if not access.check("r"):
            return None  # Radicale refuses (or offers free-busy only)
        xml_request = self._body(environ, request_info)
        if xml_request is None:
            return None
        shape = shapes.propfind(xml_request) if method == "P" else shapes.report(xml_request)
        if shape is None:
            return None
        if not isinstance(self._storage, Storage):
            return None  # another storage: Radicale's business
        # One read transaction for the collection and its rows (one BEGIN and COMMIT).
        with self._storage.acquire_lock("r", user), self._storage.store.one_read():
            collection = next(iter(self._storage.discover(path, "0")), None)
            if (
                not isinstance(collection, StoreCollection)
                or isinstance(collection, RootCollection)
                or collection.tag != "VCALENDAR"
                or pathutils.unstrip_path(collection.path, True) != path
                or not access.check("r", collection)
            ):
                return None
            if isinstance(shape, shapes.Propfind):
                body = self._propfind(collection, shape, base_prefix, path, user, user_groups)
            else:
                body = self._report(collection, shape, base_prefix)
        if body is None:
            return None
        kind = "propfind" if method == "P" else xmlutils.make_human_tag(xml_request.tag)
        SERVED[kind.split(":", 1)[-1]] += 1
        log.debug("fast path answered %s on %r", kind, path)
        request_info["status"] = client.MULTI_STATUS
        headers = {"Content-Type": f"text/xml; charset={self._encoding}"}
        if method == "P":
            headers["DAV"] = httputils.DAV_HEADERS
        return client.MULTI_STATUS, headers, body, request.log_text(self, xml_request)

    def _body(self, environ: types.WSGIEnviron, request_info: dict) -> ET.Element | None:
        """The parsed request body (the guard's parse where it is the same document), or
        None; the body is put back for Radicale."""
        try:
            raw = httputils.read_raw_request_body(self.configuration, environ)
        except (RuntimeError, OSError):
            return None  # Radicale cannot read it either; it will say so
        environ["wsgi.input"] = io.BytesIO(raw)
        environ["CONTENT_LENGTH"] = str(len(raw))
        shared = request.shared_document(self, environ, raw)
        if shared is not None:
            return shared  # the guard's parse of the same document
        try:
            return self._read_xml_request_body(environ, request_info)
        except RuntimeError:
            return None
        finally:
            environ["wsgi.input"] = io.BytesIO(raw)

    def _allowed(self, collection: StoreCollection, user: str, user_groups: set) -> Any:
        """Radicale's own PROPFIND rights filter for the collection (and so its objects,
        which it checks against the same path)."""
        return next(iter(self._collect_allowed_items([collection], user, user_groups)), None)

    def _propfind(
        self,
        collection: StoreCollection,
        shape: shapes.Propfind,
        base_prefix: str,
        path: str,
        user: str,
        user_groups: set,
    ) -> bytes | None:
        allowed = self._allowed(collection, user, user_groups)
        if allowed is None:
            return None
        _, permission, raw_permissions = allowed
        if "f" in permission:
            return None  # free-busy only: Radicale's business
        head = xml_propfind_response(
            self,
            base_prefix,
            path,
            collection,
            list(shape.props),
            user,
            self._encoding,
            max_resource_size=self._max_resource_size,
            write="w" in permission,
            raw_permissions=raw_permissions,
        )
        store = collection._storage.store

        def load(conn: Any) -> list[str] | None:
            if collection_store.children(conn, collection.path):
                return None  # collections inside a calendar: Radicale lists them
            hrefs = answers.Hrefs(base_prefix, collection)
            return answers.propfind_objects(collection, conn, shape.props, hrefs, self._encoding)

        objects = store.read(load)
        if objects is None:
            return None
        multistatus = ET.Element(xmlutils.make_clark("D:multistatus"))
        multistatus.append(head)
        out = io.BytesIO()
        ET.ElementTree(multistatus).write(out, encoding=self._encoding, xml_declaration=True)
        written = out.getvalue()
        closing = b"</multistatus>"
        assert written.endswith(closing)
        tail = "".join(objects).encode(self._encoding)
        return written[: -len(closing)] + tail + closing

    def _report(self, collection: StoreCollection, shape: Any, base_prefix: str) -> bytes | None:
        store = collection._storage.store
        limit = self.configuration.get("reporting", "max_expand_occurrence")
        hrefs = answers.Hrefs(base_prefix, collection)
        head: list[str] = []
        missing: list[str] = []
        everything = False
        if isinstance(shape, shapes.SyncCollection):
            try:
                token, listed = collection.sync(shape.token)
            except ValueError:
                return None  # Radicale's invalid-token answer
            head.append(f"<sync-token>{escape(token)}</sync-token>")
            names = list(listed)
            everything = not shape.token  # an initial sync lists the whole collection
        elif isinstance(shape, shapes.Multiget):
            found = answers.multiget_names(shape.hrefs, hrefs)
            if found is None:
                return None
            names = found
        else:
            names = None
        if names is not None:
            texts = answers.needs_texts(shape.props)
            missing, shown = store.read(
                lambda conn: answers.by_names(
                    collection, conn, names, hrefs, texts=texts, everything=everything
                )
            )
        else:
            listed_shown = store.read(lambda conn: answers.in_range(collection, conn, shape))
            if listed_shown is None:
                return None
            shown = listed_shown
        try:
            objects = answers.report_objects(shown, shape.props, hrefs, self._encoding, limit)
        except answers.TooManyEvents:
            return None
        uris = answers.uris_of(shape.props) if objects else set()
        return document(self._encoding, uris, head + missing + objects)
