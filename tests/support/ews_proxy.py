"""A small HTTP proxy between an EWS client and the EWS emulator that refuses single items.

The emulator's own faults refuse whole requests (a SOAP fault, a bare HTTP status) or every
operation on an item, reads included. The contract suite also needs what EWS answers when
one item of a write is refused and the rest go through: a ``ResponseMessage`` with
ResponseClass="Error" in that item's place (EWS answers one ResponseMessage per item, in
request order). The proxy takes the refused items out of the request it forwards and puts
an error message in their places in the answer.

- ``refuse_next(operation, code, text, count)``: the first item of the next ``count``
  requests of CreateItem / UpdateItem / DeleteItem.
- ``refuse_item(item_id, code, text, times)``: every UpdateItem / DeleteItem change of that
  item (never a read), the next ``times`` ones.
- ``writes``: (operation, items) of every write request the client sent (a batched
  CreateItem of 100 items is one request of 100 write calls).

Basic auth only (headers are forwarded per request; NTLM binds a connection).
"""

from __future__ import annotations

import http.client
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit
from xml.etree import ElementTree as ET

SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
M = "http://schemas.microsoft.com/exchange/services/2006/messages"
T = "http://schemas.microsoft.com/exchange/services/2006/types"
CONTAINER = {"CreateItem": "Items", "UpdateItem": "ItemChanges", "DeleteItem": "ItemIds"}
HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}


def _item_id(elem: ET.Element) -> str:
    found = elem if elem.tag == f"{{{T}}}ItemId" else elem.find(f"{{{T}}}ItemId")
    return "" if found is None else found.get("Id", "")


def _error(operation: str, code: str, text: str) -> ET.Element:
    msg = ET.Element(f"{{{M}}}{operation}ResponseMessage", {"ResponseClass": "Error"})
    ET.SubElement(msg, f"{{{M}}}MessageText").text = text
    ET.SubElement(msg, f"{{{M}}}ResponseCode").text = code
    ET.SubElement(msg, f"{{{M}}}DescriptiveLinkKey").text = "0"
    if operation == "CreateItem":
        ET.SubElement(msg, f"{{{M}}}Items")
    return msg


def _envelope(operation: str, messages: list[ET.Element]) -> bytes:
    env = ET.Element(f"{{{SOAP}}}Envelope")
    header = ET.SubElement(env, f"{{{SOAP}}}Header")
    ET.SubElement(
        header,
        f"{{{T}}}ServerVersionInfo",
        {"MajorVersion": "15", "MinorVersion": "1", "MajorBuildNumber": "2507"},
        MinorBuildNumber="6",
        Version="V2017_07_11",
    )
    body = ET.SubElement(env, f"{{{SOAP}}}Body")
    answer = ET.SubElement(body, f"{{{M}}}{operation}Response")
    ET.SubElement(answer, f"{{{M}}}ResponseMessages").extend(messages)
    return ET.tostring(env, xml_declaration=True, encoding="utf-8")


class EwsProxy:
    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.path = parts.path
        self.lock = threading.Lock()
        self.next: list[list] = []  # [operation, code, text, count]
        self.items: dict[str, list] = {}  # item id -> [code, text, times]
        #: items each write request asked for, in order: (operation, number of items)
        self.writes: list[tuple[str, int]] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}{self.path}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def refuse_next(self, operation: str, code: str, text: str, count: int = 1) -> None:
        with self.lock:
            self.next.append([operation, code, text, count])

    def refuse_item(self, item_id: str, code: str, text: str, times: int = 10**9) -> None:
        with self.lock:
            self.items[item_id] = [code, text, times]

    def _refusals(self, operation: str, children: list[ET.Element]) -> dict[int, tuple]:
        """Which items of this request are refused (index -> (code, text)); counts spent."""
        refused: dict[int, tuple] = {}
        with self.lock:
            for entry in self.next:
                if entry[0] == operation and children:
                    refused[0] = (entry[1], entry[2])
                    entry[3] -= 1
                    if entry[3] <= 0:
                        self.next.remove(entry)
                    break
            if operation != "CreateItem":
                for index, child in enumerate(children):
                    rule = self.items.get(_item_id(child))
                    if rule is not None and index not in refused:
                        refused[index] = (rule[0], rule[1])
                        rule[2] -= 1
                        if rule[2] <= 0:
                            del self.items[_item_id(child)]
        return refused

    def rewrite(self, body: bytes) -> tuple[bytes, str, dict[int, tuple]]:
        """The request to forward (refused items taken out), its operation, the refusals."""
        try:
            env = ET.fromstring(body)
        except ET.ParseError:
            return body, "", {}
        soap_body = env.find(f"{{{SOAP}}}Body")
        request = soap_body[0] if soap_body is not None and len(soap_body) else None
        operation = request.tag.split("}")[1] if request is not None else ""
        if operation not in CONTAINER:
            return body, operation, {}
        container = request.find(f"{{{M}}}{CONTAINER[operation]}")
        children = list(container) if container is not None else []
        with self.lock:
            self.writes.append((operation, len(children)))
        refused = self._refusals(operation, children)
        for index in sorted(refused, reverse=True):
            container.remove(children[index])
        if not refused:
            return body, operation, {}
        return ET.tostring(env, encoding="utf-8"), operation, refused

    def splice(self, operation: str, answer: bytes | None, refused: dict[int, tuple]) -> bytes:
        errors = {i: _error(operation, code, text) for i, (code, text) in refused.items()}
        if answer is None:
            return _envelope(operation, [errors[i] for i in sorted(errors)])
        env = ET.fromstring(answer)
        messages = env.find(f".//{{{M}}}ResponseMessages")
        if messages is None:
            return answer
        for index in sorted(errors):
            messages.insert(index, errors[index])
        return ET.tostring(env, xml_declaration=True, encoding="utf-8")


def _handler(proxy: EwsProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            return

        def do_POST(self) -> None:  # noqa: N802 - stdlib naming
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            forwarded, operation, refused = proxy.rewrite(body)
            everything = refused and len(refused) == _count(body, operation)
            if everything:
                status, headers, answer = 200, [("Content-Type", "text/xml")], None
            else:
                status, headers, answer = self._forward(forwarded)
            if refused and status == 200:
                answer = proxy.splice(operation, answer, refused)
            self.send_response(status)
            for name, value in headers:
                if name.lower() not in HOP:
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(answer or b"")))
            self.end_headers()
            self.wfile.write(answer or b"")

        def _forward(self, body: bytes) -> tuple[int, list, bytes]:
            conn = http.client.HTTPConnection(*proxy.upstream, timeout=30)
            try:
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP}
                conn.request("POST", self.path, body, headers)
                reply = conn.getresponse()
                return reply.status, reply.getheaders(), reply.read()
            finally:
                conn.close()

    return Handler


def _count(body: bytes, operation: str) -> int:
    env = ET.fromstring(body)
    container = env.find(f".//{{{M}}}{CONTAINER[operation]}")
    return 0 if container is None else len(container)
