"""Batch requests: multipart/mixed of application/http parts in, the same shape out."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from email.message import Message
from email.parser import BytesParser
from email.policy import compat32
from http import HTTPStatus
from urllib.parse import parse_qsl, urlsplit

from multidict import CIMultiDict, MultiDict

from .call import Call, Reply, error_reply
from .errors import ApiError, invalid

MAX_PARTS = 1000


def parse_parts(content_type: str, body: bytes) -> list[tuple[str, Call]]:
    """(Content-ID, inner call) for each part of a batch request body."""
    if not content_type.lower().startswith("multipart/mixed"):
        raise invalid("Batch requests must be multipart/mixed.")
    message = BytesParser(policy=compat32).parsebytes(
        b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body
    )
    if not message.is_multipart():
        raise invalid("Batch request has no parts.")
    parts = message.get_payload()
    assert isinstance(parts, list)
    if len(parts) > MAX_PARTS:
        raise invalid(f"A batch may hold at most {MAX_PARTS} calls.")
    return [(part.get("Content-ID", ""), parse_inner(part)) for part in parts]


def parse_inner(part: Message) -> Call:
    payload = part.get_payload(decode=False)
    raw = payload.encode("utf-8") if isinstance(payload, str) else bytes(payload)
    raw = raw.replace(b"\r\n", b"\n")
    head, _, body = raw.partition(b"\n\n")
    lines = head.decode("utf-8").split("\n")
    try:
        method, target, _version = lines[0].split(" ", 2)
    except ValueError:
        raise invalid(f"Malformed batch part request line: {lines[0]!r}") from None
    headers: CIMultiDict[str] = CIMultiDict()
    for line in lines[1:]:
        if ":" in line:
            name, _, value = line.partition(":")
            headers.add(name.strip(), value.strip())
    length = headers.get("Content-Length")
    if length is not None and length.isdigit():
        body = body[: int(length)]
    else:
        body = body.rstrip(b"\n")
    url = urlsplit(target)
    return Call(
        method=method.upper(),
        path=url.path,
        query=MultiDict(parse_qsl(url.query, keep_blank_values=True)),
        headers=headers,
        body=body,
    )


def render(replies: list[tuple[str, Reply]]) -> tuple[str, bytes]:
    """(Content-Type header, body) of the multipart/mixed batch response."""
    boundary = "batch_" + secrets.token_hex(12)
    out = []
    for content_id, reply in replies:
        inner = content_id.strip()
        answer_id = f"<response-{inner[1:]}" if inner.startswith("<") else f"<response-{inner}>"
        payload = reply.payload()
        phrase = HTTPStatus(reply.status).phrase
        head = [f"HTTP/1.1 {reply.status} {phrase}"]
        head.append("Content-Type: application/json; charset=UTF-8")
        head += [f"{k}: {v}" for k, v in reply.headers.items()]
        head.append(f"Content-Length: {len(payload)}")
        out.append(
            f"--{boundary}\r\nContent-Type: application/http\r\nContent-ID: {answer_id}\r\n\r\n"
            + "\r\n".join(head)
            + "\r\n\r\n"
            + payload.decode("utf-8")
            + "\r\n"
        )
    out.append(f"--{boundary}--\r\n")
    return f"multipart/mixed; boundary={boundary}", "".join(out).encode("utf-8")


async def run(
    content_type: str,
    body: bytes,
    outer_authorization: str | None,
    dispatch: Callable[[Call], Awaitable[Reply]],
) -> tuple[str, bytes]:
    parts = parse_parts(content_type, body)
    replies = []
    for content_id, call in parts:
        if "Authorization" not in call.headers and outer_authorization:
            call.headers["Authorization"] = outer_authorization
        try:
            reply = await dispatch(call)
        except ApiError as exc:
            reply = error_reply(exc)
        replies.append((content_id, reply))
    return render(replies)
