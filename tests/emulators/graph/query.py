"""The OData query options the events endpoints take: $filter, $expand, $select, $top, $skip."""

from __future__ import annotations

import re
from typing import Any

from .errors import GraphError
from .store import Stored

ANY_FILTER = re.compile(
    r"^\s*singleValueExtendedProperties/any\(\s*(\w+)\s*:\s*(.*)\)\s*$", re.IGNORECASE | re.DOTALL
)
EXPAND = re.compile(
    r"^\s*singleValueExtendedProperties\s*\(\s*\$filter\s*=\s*(.*)\)\s*$",
    re.IGNORECASE | re.DOTALL,
)
LITERAL = r"'((?:[^']|'')*)'"


def unquote(text: str) -> str:
    return text.replace("''", "'")


def bad_query(message: str) -> GraphError:
    return GraphError(400, "ErrorInvalidUrlQuery", message)


def ext_filter(expression: str) -> tuple[str, str | None]:
    """singleValueExtendedProperties/Any(ep: ep/id eq 'X' and ep/value eq 'Y') -> (X, Y)."""
    match = ANY_FILTER.match(expression)
    if not match:
        raise GraphError(
            400,
            "ErrorInvalidUrlQueryFilter",
            f"The $filter '{expression}' is not supported on this collection.",
        )
    var = re.escape(match.group(1))
    inner = match.group(2).strip()
    full = re.fullmatch(
        rf"{var}/id\s+eq\s+{LITERAL}(?:\s+and\s+{var}/value\s+eq\s+{LITERAL})?",
        inner,
        re.IGNORECASE,
    )
    if not full:
        raise GraphError(
            400, "ErrorInvalidUrlQueryFilter", f"The lambda expression '{inner}' is not supported."
        )
    value = full.group(2)
    return unquote(full.group(1)), None if value is None else unquote(value)


def matches(stored: Stored, wanted: tuple[str, str | None]) -> bool:
    found = stored.ext.get(wanted[0].lower())
    return found is not None and (wanted[1] is None or found[1] == wanted[1])


def expand_ids(expression: str | None) -> set[str] | None:
    """$expand=singleValueExtendedProperties($filter=id eq 'X' [or id eq 'Y']) -> {x, y}."""
    if expression is None:
        return None
    match = EXPAND.match(expression)
    if not match:
        raise bad_query(
            f"The $expand '{expression}' is not supported; extended properties are expanded with "
            "singleValueExtendedProperties($filter=id eq '...')."
        )
    clauses = re.split(r"\s+or\s+", match.group(1).strip(), flags=re.IGNORECASE)
    ids = set()
    for clause in clauses:
        one = re.fullmatch(rf"id\s+eq\s+{LITERAL}", clause.strip(), re.IGNORECASE)
        if not one:
            raise bad_query(f"The extended property filter '{clause}' is not supported.")
        ids.add(unquote(one.group(1)).lower())
    return ids


def select(item: dict[str, Any], expression: str | None) -> dict[str, Any]:
    if not expression:
        return item
    keep = {s.strip() for s in expression.split(",")} | {"id", "@odata.etag"}
    keep |= {"singleValueExtendedProperties"}
    return {k: v for k, v in item.items() if k in keep}


def page_size(query: dict[str, str], prefer: dict[str, str], default: int = 10) -> int:
    raw = query.get("$top") or prefer.get("odata.maxpagesize")
    if raw is None:
        return default
    try:
        size = int(raw)
    except ValueError:
        raise bad_query(f"Invalid page size '{raw}'.") from None
    if not 1 <= size <= 1000:
        raise bad_query(f"Page size {size} is outside 1..1000.")
    return size


def only(query: dict[str, str], allowed: set[str]) -> None:
    for key in query:
        if key.startswith("$") and key.lower() not in allowed:
            raise bad_query(f"The query parameter '{key}' is not supported here.")


ORDERABLE = {
    "start/datetime": lambda e: e["start"]["dateTime"],
    "end/datetime": lambda e: e["end"]["dateTime"],
    "createddatetime": lambda e: e["createdDateTime"],
    "lastmodifieddatetime": lambda e: e["lastModifiedDateTime"],
    "subject": lambda e: e.get("subject") or "",
}


def order(items: list[dict[str, Any]], expression: str | None) -> list[dict[str, Any]]:
    """$orderby over one property (asc/desc); 400 for a property it cannot sort by."""
    if not expression:
        return items
    parts = expression.strip().split()
    name = parts[0].lower()
    direction = parts[1].lower() if len(parts) > 1 else "asc"
    if name not in ORDERABLE or direction not in ("asc", "desc") or len(parts) > 2:
        raise bad_query(f"The $orderby '{expression}' is not supported.")
    return sorted(items, key=ORDERABLE[name], reverse=direction == "desc")
