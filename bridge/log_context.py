"""What a log line is about: the binding, the sync round and the CalDAV request being
worked on, kept in context variables (one value per thread or task) and added to every
record by ``ContextFilter`` (bridge.log_setup installs it)."""

from __future__ import annotations

import contextlib
import contextvars
import logging
import uuid
from collections.abc import Iterator

BINDING: contextvars.ContextVar[str] = contextvars.ContextVar("bridge_binding", default="")
ROUND: contextvars.ContextVar[str] = contextvars.ContextVar("bridge_round", default="")
REQUEST: contextvars.ContextVar[str] = contextvars.ContextVar("bridge_request", default="")


def new_id() -> str:
    return uuid.uuid4().hex[:16]


@contextlib.contextmanager
def sync_round(binding: str) -> Iterator[str]:
    """Within the block, records name ``binding`` and a new round id (returned)."""
    round_id = new_id()
    tokens = (BINDING.set(binding), ROUND.set(round_id))
    try:
        yield round_id
    finally:
        ROUND.reset(tokens[1])
        BINDING.reset(tokens[0])


@contextlib.contextmanager
def request(request_id: str) -> Iterator[None]:
    token = REQUEST.set(request_id)
    try:
        yield
    finally:
        REQUEST.reset(token)


class ContextFilter(logging.Filter):
    """Adds ``binding``, ``round`` and ``request_id`` to every record it sees."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.binding = BINDING.get()
        record.round = ROUND.get()
        record.request_id = REQUEST.get()
        return True
