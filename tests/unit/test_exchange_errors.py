"""exchangelib's errors as the seam's (bridge.backends.exchange.session.mapped), and the
retry loop honouring ErrorServerBusy's back-off, bounded, without a server."""

from __future__ import annotations

import pytest
from exchangelib import errors as ews

from bridge.backends.base import (
    AuthError,
    BackendError,
    NotFound,
    PreconditionFailed,
    Rejected,
    ResyncRequired,
)
from bridge.backends.exchange.session import Session, mapped


@pytest.mark.parametrize(
    ("error", "kind", "words"),
    [
        (ews.UnauthorizedError("x"), AuthError, "username or password"),
        (ews.ErrorImpersonateUserDenied("x"), AuthError, "may not impersonate a@b.c"),
        (ews.ErrorNonExistentMailbox("x"), AuthError, "no mailbox a@b.c"),
        (ews.ErrorItemNotFound("x"), NotFound, "ErrorItemNotFound"),
        (ews.ErrorIrresolvableConflict("x"), PreconditionFailed, "ChangeKey"),
        (ews.ErrorInvalidSyncStateData("x"), ResyncRequired, "SyncState"),
        (ews.ErrorAccessDenied("x"), Rejected, "ErrorAccessDenied"),
        (ews.ErrorCalendarInvalidRecurrence("x"), Rejected, "ErrorCalendarInvalidRecurrence"),
        (ews.ErrorServerBusy("x"), BackendError, "ErrorServerBusy"),
        (ews.ErrorQuotaExceeded("x"), BackendError, "ErrorQuotaExceeded"),
    ],
)
def test_every_failure_maps_to_the_seam_naming_it(error, kind, words):
    found = mapped(error, "UpdateItem", "a@b.c")
    assert type(found) is kind and words in str(found) and "EWS UpdateItem" in str(found)


class _Settings:
    email, max_retries, max_back_off = "a@b.c", 3, 2.0


def _session(waits: list[float]) -> Session:
    session = Session.__new__(Session)  # no Account: call() needs only settings and sleep
    session.settings, session.sleep, session.waited = _Settings(), waits.append, []
    return session


def test_server_busy_is_retried_after_its_back_off_capped():
    waits: list[float] = []
    answers = iter(
        [ews.ErrorServerBusy("busy", back_off=0.5), ews.ErrorServerBusy("busy", back_off=60)]
    )

    def action():
        answer = next(answers, "done")
        if isinstance(answer, Exception):
            raise answer
        return answer

    assert _session(waits).call("CreateItem", action) == "done"
    assert waits == [0.5, 2.0]


def test_retries_end_in_a_backend_error_naming_the_code():
    waits: list[float] = []

    def busy():
        raise ews.ErrorServerBusy("busy", back_off=0.1)

    with pytest.raises(BackendError, match="ErrorServerBusy") as raised:
        _session(waits).call("SyncFolderItems", busy)
    assert not isinstance(raised.value, Rejected) and waits == [0.1, 0.1, 0.1]
