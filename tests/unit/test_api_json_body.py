"""bridge.api.json_body.loads: hostile JSON that ``json.loads`` lets through or raises
beyond JSONDecodeError (each of these answered 500 before, found by the API fuzz
campaign) is one ValueError naming the problem."""

from __future__ import annotations

import pytest

from bridge.api.json_body import MAX_DEPTH, loads


def test_plain_json_reads():
    assert loads(b'{"a": [1, 2.5, "\\u00e9", null, true]}') == {"a": [1, 2.5, "é", None, True]}
    assert loads("😀".join(['"', '"']).encode()) == "😀"
    assert loads(b"[" * MAX_DEPTH + b"]" * MAX_DEPTH) is not None


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        (b"9" * 5000, "Exceeds the limit (4300 digits)"),
        (b'{"n": 1e999}', "the number 1e999 is too large"),
        (b'{"n": NaN}', "NaN is not a JSON number"),
        (b"[Infinity]", "Infinity is not a JSON number"),
        (b'{"s": "\\ud800"}', "lone UTF-16 surrogate"),
        (b'{"\\udfff": 1}', "lone UTF-16 surrogate"),
        (b"[" * 100_000, "nested deeper than 64 levels"),
        (b"[" * (MAX_DEPTH + 2) + b"]" * (MAX_DEPTH + 2), "nested deeper than 64 levels"),
        (b'{"a": "\xff"}', "not UTF-8: invalid start byte at byte 7"),
        (b"{", "Expecting property name"),
    ],
)
def test_hostile_json_is_one_value_error(raw, problem):
    with pytest.raises(ValueError) as info:
        loads(raw)
    assert problem in str(info.value)
    assert "sys.set_int_max_str_digits" not in str(info.value)
