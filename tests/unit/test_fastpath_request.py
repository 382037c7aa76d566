"""bridge.fastpath.request: the guard's parse stands in for Radicale's only where they are
the same document, and the log line's flags are those of Radicale's pretty-printed text."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET

import defusedxml.ElementTree as DefusedET
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from radicale import config, xmlutils

from bench import reports
from bridge.fastpath import request
from bridge.wsgi_guard import PARSED_XML, check_xml

FLAGS = request.FLAG_TAGS


def radicale_flags(text: str) -> list[str]:
    """The flags Radicale's log line takes from a request text."""
    return [tag for tag in FLAGS if tag in text]


BODIES = [
    reports.multiget(["/bench/meetings/a.ics", "/bench/meetings/b%20c.ics"]),
    reports.calendar_query("20261201T000000Z", "20270101T000000Z"),
    reports.sync_collection(""),
    reports.sync_collection("http://radicale.org/ns/sync/abc"),
    reports.propfind("getetag", "getcontenttype"),
    b'<sync-collection xmlns="DAV:"><sync-token/><prop><getetag/></prop></sync-collection>',
    b'<sync-collection xmlns="DAV:"><sync-token a="1"/><prop><getetag>x</getetag></prop>'
    b"</sync-collection>",
    b'<propfind xmlns="DAV:" xmlns:CS="http://calendarserver.org/ns/"><prop><CS:getctag/>'
    b"<getetag/><sync-collection/></prop></propfind>",
    b'<propfind xmlns="DAV:"><prop><sync-collection><x:a xmlns:x="urn:x"/></sync-collection>'
    b"</prop></propfind>",
    b'<propfind xmlns="DAV:"><prop><sync-collection b="c"><getetag/></sync-collection>'
    b"</prop></propfind>",
    b'<getetag xmlns="DAV:"/>',
    b'<x:getetag xmlns:x="urn:other"><getetag xmlns="DAV:"></getetag></x:getetag>',
    b'<propfind xmlns="DAV:"><prop><getetag xml:lang="en"/></prop></propfind>',
]


def _as_bytes(body: bytes | str) -> bytes:
    return body.encode() if isinstance(body, str) else body


@pytest.mark.parametrize("body", BODIES)
def test_flags_are_those_of_the_pretty_printed_request(body):
    root = check_xml(_as_bytes(body))
    assert radicale_flags(request.flags_text(root)) == radicale_flags(xmlutils.pretty_xml(root))


NAMES = st.sampled_from(
    [
        "{DAV:}sync-token",
        "{DAV:}getetag",
        "{DAV:}sync-collection",
        "{DAV:}prop",
        "{http://calendarserver.org/ns/}getctag",
        "{urn:ietf:params:xml:ns:caldav}calendar-data",
        "{urn:unregistered}getetag",
        "{urn:unregistered}sync-collection",
    ]
)


@st.composite
def trees(draw, depth: int = 0) -> ET.Element:
    element = ET.Element(draw(NAMES))
    if draw(st.booleans()):
        element.set(draw(st.sampled_from(["a", "{urn:x}b", "{DAV:}c"])), "v")
    element.text = draw(st.sampled_from([None, "", " ", "x"]))
    if depth < 3:
        for child in draw(st.lists(trees(depth + 1), max_size=3)):
            child.tail = draw(st.sampled_from([None, "", "\n"]))
            element.append(child)
    return element


@settings(max_examples=300, deadline=None)
@given(trees())
def test_flags_match_pretty_xml_for_any_tree(root):
    assert radicale_flags(request.flags_text(root)) == radicale_flags(xmlutils.pretty_xml(root))


class _App:
    """What shared_document reads of Radicale's Application: its configuration."""

    def __init__(self) -> None:
        self.configuration = config.load()
        self._request_content_on_notice_condition = {}


def _environ(body: bytes, content_type: str = "application/xml") -> dict:
    environ = {"CONTENT_TYPE": content_type, "wsgi.input": io.BytesIO(body)}
    environ[PARSED_XML] = (body, check_xml(body))
    return environ


def _radicale_parse(app: _App, environ: dict, body: bytes) -> ET.Element:
    from radicale import httputils

    return DefusedET.fromstring(httputils.decode_request(app.configuration, environ, body))


SHARED = [
    *(_as_bytes(b) for b in BODIES),
    "<?xml version='1.0' encoding='utf-8'?>\n<propfind xmlns=\"DAV:\"><prop><displayname>"
    "Zoë</displayname></prop></propfind>".encode(),
]


@pytest.mark.parametrize("body", SHARED)
def test_the_shared_document_is_the_one_radicale_parses(body):
    app = _App()
    environ = _environ(body)
    shared = request.shared_document(app, environ, body)
    assert shared is not None
    assert ET.tostring(shared) == ET.tostring(_radicale_parse(app, environ, body))


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        # Declared Latin-1: the guard's parser reads "Ã«" where Radicale's reads "ë".
        (
            "<?xml version='1.0' encoding='iso-8859-1'?>\n<propfind xmlns=\"DAV:\"><prop>"
            "<displayname>Zoë</displayname></prop></propfind>".encode(),
            "application/xml",
        ),
        # A charset that is not UTF-8: Radicale decodes the body another way.
        (
            '<propfind xmlns="DAV:"><prop><x>é</x></prop></propfind>'.encode(),
            "text/xml; charset=latin-1",
        ),
        # A byte order mark.
        (b'\xef\xbb\xbf<propfind xmlns="DAV:"><prop><getetag/></prop></propfind>', "text/xml"),
    ],
)
def test_no_shared_document_where_radicale_could_read_another(body, content_type):
    app = _App()
    environ = _environ(body, content_type)
    assert request.shared_document(app, environ, body) is None


def test_no_shared_document_for_another_body_or_with_content_logging():
    app = _App()
    body = _as_bytes(BODIES[0])
    environ = _environ(body)
    assert request.shared_document(app, environ, body + b" ") is None
    app._request_content_on_notice_condition = {"method": "REPORT"}
    assert request.shared_document(app, environ, body) is None
