"""Hypothesis strategies for WebDAV/CalDAV XML bodies: PROPFIND, PROPPATCH, REPORT
(calendar-query, calendar-multiget, sync-collection, free-busy-query, expand) and
MKCALENDAR, with odd namespaces, deep nesting, DTDs and entities, bad sync tokens and huge
time ranges."""

from __future__ import annotations

from xml.sax.saxutils import escape

from hypothesis import strategies as st

from tests.fuzz.ical_cases import Body, odd_text

DAV, CALDAV, CS = "DAV:", "urn:ietf:params:xml:ns:caldav", "http://calendarserver.org/ns/"
SYNC_PREFIX = "http://crm-bridge.invalid/ns/sync/"

PROPS = [
    (DAV, "getetag"),
    (DAV, "displayname"),
    (DAV, "resourcetype"),
    (DAV, "getcontenttype"),
    (DAV, "current-user-principal"),
    (DAV, "sync-token"),
    (DAV, "owner"),
    (DAV, "current-user-privilege-set"),
    (DAV, "supported-report-set"),
    (CALDAV, "calendar-home-set"),
    (CALDAV, "supported-calendar-component-set"),
    (CALDAV, "calendar-description"),
    (CALDAV, "calendar-data"),
    (CS, "getctag"),
    ("urn:x-fuzz:unknown", "thing"),
    ("", "nonamespace"),
]
TIMES = [
    "20261101T000000Z",
    "20261201T000000Z",
    "00010101T000000Z",
    "99991231T235959Z",
    "20261301T000000Z",
    "2026-12-01",
    "",
    "20270101T000000",
]


@st.composite
def ns_prefixes(draw: st.DrawFn) -> dict[str, str]:
    """Namespace prefixes: the usual ones, odd ones, or a default namespace."""
    names = draw(
        st.sampled_from(
            [
                {DAV: "D", CALDAV: "C", CS: "CS"},
                {DAV: "d", CALDAV: "cal", CS: "x"},
                {DAV: "ä", CALDAV: "C", CS: "D"},
                {DAV: "", CALDAV: "C", CS: "CS"},
            ]
        )
    )
    return dict(names)


def _tag(prefixes: dict[str, str], ns: str, name: str) -> str:
    prefix = prefixes.get(ns)
    return f"{prefix}:{name}" if prefix else name


def _declarations(prefixes: dict[str, str]) -> str:
    out = []
    for ns, prefix in prefixes.items():
        out.append(f'xmlns:{prefix}="{ns}"' if prefix else f'xmlns="{ns}"')
    return " ".join(out)


@st.composite
def prop_list(draw: st.DrawFn, p: dict[str, str]) -> str:
    chosen = draw(st.lists(st.sampled_from(PROPS), min_size=0, max_size=8))
    out = []
    for ns, name in chosen:
        if ns in p:
            out.append(f"<{_tag(p, ns, name)}/>")
        elif ns:
            out.append(f'<{name} xmlns="{ns}"/>')
        else:
            out.append(f'<{name} xmlns=""/>')
    return "".join(out)


@st.composite
def time_range(draw: st.DrawFn, p: dict[str, str]) -> str:
    attrs = []
    for attr in draw(st.lists(st.sampled_from(["start", "end"]), unique=True)):
        attrs.append(f'{attr}="{draw(st.sampled_from(TIMES))}"')
    return f"<{_tag(p, CALDAV, 'time-range')} {' '.join(attrs)}/>"


@st.composite
def comp_filter(draw: st.DrawFn, p: dict[str, str], depth: int = 0) -> str:
    name = draw(st.sampled_from(["VEVENT", "VTODO", "VJOURNAL", "VALARM", "X-ODD", ""]))
    inner = ""
    if draw(st.booleans()):
        inner += draw(time_range(p))
    if draw(st.integers(0, 3)) == 0:
        prop = draw(st.sampled_from(["SUMMARY", "UID", "CLASS", "LOCATION", "X-CRM-NOTES"]))
        text = escape(draw(st.one_of(st.sampled_from(["ZQX", "secret", "Busy"]), odd_text)))
        match = f"<{_tag(p, CALDAV, 'text-match')}>{text}</{_tag(p, CALDAV, 'text-match')}>"
        if draw(st.booleans()):
            match = f"<{_tag(p, CALDAV, 'is-not-defined')}/>"
        inner += (
            f'<{_tag(p, CALDAV, "prop-filter")} name="{prop}">{match}'
            f"</{_tag(p, CALDAV, 'prop-filter')}>"
        )
    if depth < 3 and draw(st.booleans()):
        inner += draw(comp_filter(p, depth + 1))
    tag = _tag(p, CALDAV, "comp-filter")
    return f'<{tag} name="{name}">{inner}</{tag}>'


@st.composite
def calendar_data(draw: st.DrawFn, p: dict[str, str]) -> str:
    tag = _tag(p, CALDAV, "calendar-data")
    choice = draw(st.sampled_from(["plain", "expand", "limit", "comp"]))
    if choice == "plain":
        return f"<{tag}/>"
    if choice == "expand":
        rng = draw(time_range(p)).replace("time-range", "expand")
        return f"<{tag}>{rng}</{tag}>"
    if choice == "limit":
        rng = draw(time_range(p)).replace("time-range", "limit-recurrence-set")
        return f"<{tag}>{rng}</{tag}>"
    comp = _tag(p, CALDAV, "comp")
    return (
        f'<{tag}><{comp} name="VCALENDAR"><{comp} name="VEVENT">'
        f'<{_tag(p, CALDAV, "prop")} name="SUMMARY"/></{comp}></{comp}></{tag}>'
    )


def _doc(p: dict[str, str], ns: str, root: str, inner: str) -> str:
    tag = _tag(p, ns, root)
    return f'<?xml version="1.0" encoding="utf-8"?><{tag} {_declarations(p)}>{inner}</{tag}>'


@st.composite
def propfind(draw: st.DrawFn) -> Body:
    p = draw(ns_prefixes())
    kind = draw(st.sampled_from(["prop", "allprop", "propname", "empty"]))
    if kind == "empty":
        return Body("")
    if kind == "prop":
        inner = f"<{_tag(p, DAV, 'prop')}>{draw(prop_list(p))}</{_tag(p, DAV, 'prop')}>"
    else:
        inner = f"<{_tag(p, DAV, kind)}/>"
    return Body(_doc(p, DAV, "propfind", inner))


@st.composite
def proppatch(draw: st.DrawFn) -> Body:
    p = draw(ns_prefixes())
    known: set[str] = set()
    sets = []
    for _ in range(draw(st.integers(0, 3))):
        ns, name = draw(
            st.sampled_from(
                [
                    (DAV, "displayname"),
                    (CALDAV, "calendar-description"),
                    (DAV, "resourcetype"),
                    ("http://apple.com/ns/ical/", "calendar-color"),
                    ("urn:x-fuzz:unknown", "thing"),
                    (CALDAV, "supported-calendar-component-set"),
                ]
            )
        )
        size = draw(st.sampled_from([0, 10, 70_000]))
        if size > 60_000:
            known.add("long-value")
        if name == "resourcetype":
            known.add("proppatch-resourcetype")
        value = escape(draw(odd_text)) + "v" * size
        tag = _tag(p, ns, name) if ns in p else f'{name} xmlns="{ns}"'
        close = _tag(p, ns, name) if ns in p else name
        sets.append(f"<{tag}>{value}</{close}>")
    action = draw(st.sampled_from(["set", "remove"]))
    prop = _tag(p, DAV, "prop")
    inner = f"<{_tag(p, DAV, action)}><{prop}>{''.join(sets)}</{prop}></{_tag(p, DAV, action)}>"
    return Body(_doc(p, DAV, "propertyupdate", inner), known)


@st.composite
def sync_token(draw: st.DrawFn) -> str:
    return draw(
        st.sampled_from(
            [
                "",
                f"{SYNC_PREFIX}1-1",
                f"{SYNC_PREFIX}999999-1",
                f"{SYNC_PREFIX}1-99999999999",
                f"{SYNC_PREFIX}-1--1",
                f"{SYNC_PREFIX}x-y",
                "http://radicale.org/ns/sync/abc",
                "garbage",
                f"{SYNC_PREFIX}{'9' * 40}-{'9' * 40}",
                f"{SYNC_PREFIX}1-0",
            ]
        )
    )


@st.composite
def report(draw: st.DrawFn, hrefs: list[str]) -> Body:
    p = draw(ns_prefixes())
    kind = draw(st.sampled_from(["query", "multiget", "sync", "free-busy", "principal"]))
    props = (
        f"<{_tag(p, DAV, 'prop')}>{draw(prop_list(p))}{draw(calendar_data(p))}"
        f"</{_tag(p, DAV, 'prop')}>"
    )
    if kind == "query":
        filt = _tag(p, CALDAV, "filter")
        inner = props + f"<{filt}>{draw(comp_filter(p))}</{filt}>"
        return Body(_doc(p, CALDAV, "calendar-query", inner))
    if kind == "multiget":
        chosen = draw(st.lists(st.sampled_from(hrefs), max_size=6))
        inner = props + "".join(
            f"<{_tag(p, DAV, 'href')}>{escape(h)}</{_tag(p, DAV, 'href')}>" for h in chosen
        )
        return Body(_doc(p, CALDAV, "calendar-multiget", inner))
    if kind == "sync":
        token = (
            f"<{_tag(p, DAV, 'sync-token')}>{escape(draw(sync_token()))}"
            f"</{_tag(p, DAV, 'sync-token')}>"
        )
        level = draw(st.sampled_from(["1", "infinite", "0", ""]))
        inner = token + f"<{_tag(p, DAV, 'sync-level')}>{level}</{_tag(p, DAV, 'sync-level')}>"
        if draw(st.booleans()):
            limit = _tag(p, DAV, "limit")
            inner += (
                f"<{limit}><{_tag(p, DAV, 'nresults')}>1</{_tag(p, DAV, 'nresults')}></{limit}>"
            )
        return Body(_doc(p, DAV, "sync-collection", inner + props))
    if kind == "free-busy":
        return Body(_doc(p, CALDAV, "free-busy-query", draw(time_range(p))))
    return Body(_doc(p, DAV, "principal-property-search", props))


@st.composite
def mkcalendar(draw: st.DrawFn) -> Body:
    p = draw(ns_prefixes())
    if draw(st.integers(0, 3)) == 0:
        return Body("")
    comps = draw(
        st.lists(st.sampled_from(["VEVENT", "VTODO", "VJOURNAL", "X-BAD"]), max_size=3, unique=True)
    )
    comp = _tag(p, CALDAV, "comp")
    set_ = _tag(p, CALDAV, "supported-calendar-component-set")
    inner = "".join(f'<{comp} name="{c}"/>' for c in comps)
    name = escape(draw(odd_text))
    prop = _tag(p, DAV, "prop")
    body = (
        f"<{prop}><{_tag(p, DAV, 'displayname')}>{name}</{_tag(p, DAV, 'displayname')}>"
        f"<{set_}>{inner}</{set_}></{prop}>"
    )
    setter = _tag(p, DAV, "set")
    return Body(_doc(p, CALDAV, "mkcalendar", f"<{setter}>{body}</{setter}>"))


@st.composite
def hostile(draw: st.DrawFn) -> Body:
    """XML that attacks the parser: DTDs, entities, deep nesting, junk."""
    kind = draw(st.sampled_from(["dtd", "entity", "deep", "moderate", "junk", "unclosed"]))
    if kind == "dtd":
        return Body(
            '<?xml version="1.0"?><!DOCTYPE D:propfind SYSTEM "http://x.invalid/d">'
            '<D:propfind xmlns:D="DAV:"><D:allprop/></D:propfind>',
            {"xml-dtd"},
        )
    if kind == "entity":
        lol = '<!ENTITY a "aaaaaaaaaa">' + "".join(
            f'<!ENTITY {c} "{("&" + p + ";") * 10}">' for p, c in zip("abcde", "bcdef", strict=True)
        )
        return Body(
            f'<?xml version="1.0"?><!DOCTYPE x [{lol}]>'
            '<D:propfind xmlns:D="DAV:"><D:prop><D:displayname>&f;</D:displayname>'
            "</D:prop></D:propfind>",
            {"xml-dtd"},
        )
    if kind in ("deep", "moderate"):
        depth = (
            draw(st.sampled_from([50_000, 200_000]))
            if kind == "deep"
            else draw(st.integers(5, 200))
        )
        body = (
            '<D:propfind xmlns:D="DAV:"><D:prop>'
            + "<D:x>" * depth
            + "</D:x>" * depth
            + "</D:prop></D:propfind>"
        )
        return Body(body, {"xml-deep"} if depth > 1000 else set())
    if kind == "junk":
        return Body(draw(st.binary(max_size=200)))
    return Body('<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><D:getetag/>')
