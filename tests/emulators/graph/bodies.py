"""itemBody conversions: text <-> HTML as Outlook renders them."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser
from typing import Any

from .errors import GraphError

BREAKS = {"br", "p", "div", "li", "tr"}


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("head", "style", "script", "title"):
            self.skip += 1
        elif tag == "br":
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("head", "style", "script", "title"):
            self.skip = max(0, self.skip - 1)
        elif tag in BREAKS - {"br"}:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.parts.append(re.sub(r"\s+", " ", data) if data.strip() else "")


def html_to_text(markup: str) -> str:
    parser = _Text()
    parser.feed(markup)
    parser.close()
    return "".join(parser.parts).strip("\n")


def text_to_html(text: str) -> str:
    inner = "<br>\r\n".join(html.escape(line, quote=False) for line in text.split("\n"))
    return (
        '<html>\r\n<head>\r\n<meta http-equiv="Content-Type" content="text/html; charset=utf-8">'
        f"\r\n</head>\r\n<body>\r\n<div>{inner}</div>\r\n</body>\r\n</html>\r\n"
    )


def validate(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        raise GraphError(400, "RequestBodyRead", "'body' must be an itemBody object.")
    kind = str(value.get("contentType", "text")).lower()
    if kind not in ("text", "html"):
        raise GraphError(
            400, "RequestBodyRead", f"Requested value '{value.get('contentType')}' was not found."
        )
    content = value.get("content") or ""
    if not isinstance(content, str):
        raise GraphError(400, "RequestBodyRead", "'body.content' must be a string.")
    return {"contentType": kind, "content": content}


def render(body: dict[str, str] | None, want_text: bool) -> dict[str, str]:
    body = body or {"contentType": "text", "content": ""}
    if want_text:
        content = body["content"]
        return {
            "contentType": "text",
            "content": html_to_text(content) if body["contentType"] == "html" else content,
        }
    if body["contentType"] == "html":
        return dict(body)
    return {"contentType": "html", "content": text_to_html(body["content"])}


def preview(body: dict[str, str] | None) -> str:
    return render(body, True)["content"].replace("\n", " ")[:255]
