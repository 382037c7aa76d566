"""The size limits of the store: declared once, used by the schema and checked before SQL.

String columns hold at most N characters (VARCHAR(N) on MySQL/MariaDB counts
characters); text columns hold at most 64 KiB (TEXT) or 16 MiB (MEDIUMTEXT) of UTF-8 on
MySQL/MariaDB. SQLite stores anything, so without a check the same write would succeed
on SQLite and fail with a database error on MariaDB. ``check`` reads each column's
limit from the table itself, as the MySQL dialect would create it, and refuses a value
that does not fit with a ``TooLong`` (a 4xx) naming the field and the limit, on every
backend alike.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import cache

from sqlalchemy import Column, String, Table, Text
from sqlalchemy.dialects import mysql

from bridge.store.errors import StoreError

LOGIN = 64  # bridge.config accepts logins of up to 64 characters
ORIGIN = 128  # who wrote a change: "caldav:<login>", "binding:<id>", "config", ...
UID = 255
HREF = 255
PATH = 512  # a collection path: "<login>/<name>/..."
EMAIL = 320
NAME = 255
ACTIVITY_TYPE = 64
TIMEZONE = 64
ETAG = 80
# A WebDAV property (PROPPATCH, MKCALENDAR): Radicale sends D:displayname back in HTTP
# headers (Content-Disposition of a collection GET), where clients refuse lines past 64 KiB.
DISPLAYNAME = 1_024
PROPERTY_NAME = 1_024
PROPERTY_VALUE = 16_384  # a VTIMEZONE in C:calendar-timezone fits many times over
TEXT_BYTES = 65_535  # MySQL TEXT
LONG_TEXT_BYTES = 16_777_215  # MySQL MEDIUMTEXT

# How refusals name a column (else "<table>.<column>").
LABELS = {
    ("items", "href"): "href (the object's name in its calendar)",
    ("items", "uid"): "UID",
    ("meetings", "href"): "href (the object's name in its calendar)",
    ("meetings", "uid"): "UID",
    ("meetings", "activity_type"): "activity type (X-CRM-ACTIVITY-TYPE)",
    ("meetings", "exdates"): "EXDATE list",
    ("meetings", "rdates"): "RDATE list",
    ("meetings", "subject"): "SUMMARY",
    ("meetings", "location"): "LOCATION",
    ("meetings", "description"): "DESCRIPTION",
    ("participants", "ref"): "attendee e-mail address or CRM reference",
    ("participants", "name"): "attendee name (CN)",
    ("participants", "partstat"): "attendee PARTSTAT",
    ("collections", "path"): "collection path",
    ("collections", "props"): "collection properties",
    ("changes", "origin"): "writer (origin)",
}

_MYSQL = mysql.dialect()


class TooLong(StoreError):
    """A value longer than its column allows: refused before the database sees it."""


@cache
def _limit(column: Column) -> tuple[int, str] | None:
    """(limit, unit) for a column: characters for strings, UTF-8 bytes for texts."""
    kind = column.type.dialect_impl(_MYSQL)
    if isinstance(kind, mysql.MEDIUMTEXT):
        return LONG_TEXT_BYTES, "bytes"
    if isinstance(kind, mysql.LONGTEXT):
        return None
    if isinstance(kind, Text):
        return TEXT_BYTES, "bytes"
    if isinstance(kind, String) and kind.length:
        return kind.length, "characters"
    return None


def check(table: Table, values: Mapping[str, object]) -> None:
    """Refuse, naming the field, the first value of ``values`` too long for its column."""
    for key, value in values.items():
        if not isinstance(value, str) or key not in table.c:
            continue
        found = _limit(table.c[key])
        if found is None:
            continue
        limit, unit = found
        size = len(value) if unit == "characters" else len(value.encode("utf-8"))
        if size > limit:
            label = LABELS.get((table.name, key), f"{table.name}.{key}")
            raise TooLong(f"{label} is too long: {size} {unit}, the limit is {limit} {unit}")


def check_all(table: Table, rows: Iterable[Mapping[str, object]]) -> None:
    for row in rows:
        check(table, row)


def check_props(props: Mapping[str, str]) -> None:
    """Refuse a collection property too long to store or to send back (characters)."""
    for name, value in props.items():
        if len(name) > PROPERTY_NAME:
            raise TooLong(
                f"property name {name[:40]!r}... is too long: {len(name)} characters, "
                f"the limit is {PROPERTY_NAME}"
            )
        limit = DISPLAYNAME if name == "D:displayname" else PROPERTY_VALUE
        if isinstance(value, str) and len(value) > limit:
            raise TooLong(
                f"property {name} is too long: {len(value)} characters, the limit is {limit}"
            )
