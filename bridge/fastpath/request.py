"""The request body as the fast path reads it, and the request text of Radicale's log line.

The guard (bridge.wsgi_guard) has already parsed an XML body to check it. Radicale would
parse it again from the text ``httputils.decode_request`` gives; where that text is the
body read as UTF-8, and the body does not tell the parser to read it otherwise (an
``encoding`` other than UTF-8 in its XML declaration, a byte order mark), the two parses
give the same document, and the fast path uses the guard's.

Radicale returns with each answer the request pretty-printed (``xmlutils.pretty_xml``:
a deep copy, indented, serialised) for its log line, which only looks for four strings
in it (the "flags"), unless DEBUG logging or per-request profiling of the XML is on.
``log_text`` gives those four strings exactly when the pretty-printed text would hold
them, without printing it; with DEBUG or profiling on it is the pretty-printed text.
"""

from __future__ import annotations

import codecs
import logging
import re
import xml.etree.ElementTree as ET
from typing import Any

from radicale import httputils, xmlutils
from radicale.log import logger as radicale_logger

from bridge.wsgi_guard import PARSED_XML

_DECLARED_ENCODING = re.compile(rb"<\?xml\s[^>]*?\bencoding\s*=\s*[\"']([^\"']*)[\"']")
_UTF8 = {"utf-8", "utf8"}


def _reads_as_utf8(raw: bytes) -> bool:
    """Whether an XML parser given these bytes reads them as UTF-8."""
    if raw.startswith((codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return False
    declared = _DECLARED_ENCODING.match(raw)
    return declared is None or declared.group(1).decode("ascii", "replace").lower() in _UTF8


def shared_document(app: Any, environ: dict, raw: bytes) -> ET.Element | None:
    """The guard's parse of ``raw`` if Radicale's own reading of the body would give the
    same document and log nothing of it; else None (read it as Radicale does)."""
    held = environ.get(PARSED_XML)
    if held is None or held[0] != raw or not _reads_as_utf8(raw):
        return None
    if radicale_logger.isEnabledFor(logging.DEBUG):
        return None  # Radicale logs the request content: let it
    if app._request_content_on_notice_condition != {}:  # noqa: SLF001
        return None
    try:
        content = httputils.decode_request(app.configuration, environ, raw)
    except UnicodeDecodeError:
        return None
    if not content or content.encode("utf-8") != raw:
        return None
    return held[1]


# -- the log line's flags ---------------------------------------------------------------

#: What Radicale looks for in the request text (radicale/app/__init__.py, the log line).
FLAG_TAGS = ("<sync-token />", "<getetag />", "<CS:getctag />", "<sync-collection ")
_FLAG_ENDINGS = ("sync-token", "getetag", "getctag", "sync-collection")


def _written_name(tag: Any) -> str | None:
    """The name ElementTree writes for a tag ("getetag", "CS:getctag"); None for
    generated prefixes (ns0 ...) and anything but a plain tag."""
    if not isinstance(tag, str):
        return None
    if not tag.startswith("{"):
        return tag
    uri, _, local = tag[1:].partition("}")
    prefix = ET._namespace_map.get(uri)  # noqa: SLF001 - the map register_namespace fills
    if prefix is None:
        return None
    return f"{prefix}:{local}" if prefix else local


def _declares_namespaces(root: ET.Element) -> bool:
    """Whether ElementTree writes xmlns attributes on ``root``: some tag or attribute
    name in the tree is in a namespace other than xml's."""
    xml_ns = "{http://www.w3.org/XML/1998/namespace}"
    for element in root.iter():
        for name in (element.tag, *element.attrib):
            if isinstance(name, str) and name.startswith("{") and not name.startswith(xml_ns):
                return True
    return False


def flags_text(root: ET.Element) -> str:
    """The FLAG_TAGS that ``xmlutils.pretty_xml(root)`` contains, and nothing else.

    pretty_xml changes only whitespace: the text of elements with children and tails,
    never how a start tag is written. ElementTree writes ``<name`` then, in order, the
    namespace declarations (on the root only), the attributes, and `` />`` for an
    element with no text and no children, else ``>``.
    """
    found: set[str] = set()
    for element in root.iter():
        tag = element.tag
        if not isinstance(tag, str) or not tag.endswith(_FLAG_ENDINGS):
            continue
        name = _written_name(tag)
        if name not in ("sync-token", "getetag", "CS:getctag", "sync-collection"):
            continue
        empty = not element.text and len(element) == 0
        attributes = bool(element.attrib) or (element is root and _declares_namespaces(root))
        if name == "sync-collection":
            if attributes or empty:
                found.add("<sync-collection ")
        elif empty and not attributes:
            found.add(f"<{name} />")
    return " ".join(tag for tag in FLAG_TAGS if tag in found)


def log_text(app: Any, root: ET.Element) -> str:
    """What the fast path returns for Radicale's log line (see the module's docstring)."""
    if radicale_logger.isEnabledFor(logging.DEBUG) or app._profiling_per_request_xml:  # noqa: SLF001
        return xmlutils.pretty_xml(root)
    return flags_text(root)
