"""The guard's XML check: parsed whole where the body is well-formed, it refuses exactly
what the streamed check refuses, with the same reason."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bridge.wsgi_guard import MAX_XML_DEPTH, Refusal, _check_xml_streamed, check_xml


def outcome(check, data: bytes) -> tuple:
    try:
        root = check(data)
    except Refusal as refusal:
        return ("refused", refusal.status, refusal.reason)
    return ("parsed", ET.tostring(root))


def nested(depth: int, *, bare_at: int | None = None, tail: bytes = b"") -> bytes:
    opens = b"".join(
        b"<x>" if i == bare_at else b'<d:p xmlns:d="DAV:">' for i in range(1, depth + 1)
    )
    closes = b"".join(b"</x>" if i == bare_at else b"</d:p>" for i in range(depth, 0, -1))
    return opens + closes + tail


CASES = [
    b'<propfind xmlns="DAV:"><prop><getetag/></prop></propfind>',
    nested(MAX_XML_DEPTH),
    nested(MAX_XML_DEPTH + 1),
    nested(MAX_XML_DEPTH + 5, bare_at=MAX_XML_DEPTH + 2),  # too deep first
    nested(MAX_XML_DEPTH + 5, bare_at=3),  # no namespace first
    nested(MAX_XML_DEPTH + 5, tail=b"<junk"),  # too deep, then malformed
    nested(3, bare_at=2, tail=b"<junk"),  # no namespace, then malformed
    nested(3, tail=b"<junk"),  # malformed only
    b'<!DOCTYPE x [<!ENTITY a "b">]><x xmlns="DAV:">&a;</x>',
    b'<?xml version="1.0"?><!DOCTYPE x><x xmlns="DAV:"/>',
    b'<x xmlns="DAV:">&lt;</x>',
    b'<x xmlns="DAV:">&undefined;</x>',
    b"<x/>",
    b'<x xmlns="">y</x>',
    b"",
    b"not xml",
    '<d:x xmlns:d="DAV:">é</d:x>'.encode(),
]


@pytest.mark.parametrize("data", CASES)
def test_same_outcome_as_the_streamed_check(data):
    assert outcome(check_xml, data) == outcome(_check_xml_streamed, data)


@st.composite
def documents(draw) -> bytes:
    """Random nesting of namespaced and bare elements, sometimes cut short or with junk."""
    depth = draw(st.integers(1, MAX_XML_DEPTH + 4))
    names = [draw(st.sampled_from([b"d:p", b"q", b"d:r"])) for _ in range(depth)]
    leaves = st.lists(st.sampled_from([b"d:s", b"d:s", b"t"]), max_size=2)
    siblings = [draw(leaves) for _ in range(depth)]
    parts = []
    for name, extra in zip(names, siblings, strict=True):
        parts.append(b"<" + name + b' xmlns:d="DAV:">')
        parts.extend(b"<" + leaf + b' xmlns:d="DAV:"/>' for leaf in extra)
    parts.extend(b"</" + name + b">" for name in reversed(names))
    data = b"".join(parts)
    cut = draw(st.one_of(st.none(), st.integers(0, len(data))))
    return data if cut is None else data[:cut]


@settings(max_examples=300, deadline=None)
@given(documents())
def test_same_outcome_for_any_nesting(data):
    assert outcome(check_xml, data) == outcome(_check_xml_streamed, data)
