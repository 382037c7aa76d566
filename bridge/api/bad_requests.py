"""Malformed HTTP requests in the log: one short warning, at most one a minute per kind.

aiohttp's HTTP parser refuses a request it cannot read (a header line over 8190 bytes,
too many headers, a Content-Length no integer holds, a broken request line) with a 400
before any route runs, and logs each at ERROR with a traceback on ``aiohttp.server``. A
client sending those could fill the log; an operator gains nothing from the traceback.
``install()`` adds a filter to that logger that turns such a record into one WARNING line
naming the peer and the parser's reason, and holds back repeats of the same reason for a
minute (bridge.api.log_limit; the next line says how many). Other records of the logger
(a real error in a handler) pass untouched.
"""

from __future__ import annotations

import logging

from aiohttp.http_exceptions import HttpProcessingError

from bridge.api.log_limit import LogLimiter

LOGGER = "aiohttp.server"


class MalformedRequests(logging.Filter):
    def __init__(self, limiter: LogLimiter | None = None) -> None:
        super().__init__()
        self.limiter = limiter or LogLimiter(60.0)

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if not isinstance(error, HttpProcessingError) or not 400 <= (error.code or 0) < 500:
            return True
        reason = " ".join(str(error.message).split())[:200]
        held = self.limiter.allow(reason.split(":")[0])
        if held is None:
            return False
        more = f" ({held} more since the last report)" if held else ""
        peer = record.args[0] if isinstance(record.args, tuple) and record.args else "?"
        record.msg = "refused a malformed HTTP request from %s (%d): %s%s"
        record.args = (peer, error.code, reason, more)
        record.levelno, record.levelname = logging.WARNING, "WARNING"
        record.exc_info, record.exc_text = None, None
        return True


def install() -> None:
    """Once per process: the filter on aiohttp's server logger."""
    logger = logging.getLogger(LOGGER)
    if not any(isinstance(f, MalformedRequests) for f in logger.filters):
        logger.addFilter(MalformedRequests())
