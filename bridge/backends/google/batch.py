"""Bulk creates for GoogleBackend: events.insert calls sent as HTTP batch requests.

A batch of n parts is paced as n requests (Google counts each part against the quota). Parts
that answer a rate limit or a 5xx are sent again in the next batch after a back-off; a 409
means an earlier attempt created that event, which is then adopted (idempotent create).

This module knows the wire and the HTTP plumbing, not the backend: the backend hands it
how to build one insert request, how to finish a created event and how to adopt an
existing one (``Inserts``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from googleapiclient.errors import HttpError
from googleapiclient.http import BatchHttpRequest

from bridge import metrics
from bridge.backends.base import BackendError, RemoteEvent
from bridge.backends.google import wire
from bridge.backends.google.http import (
    GoogleSettings,
    RateLimiter,
    backoff,
    call,
    retryable,
    to_backend_error,
)

MAX_PARTS = 1000  # Google's limit per batch request; 50 is its recommendation

Answers = dict[int, tuple[Any, BaseException | None]]


@dataclass(frozen=True)
class Inserts:
    """What a batch of creates needs from its backend.

    ``request``: the (unsent) events.insert request for a body; ``finish``: the created
    event from the insert's answer (overrides written); ``adopt``: the event an earlier
    create made under this id, brought to the wanted content."""

    settings: GoogleSettings
    limiter: RateLimiter
    request: Callable[[dict[str, Any]], Any]
    finish: Callable[[dict[str, Any], RemoteEvent], RemoteEvent]
    adopt: Callable[[str, RemoteEvent], RemoteEvent]


def create_many(
    inserts: Inserts, events: Sequence[tuple[RemoteEvent, str]]
) -> list[RemoteEvent | BackendError]:
    """Create (event, idempotency_key) pairs, one result (event or error) per pair."""
    settings = inserts.settings
    results: list[RemoteEvent | BackendError | None] = [None] * len(events)
    size = max(1, min(settings.batch_size, MAX_PARTS))
    for first in range(0, len(events), size):
        pending = list(range(first, min(first + size, len(events))))
        attempt = 0
        while pending:
            answers = _send(inserts, events, pending)
            retry: list[int] = []
            wait = 0.0
            for index in pending:
                event, key = events[index]
                response, error = answers.get(index, (None, None))
                if isinstance(error, BackendError):  # the whole batch failed, retries spent
                    results[index] = error
                elif error is None and response is not None:
                    results[index] = _settle(lambda r=response, e=event: inserts.finish(r, e))
                elif isinstance(error, HttpError) and error.resp.status == 409:
                    results[index] = _settle(
                        lambda e=event, k=key: inserts.adopt(wire.event_id_for(k), e)
                    )
                elif error is not None and retryable(error) and attempt < settings.max_retries:
                    retry.append(index)
                    wait = max(wait, backoff(settings, attempt + 1, error))
                else:
                    results[index] = to_backend_error(
                        error or RuntimeError("no answer in the batch response"), "events.insert"
                    )
            if retry:
                metrics.REMOTE_RETRIES.labels("google").inc(len(retry))
                inserts.limiter.sleep(wait)
            attempt += 1
            pending = retry
    return [r if r is not None else BackendError("not attempted") for r in results]


def _send(
    inserts: Inserts, events: Sequence[tuple[RemoteEvent, str]], indexes: list[int]
) -> Answers:
    """One batch request (retried whole on envelope errors): answers by index."""
    settings = inserts.settings
    answers: Answers = {}

    def collect(request_id: str, response: Any, exception: BaseException | None) -> None:
        answers[int(request_id)] = (response, exception)

    def send() -> None:
        answers.clear()
        batch = BatchHttpRequest(callback=collect, batch_uri=settings.batch_uri)
        for index in indexes:
            event, key = events[index]
            body = wire.event_body(event, event_id=wire.event_id_for(key))
            batch.add(inserts.request(body), request_id=str(index))
        batch.execute()

    try:
        call(settings, inserts.limiter, "batch", send, cost=len(indexes))
    except BackendError as exc:
        return {index: (None, exc) for index in indexes}
    return answers


def _settle(action: Callable[[], RemoteEvent]) -> RemoteEvent | BackendError:
    try:
        return action()
    except BackendError as exc:
        return exc
