"""SOAP 1.1 envelopes, EWS namespaces, response messages and faults (the wire shapes only)."""

from __future__ import annotations

from xml.etree import ElementTree as ET

from defusedxml import ElementTree as SafeET

SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
M = "http://schemas.microsoft.com/exchange/services/2006/messages"
T = "http://schemas.microsoft.com/exchange/services/2006/types"
E = "http://schemas.microsoft.com/exchange/services/2006/errors"

for _prefix, _uri in (("s", SOAP), ("m", M), ("t", T), ("e", E)):
    ET.register_namespace(_prefix, _uri)

# RequestServerVersion values an Exchange 2016 server accepts (ExchangeVersionType).
ACCEPTED_VERSIONS = (
    "Exchange2007",
    "Exchange2007_SP1",
    "Exchange2010",
    "Exchange2010_SP1",
    "Exchange2010_SP2",
    "Exchange2013",
    "Exchange2013_SP1",
    "Exchange2015",
    "Exchange2016",
)
# Exchange Server 2016 CU23 build numbers.
SERVER_BUILD = {
    "MajorVersion": "15",
    "MinorVersion": "1",
    "MajorBuildNumber": "2507",
    "MinorBuildNumber": "6",
}


def m(tag: str) -> str:
    return f"{{{M}}}{tag}"


def t(tag: str) -> str:
    return f"{{{T}}}{tag}"


class SoapFault(Exception):
    """An EWS error sent as a SOAP fault (HTTP 500): ErrorServerBusy, a denied impersonation."""

    def __init__(self, code: str, message: str, back_off_ms: int | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.back_off_ms = back_off_ms


class EwsError(Exception):
    """An error for one response message: ResponseClass="Error" with this ResponseCode."""

    def __init__(self, code: str, message: str = "") -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message or code


class BadRequest(Exception):
    """The request is not valid EWS: a schema-validation fault (ErrorSchemaValidation)."""


def parse(body: bytes) -> ET.Element:
    try:
        return SafeET.fromstring(body)
    except (ET.ParseError, SafeET.DefusedXmlException) as exc:  # type: ignore[attr-defined]
        raise BadRequest(f"request is not well-formed XML: {exc}") from exc


def envelope(version: str, body_child: ET.Element | None) -> bytes:
    root = ET.Element(f"{{{SOAP}}}Envelope")
    header = ET.SubElement(root, f"{{{SOAP}}}Header")
    info = ET.SubElement(header, t("ServerVersionInfo"), dict(SERVER_BUILD))
    info.set("Version", version)
    body = ET.SubElement(root, f"{{{SOAP}}}Body")
    if body_child is not None:
        body.append(body_child)
    return b'<?xml version="1.0" encoding="utf-8"?>' + ET.tostring(root)


def fault_envelope(fault: SoapFault | BadRequest, version: str | None) -> bytes:
    """The SOAP fault as Exchange sends it: faultcode, faultstring and a detail holding
    e:ResponseCode, e:Message and (for throttling)
    t:MessageXml/t:Value Name="BackOffMilliseconds"."""
    if isinstance(fault, BadRequest):
        code, message, back_off = "ErrorSchemaValidation", str(fault), None
    else:
        code, message, back_off = fault.code, fault.message, fault.back_off_ms
    root = ET.Element(f"{{{SOAP}}}Envelope")
    if version is not None:
        header = ET.SubElement(root, f"{{{SOAP}}}Header")
        info = ET.SubElement(header, t("ServerVersionInfo"), dict(SERVER_BUILD))
        info.set("Version", version)
    body = ET.SubElement(root, f"{{{SOAP}}}Body")
    elem = ET.SubElement(body, f"{{{SOAP}}}Fault")
    faultcode = ET.SubElement(elem, "faultcode")
    faultcode.text = "a:" + code if code != "ErrorSchemaValidation" else "s:Client"
    ET.SubElement(elem, "faultstring").text = message
    detail = ET.SubElement(elem, "detail")
    ET.SubElement(detail, f"{{{E}}}ResponseCode").text = code
    ET.SubElement(detail, f"{{{E}}}Message").text = message
    if back_off is not None:
        xml = ET.SubElement(detail, t("MessageXml"))
        ET.SubElement(xml, t("Value"), {"Name": "BackOffMilliseconds"}).text = str(back_off)
    text = ET.tostring(root).decode()
    # faultcode's QName prefix "a" must be bound to the types namespace.
    text = text.replace("<faultcode>a:", f'<faultcode xmlns:a="{T}">a:', 1)
    return b'<?xml version="1.0" encoding="utf-8"?>' + text.encode()


def response_message(
    operation: str, error: EwsError | None = None, warning: EwsError | None = None
) -> ET.Element:
    """<m:{operation}ResponseMessage ResponseClass=...> with its ResponseCode (and MessageText)."""
    problem = error or warning
    cls = "Error" if error else ("Warning" if warning else "Success")
    msg = ET.Element(m(f"{operation}ResponseMessage"), {"ResponseClass": cls})
    if problem is not None:
        ET.SubElement(msg, m("MessageText")).text = problem.message
    ET.SubElement(msg, m("ResponseCode")).text = problem.code if problem else "NoError"
    if problem is not None:
        ET.SubElement(msg, m("DescriptiveLinkKey")).text = "0"
    return msg


def response(operation: str, messages: list[ET.Element]) -> ET.Element:
    root = ET.Element(m(f"{operation}Response"))
    container = ET.SubElement(root, m("ResponseMessages"))
    container.extend(messages)
    return root


def text_of(elem: ET.Element | None, tag: str, default: str | None = None) -> str | None:
    if elem is None:
        return default
    child = elem.find(tag)
    if child is None or child.text is None:
        return default
    return child.text.strip()
