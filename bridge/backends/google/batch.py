"""Bulk creates for GoogleBackend: events.insert calls sent as HTTP batch requests.

A batch of n parts is paced as n requests (Google counts each part against the quota). Parts
that answer a rate limit or a 5xx are sent again in the next batch after a back-off; a 409
means an earlier attempt created that event, which is then adopted (idempotent create).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from googleapiclient.errors import HttpError
from googleapiclient.http import BatchHttpRequest

from bridge.backends.base import BackendError, RemoteEvent
from bridge.backends.google import wire
from bridge.backends.google.http import backoff, call, retryable, to_backend_error

if TYPE_CHECKING:
    from bridge.backends.google.backend import GoogleBackend

MAX_PARTS = 1000  # Google's limit per batch request; 50 is its recommendation

Answers = dict[int, tuple[Any, BaseException | None]]


def create_many(
    backend: GoogleBackend, events: Sequence[tuple[RemoteEvent, str]]
) -> list[RemoteEvent | BackendError]:
    """Create (event, idempotency_key) pairs, one result (event or error) per pair."""
    from bridge.backends.google.backend import event_id_for

    settings = backend.settings
    results: list[RemoteEvent | BackendError | None] = [None] * len(events)
    size = max(1, min(settings.batch_size, MAX_PARTS))
    for first in range(0, len(events), size):
        pending = list(range(first, min(first + size, len(events))))
        attempt = 0
        while pending:
            answers = _send(backend, events, pending)
            retry: list[int] = []
            wait = 0.0
            for index in pending:
                event, key = events[index]
                response, error = answers.get(index, (None, None))
                if isinstance(error, BackendError):  # the whole batch failed, retries spent
                    results[index] = error
                elif error is None and response is not None:
                    results[index] = _settle(lambda r=response, e=event: backend._finish(r, e, []))
                elif isinstance(error, HttpError) and error.resp.status == 409:
                    results[index] = _settle(
                        lambda e=event, k=key: backend._adopt(event_id_for(k), e)
                    )
                elif error is not None and retryable(error) and attempt < settings.max_retries:
                    retry.append(index)
                    wait = max(wait, backoff(settings, attempt + 1, error))
                else:
                    results[index] = to_backend_error(
                        error or RuntimeError("no answer in the batch response"), "events.insert"
                    )
            if retry:
                backend.limiter.sleep(wait)
            attempt += 1
            pending = retry
    return [r if r is not None else BackendError("not attempted") for r in results]


def _send(
    backend: GoogleBackend, events: Sequence[tuple[RemoteEvent, str]], indexes: list[int]
) -> Answers:
    """One batch request (retried whole on envelope errors): answers by index."""
    from bridge.backends.google.backend import event_id_for

    settings = backend.settings
    answers: Answers = {}

    def collect(request_id: str, response: Any, exception: BaseException | None) -> None:
        answers[int(request_id)] = (response, exception)

    def send() -> None:
        answers.clear()
        batch = BatchHttpRequest(callback=collect, batch_uri=settings.batch_uri)
        for index in indexes:
            event, key = events[index]
            request = backend.events.insert(
                calendarId=settings.calendar_id,
                body=wire.event_body(event, event_id=event_id_for(key)),
                sendUpdates="none",
            )
            batch.add(request, request_id=str(index))
        batch.execute()

    try:
        call(settings, backend.limiter, "batch", send, cost=len(indexes))
    except BackendError as exc:
        return {index: (None, exc) for index in indexes}
    return answers


def _settle(action: Callable[[], RemoteEvent]) -> RemoteEvent | BackendError:
    try:
        return action()
    except BackendError as exc:
        return exc
