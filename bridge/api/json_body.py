"""Reading a JSON request body safely: what ``json.loads`` lets through or raises beyond
``JSONDecodeError`` on hostile input, turned into one ``ValueError`` naming the problem.

- nesting deeper than ``MAX_DEPTH`` (the C decoder raises RecursionError near 1,000
  levels; a handler walking a deep body could meet it later);
- integers longer than Python's limit on digits (``ValueError`` from ``int()``) and
  numbers that overflow a float (``1e999`` becomes ``inf``, which JSON cannot send back);
- ``\\ud800``-style escapes of lone UTF-16 surrogates: valid JSON, but not characters,
  so no UTF-8 text (our store, iCalendar, a calendar service) can hold them.
"""

from __future__ import annotations

import json
import math
from typing import Any

MAX_DEPTH = 64


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not a JSON number")


def _float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"the number {text[:40]} is too large")
    return value


def _check(value: Any, depth: int) -> None:
    """Depth and text of every value, without recursion (a hostile body is not trusted
    to be shallow)."""
    stack = [(value, depth)]
    while stack:
        item, level = stack.pop()
        if level > MAX_DEPTH:
            raise ValueError(f"nested deeper than {MAX_DEPTH} levels")
        if isinstance(item, str):
            _text(item)
        elif isinstance(item, dict):
            for key, inner in item.items():
                _text(key)
                stack.append((inner, level + 1))
        elif isinstance(item, list):
            stack.extend((inner, level + 1) for inner in item)


def _text(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("a string holds a lone UTF-16 surrogate (\\ud800-\\udfff)") from None


def loads(raw: bytes) -> Any:
    """The JSON value of ``raw`` (UTF-8); ``ValueError`` saying what is wrong otherwise."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as problem:
        raise ValueError(f"not UTF-8: {problem.reason} at byte {problem.start}") from None
    try:
        value = json.loads(text, parse_float=_float, parse_constant=_refuse_constant)
    except RecursionError:
        raise ValueError(f"nested deeper than {MAX_DEPTH} levels") from None
    except json.JSONDecodeError as problem:
        raise ValueError(str(problem)) from None
    except ValueError as problem:  # too many digits, an overflowing float, NaN
        raise ValueError(str(problem).split(";")[0]) from None
    _check(value, 0)
    return value
