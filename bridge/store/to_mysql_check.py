"""Checking a moved store: every table's rows, byte for byte, on both sides.

Each table is read from both databases in primary-key order and every row is put in one
canonical form (integers, doubles by their exact bits, texts as UTF-8, NULL apart from
everything else); per table the row counts and a SHA-256 over those rows must agree, and
the first row that differs is named with the columns that differ. A meeting's iCalendar
text is one of those columns, so an equal meetings table means every text is identical.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import zip_longest

from sqlalchemy import Column, Engine, Float, Integer, Table, func, select

from bridge.store.schema import metadata


@dataclass(frozen=True)
class TableCheck:
    table: str
    source_rows: int
    target_rows: int
    source_sum: str
    target_sum: str
    problem: str = ""

    @property
    def ok(self) -> bool:
        return not self.problem


def _value(column: Column, value: object) -> bytes:
    if value is None:
        return b"N"
    if isinstance(column.type, Float):
        return b"f" + float(value).hex().encode()  # type: ignore[arg-type]
    if isinstance(value, bool | int):
        return b"i" + str(int(value)).encode()
    if isinstance(value, str):
        data = value.encode("utf-8")
        return b"s" + str(len(data)).encode() + b":" + data
    if isinstance(value, bytes):
        return b"b" + str(len(value)).encode() + b":" + value
    return b"r" + repr(value).encode()


def _canonical(table: Table, row: tuple) -> bytes:
    parts = [_value(column, value) for column, value in zip(table.columns, row, strict=True)]
    return b"\x1f".join(parts) + b"\x1e"


def _rows(engine: Engine, table: Table) -> Iterator[tuple]:
    keys = list(table.primary_key.columns)
    by_number = all(isinstance(key.type, Integer) for key in keys)
    query = select(*table.columns)
    with engine.connect() as conn:
        if by_number:
            result = conn.execution_options(stream_results=True, yield_per=2000).execute(
                query.order_by(*keys)
            )
            for row in result:
                yield tuple(row)
        else:  # text keys: the databases' collations may order them differently
            positions = [list(table.columns).index(key) for key in keys]
            rows = [tuple(row) for row in conn.execute(query)]
            yield from sorted(rows, key=lambda row: [row[p] for p in positions])


def _count(engine: Engine, table: Table) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


def _difference(table: Table, left: tuple | None, right: tuple | None) -> str:
    keys = [list(table.columns).index(key) for key in table.primary_key.columns]
    if left is None or right is None:
        present = left if right is None else right
        side = "only in the SQLite store" if right is None else "only in the target"
        return f"row {[present[k] for k in keys]} is {side}"
    columns = [
        column.name
        for column, a, b in zip(table.columns, left, right, strict=True)
        if _value(column, a) != _value(column, b)
    ]
    where = [left[k] for k in keys]
    if [right[k] for k in keys] != where:
        return f"rows differ from key {where} on (SQLite) / {[right[k] for k in keys]} (target)"
    return f"row {where} differs in {', '.join(columns)}"


def check_table(source: Engine, target: Engine, table: Table) -> TableCheck:
    source_rows, target_rows = _count(source, table), _count(target, table)
    left_sum, right_sum = hashlib.sha256(), hashlib.sha256()
    problem = ""
    for left, right in zip_longest(_rows(source, table), _rows(target, table)):
        left_bytes = _canonical(table, left) if left is not None else b""
        right_bytes = _canonical(table, right) if right is not None else b""
        left_sum.update(left_bytes)
        right_sum.update(right_bytes)
        if not problem and left_bytes != right_bytes:
            problem = _difference(table, left, right)
    if source_rows != target_rows:
        problem = f"{source_rows} row(s) in the SQLite store, {target_rows} in the target" + (
            f"; first: {problem}" if problem else ""
        )
    return TableCheck(
        table.name,
        source_rows,
        target_rows,
        left_sum.hexdigest(),
        right_sum.hexdigest(),
        problem,
    )


def check_all(source: Engine, target: Engine) -> list[TableCheck]:
    """One check per store table, in dependency order."""
    return [check_table(source, target, table) for table in metadata.sorted_tables]
