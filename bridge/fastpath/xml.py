"""A multistatus written as text, byte for byte as Radicale's ElementTree writes it.

ElementTree (as Radicale calls it: ``write(encoding=..., xml_declaration=True)``) puts
every namespace used anywhere on the root element, sorted by prefix, with the prefixes
registered by radicale.xmlutils (DAV: is the default namespace); escapes only ``&``,
``<`` and ``>`` in text; writes an element without text or children as ``<tag />``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

DAV = "DAV:"


def escape(text: str) -> str:
    if "&" in text:
        text = text.replace("&", "&amp;")
    if "<" in text:
        text = text.replace("<", "&lt;")
    if ">" in text:
        text = text.replace(">", "&gt;")
    return text


def split_clark(tag: str) -> tuple[str, str]:
    uri, _, local = tag[1:].partition("}")
    return uri, local


def prefix_of(uri: str) -> str | None:
    """The prefix ElementTree writes for ``uri``, None if it would invent one (ns0...)."""
    return ET._namespace_map.get(uri)  # noqa: SLF001 - the map register_namespace fills


def qname(tag: str) -> str | None:
    """``getetag`` or ``C:calendar-data`` for a Clark name; None for an unregistered
    namespace (ElementTree would number it) or a tag without one."""
    if not tag.startswith("{"):
        return None
    uri, local = split_clark(tag)
    prefix = prefix_of(uri)
    if prefix is None:
        return None
    return f"{prefix}:{local}" if prefix else local


def element(name: str, text: str | None) -> str:
    if text:
        return f"<{name}>{escape(text)}</{name}>"
    return f"<{name} />"


def declaration(encoding: str) -> str:
    return f"<?xml version='1.0' encoding='{encoding}'?>\n"


def document(encoding: str, uris: set[str], body: list[str]) -> bytes:
    """The whole multistatus: ``body`` inside a root declaring ``uris`` (and DAV:)."""
    found = {prefix_of(uri) or "": uri for uri in {DAV, *uris}}
    decls = "".join(
        f' xmlns{":" + p if p else ""}="{escape(found[p]).replace(chr(34), "&quot;")}"'
        for p in sorted(found)
    )
    if not body:
        return (declaration(encoding) + f"<multistatus{decls} />").encode(encoding)
    text = declaration(encoding) + f"<multistatus{decls}>" + "".join(body) + "</multistatus>"
    return text.encode(encoding)
