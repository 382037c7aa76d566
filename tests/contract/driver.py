"""What the contract suite needs of one backend kind: its Driver.

A driver stands for the service and its user: it says how alice's binding is configured,
makes a backend as production does, and acts in the calendar as the user would (seed,
edit, remove: no CRM tag, never through our backend). It reads what the service holds,
injects faults and counts calls, so every case in tests/contract/ runs unchanged on every
kind.

A kind joins the suite with a module ``tests/contract/drivers/<kind>.py`` defining

    @contextmanager
    def open_driver(tmp_path: Path) -> Iterator[Driver]: ...

(its service started and alice's calendar made, torn down after). ``edit`` takes
RemoteEvent field names: subject, location, description, start, end, all_day, private,
recurrence (iCalendar lines, EXDATE included) and overrides (each moved occurrence).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from bridge.backends.base import Backend, RemoteEvent

#: The e-mail of the user whose binding the suite syncs (her calendar).
ALICE = "alice@example.com"


class Driver(Protocol):
    kind: str  # "google", "caldav", "exchange"
    page_setting: str  # the backend setting that bounds how many events one pull page holds
    #: Whether the service keeps a moved occurrence that a later rule change left outside
    #: the series (Google, CalDAV: a stray instance); Exchange drops such exceptions.
    keeps_stray_instances: bool

    def binding_backend_settings(self) -> dict:
        """The [users.bindings.backend] table for alice's binding."""
        ...

    def binding_secret(self) -> dict:
        """What the store keeps as the binding's secret ({} if none)."""
        ...

    def make_backend(self) -> Backend:
        """A backend for alice's binding, as production makes it."""
        ...

    def seed(
        self,
        *,
        subject: str,
        start: datetime,
        end: datetime,
        all_day: bool = False,
        recurrence: tuple[str, ...] = (),
        private: bool = False,
        description: str = "",
        location: str = "",
        attendees: tuple[str, ...] = (),
    ) -> str:
        """The user creates an event in their own calendar (no CRM tag); its id."""
        ...

    def edit(self, remote_id: str, **fields: Any) -> None:
        """The user edits the event (RemoteEvent field names)."""
        ...

    def remove(self, remote_id: str) -> None:
        """The user deletes the event."""
        ...

    def move(self, remote_id: str) -> str:
        """The user moves the event to another calendar or folder and back: the same
        content and tag under a new id (returned), as Exchange, Google and CalDAV clients
        can make happen."""
        ...

    def events(self) -> list[RemoteEvent]:
        """Every live event the remote holds now, read through the service's own view."""
        ...

    def expire_cursor(self) -> None:
        """The next list with the stored cursor gets "expired"."""
        ...

    def fail_next(self, method: str, status: int, count: int = 1) -> None:
        """The next ``count`` calls of ``method`` ("create", "update", "delete", "list")
        answer HTTP ``status``."""
        ...

    def reject(self, remote_id: str, status: int = 403, times: int = 10**9) -> None:
        """Writes to this one event are refused with ``status`` (the next ``times`` ones;
        by default always)."""
        ...

    def write_count(self) -> int:
        """Remote write calls so far (creates, updates, deletes)."""
        ...

    def request_count(self) -> int:
        """All remote calls so far."""
        ...

    def mailed(self) -> list[str]:
        """Everything that would have mailed someone."""
        ...

    def invite_wire(self, remote_id: str) -> dict[str, Any]:
        """The Invite action's external copy as the service stores it, read on the wire (the
        emulator's or server's own record, not through our backend): {"subject", "description",
        "location", "organiser" (email), "attendees" (list of emails), "tags" (every hidden
        property/extended property/X- property, name -> value), "raw" (the whole stored
        record as text, to search for leaked CRM ids or notes), "start" (aware datetime),
        "sequence" (the iCalendar SEQUENCE as the service holds it, int)}."""
        ...

    def invite_writes(self, remote_id: str) -> int:
        """How many writes reached the external copy ``remote_id`` (create included; the
        writes of its series' occurrences too)."""
        ...

    def invite_series(self, remote_id: str) -> dict[str, Any]:
        """The external copy's series as the service stores it, read on the wire: {"rule"
        (its recurrence rule as the service holds it, as text; empty when not recurring),
        "occurrences" ({original start: start now} of every occurrence the series has, as
        aware UTC datetimes: an excluded one is absent, a moved one at its new time),
        "moved" ({original start: {"subject", "location", "description", "organiser",
        "attendees"}} of each occurrence stored apart from the series), "raw" (every stored
        record of the series as text)}."""
        ...

    def guest_edit(self, remote_id: str, **fields: Any) -> None:
        """Change the external copy as the organiser or a guest would in their calendar
        (fields: subject, start, end, location, partstat=(email, "ACCEPTED"|"DECLINED"))."""
        ...

    def lifecycle_notice(self, subscription_id: str, what: str) -> bool:
        """The service sends its push lifecycle notice ``what`` for the subscription to the
        webhook: "missed" (notifications were lost: resync) or "renew" (renew the
        subscription now). False, sending nothing, when the service has no such notice
        (then the contract case checks the service's documented equivalent: its expired
        cursor answer for "missed", its channel expiry for "renew")."""
        ...
