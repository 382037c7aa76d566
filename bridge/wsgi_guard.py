"""Refuse hostile requests before Radicale sees them, and before any storage lock.

Radicale takes the store's write lock and only then runs its own item check on a PUT
(radicale/app/put.py), so an object that is expensive to check holds every writer up.
``RequestGuard`` answers these with a 4xx whose body names the problem, at a cost bounded
by the body size:

- paths with "." or ".." segments;
- DELETE of the root collection; MOVE to another host;
- XML bodies with a DTD or entities (billion laughs, external entities) or nested deeper
  than ``MAX_XML_DEPTH`` (defusedxml; the parsed document is left in the environ under
  ``PARSED_XML`` for the fast path);
- iCalendar bodies of PUT whose recurrences cost too much (``bridge.ical.bounds``) or
  cannot be expanded within the store's limits (``bridge.ical.check.check_recurrence``).
"""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import defusedxml
import defusedxml.ElementTree as defused_tree
from radicale import httputils
from radicale import item as radicale_item
from radicale import utils as radicale_utils

from bridge.ical.bounds import parsed_cost_problem
from bridge.ical.check import check_recurrence
from bridge.ical.errors import ICalError
from bridge.wsgi import StartResponse, WSGIApp

MAX_XML_DEPTH = 40
#: environ key: (body, the document check_xml parsed from it), for a later reader of the
#: same body that can use it (bridge.fastpath.request.parsed_body).
PARSED_XML = "bridge.guard.parsed_xml"
_XML_METHODS = ("PROPFIND", "PROPPATCH", "REPORT", "MKCALENDAR", "MKCOL")


class Refusal(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


_STATUS_TEXT = {400: "Bad Request", 403: "Forbidden"}


def _answer(start_response: StartResponse, refusal: Refusal) -> Iterable[bytes]:
    status = f"{refusal.status} {_STATUS_TEXT[refusal.status]}"
    body = f"{status}: {refusal.reason}\n".encode()
    start_response(
        status,
        [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))],
    )
    return [body]


def check_path(environ: dict) -> None:
    path = environ.get("PATH_INFO", "") or "/"
    segments = path.split("/")
    for bad in ("..", "."):
        if bad in segments:
            raise Refusal(400, f"path segment {bad!r} is not allowed in {path!r}")
    method = environ.get("REQUEST_METHOD", "").upper()
    if method == "DELETE" and not path.strip("/"):
        raise Refusal(403, "the root collection cannot be deleted")


def check_destination(environ: dict) -> None:
    if environ.get("REQUEST_METHOD", "").upper() not in ("MOVE", "COPY"):
        return
    destination = environ.get("HTTP_DESTINATION", "")
    try:
        parts = urlsplit(destination)
        port = parts.port
    except ValueError as exc:  # a port that is no number, an unclosed IPv6 bracket ...
        raise Refusal(400, f"Destination {destination[:200]!r} is not a valid URL: {exc}") from None
    if not parts.netloc:
        return
    wanted = parts.netloc if port else f"{parts.netloc}:{_default_port(parts.scheme)}"
    here = radicale_utils.get_server_netloc(environ, force_port=True)
    if wanted.lower() != here.lower():
        raise Refusal(
            403,
            f"Destination {destination!r} is on another server ({parts.netloc}); "
            "only moves within this server are supported",
        )
    for bad in ("..", "."):
        if bad in parts.path.split("/"):
            raise Refusal(400, f"path segment {bad!r} is not allowed in Destination")


def _default_port(scheme: str) -> int:
    return 443 if scheme == "https" else 80


def check_xml(data: bytes) -> ET.Element:
    """No DTD, no entities, nesting within MAX_XML_DEPTH, every element in a namespace.
    Returns the parsed document.

    A well-formed body is parsed whole (ElementTree's C builder) and its elements checked
    in document order, which finds the fault the streamed check finds first; a body that
    does not parse (malformed, a DTD, entities) goes through the streamed check, which
    refuses it as it always has (its first fault may come before the parse error).
    """
    try:
        root = defused_tree.fromstring(data, forbid_dtd=True)
    except Exception:  # noqa: BLE001 - the streamed check says what is wrong, as it did
        return _check_xml_streamed(data)
    _check_elements(root)
    return root


def _element_fault(element: ET.Element, depth: int) -> None:
    if depth > MAX_XML_DEPTH:
        raise Refusal(400, f"XML body nested deeper than {MAX_XML_DEPTH} elements is refused")
    if not element.tag.startswith("{") or element.tag.startswith("{}"):
        # Radicale names every property by its namespace and fails without one.
        name = element.tag.removeprefix("{}")[:64]
        raise Refusal(
            400,
            f"XML element <{name}> has no namespace; WebDAV elements and "
            "properties without a namespace are not supported",
        )


def _check_elements(root: ET.Element) -> None:
    """The streamed check's tests on a parsed document, element by element in document
    order (depth first, children in order)."""
    pending = [(root, 1)]
    while pending:
        element, depth = pending.pop()
        _element_fault(element, depth)
        if len(element):
            pending.extend((child, depth + 1) for child in reversed(element))


def _check_xml_streamed(data: bytes) -> ET.Element:
    """check_xml on the parser's events: stops at the first fault."""
    depth = 0
    try:
        events = defused_tree.iterparse(io.BytesIO(data), events=("start", "end"), forbid_dtd=True)
        for event, element in events:
            if event == "start":
                depth += 1
                _element_fault(element, depth)
            else:
                depth -= 1
    except defusedxml.DTDForbidden:
        raise Refusal(400, "XML body with a document type declaration (DTD) is refused") from None
    except (defusedxml.EntitiesForbidden, defusedxml.ExternalReferenceForbidden):
        raise Refusal(400, "XML body with entity declarations is refused") from None
    except defused_tree.ParseError as exc:
        raise Refusal(400, f"malformed XML body: {exc}") from None
    return events.root  # type: ignore[attr-defined] - set once the parse has ended


CALDAV = "{urn:ietf:params:xml:ns:caldav}"
FREE_BUSY_DAYS = 366  # longest free-busy window answered (Exchange: 62 days)


def _utc(value: str, what: str) -> datetime:
    try:
        return datetime.strptime(value, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        raise Refusal(
            400,
            f"free-busy-query time-range {what} {value[:40]!r} is not a UTC "
            "date-time (RFC 4791 9.9)",
        ) from None


def check_free_busy(root: ET.Element, *, horizon_days: int, now: datetime | None = None) -> None:
    """A free-busy-query needs one time-range with start and end (RFC 4791 7.10, 9.9), at
    most FREE_BUSY_DAYS long and within ``horizon_days`` of now: Radicale walks every
    recurring object from its start up to the window's end, so an open or far window cost
    seconds per calendar. ``root``: the body as check_xml parsed it."""
    if root.tag != f"{CALDAV}free-busy-query":
        return
    ranges = root.findall(f"{CALDAV}time-range")
    if len(ranges) != 1:
        raise Refusal(400, "free-busy-query needs exactly one time-range (RFC 4791 7.10)")
    start_text, end_text = ranges[0].get("start"), ranges[0].get("end")
    if not start_text or not end_text:
        raise Refusal(400, "free-busy-query time-range needs both start and end")
    start, end = _utc(start_text, "start"), _utc(end_text, "end")
    if end - start > timedelta(days=FREE_BUSY_DAYS):
        raise Refusal(
            403, f"free-busy windows are limited to {FREE_BUSY_DAYS} days; ask for a shorter range"
        )
    now = now or datetime.now(UTC)
    reach = timedelta(days=horizon_days)
    if start < now - reach or end > now + reach:
        raise Refusal(
            403,
            f"free-busy is answered from {horizon_days} days before now to "
            f"{horizon_days} days after (the time index); ask for a nearer range",
        )


def check_calendar_text(text: str, *, max_occurrences: int) -> None:
    """Refuse iCalendar whose recurrences cannot be expanded within the bounds.

    The body is parsed exactly as Radicale parses it, so the check sees what Radicale's
    item check would expand under the lock.
    """
    try:
        components = radicale_item.read_components(text)
    except Exception:  # noqa: BLE001 - unparsable bodies are Radicale's to refuse, as ever
        return
    for component in components:
        problem = parsed_cost_problem(component, max_occurrences)
        if problem is not None:
            raise Refusal(400, problem)
        if getattr(component, "name", None) != "VCALENDAR":
            continue
        try:
            check_recurrence(component, max_occurrences=max_occurrences)
        except ICalError as exc:
            raise Refusal(400, str(exc)) from None


class RequestGuard:
    """WSGI middleware: the checks above, then Radicale with the body as it came."""

    def __init__(
        self,
        app: WSGIApp,
        *,
        configuration: object,
        max_occurrences: int,
        horizon_days: int = 1830,
    ) -> None:
        self.app = app
        self.configuration = configuration
        self.max_occurrences = max_occurrences
        self.horizon_days = horizon_days

    def __call__(self, environ: dict, start_response: StartResponse) -> Iterable[bytes]:
        try:
            self._check(environ)
        except Refusal as refusal:
            return _answer(start_response, refusal)
        return self.app(environ, start_response)

    def _check(self, environ: dict) -> None:
        check_path(environ)
        check_destination(environ)
        method = environ.get("REQUEST_METHOD", "").upper()
        if method not in (*_XML_METHODS, "PUT"):
            return
        data = self._body(environ)
        if not data:
            return
        if method == "PUT":
            try:
                text = httputils.decode_request(self.configuration, environ, data)  # type: ignore[arg-type]
            except UnicodeDecodeError:
                return
            check_calendar_text(text, max_occurrences=self.max_occurrences)
        else:
            root = check_xml(data)
            if method == "REPORT":
                check_free_busy(root, horizon_days=self.horizon_days)
            environ[PARSED_XML] = (data, root)

    @staticmethod
    def _body(environ: dict) -> bytes:
        """Read the body (waitress bounds it by max_body_bytes) and put it back for Radicale."""
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return b""
        if length <= 0:
            return b""
        data = environ["wsgi.input"].read(length)
        environ["wsgi.input"] = io.BytesIO(data)
        environ["CONTENT_LENGTH"] = str(len(data))
        return data
