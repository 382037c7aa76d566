"""bridge.api.bad_requests: what aiohttp's parser refuses is logged as one short warning,
repeats of a reason held back for a minute; a handler's real error keeps its traceback."""

from __future__ import annotations

import logging

from aiohttp.http_exceptions import BadHttpMessage, LineTooLong

from bridge.api.bad_requests import MalformedRequests
from bridge.api.log_limit import LogLimiter


def record(error: BaseException | None) -> logging.LogRecord:
    info = (type(error), error, None) if error else None
    return logging.LogRecord(
        "aiohttp.server", logging.ERROR, __file__, 1, "Error handling request from %s",
        ("10.0.0.9",), info,
    )  # fmt: skip


def test_a_malformed_request_is_one_warning_and_repeats_are_held_back():
    now = [0.0]
    malformed = MalformedRequests(LogLimiter(60.0, clock=lambda: now[0]))
    first = record(BadHttpMessage("Too many headers received"))
    assert malformed.filter(first)
    assert first.levelno == logging.WARNING and first.exc_info is None
    assert first.getMessage() == (
        "refused a malformed HTTP request from 10.0.0.9 (400): Too many headers received"
    )
    assert not malformed.filter(record(BadHttpMessage("Too many headers received")))
    other = record(LineTooLong("v" * 500, "8190"))
    assert malformed.filter(other) and "Got more than 8190 bytes" in other.getMessage()
    now[0] = 61.0
    again = record(BadHttpMessage("Too many headers received"))
    assert malformed.filter(again)
    assert again.getMessage().endswith("(1 more since the last report)")


def test_other_records_pass_untouched():
    malformed = MalformedRequests()
    handler_error = record(RuntimeError("a bug"))
    assert malformed.filter(handler_error) and handler_error.levelno == logging.ERROR
    assert handler_error.exc_info is not None
    plain = record(None)
    assert malformed.filter(plain) and plain.getMessage() == "Error handling request from 10.0.0.9"
