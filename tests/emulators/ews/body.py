"""Body conversion for ItemShape/BodyType: Best returns the stored form, Text and HTML convert."""

from __future__ import annotations

import copy
import html
from html.parser import HTMLParser
from xml.etree import ElementTree as ET


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in ("style", "script", "head"):
            self._skip += 1
        elif tag in ("br", "p", "div", "li", "tr"):
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("style", "script", "head") and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def to_text(markup: str) -> str:
    parser = _Text()
    parser.feed(markup)
    parser.close()
    return "".join(parser.parts).strip("\n")


def to_html(text: str) -> str:
    lines = "<br>\r\n".join(html.escape(line) for line in text.split("\n"))
    return (
        '<html>\r\n<head>\r\n<meta http-equiv="Content-Type" content="text/html; charset=utf-8">'
        f"\r\n</head>\r\n<body>\r\n{lines}\r\n</body>\r\n</html>\r\n"
    )


def shaped(body: ET.Element, wanted: str) -> ET.Element:
    """The stored t:Body in the requested BodyType (Best: as stored)."""
    stored = body.get("BodyType", "Text")
    out = copy.deepcopy(body)
    if wanted in ("Best", stored) or wanted not in ("Text", "HTML"):
        return out
    out.text = to_text(body.text or "") if wanted == "Text" else to_html(body.text or "")
    out.set("BodyType", wanted)
    return out
