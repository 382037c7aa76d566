"""The contract suite's Exchange driver: alice's mailbox on the EWS emulator
(tests/emulators/ews/), the backend over real HTTP with exchangelib (Basic auth here; NTLM
and impersonation in tests/integration/test_exchange_*.py).

The user's own edits go through the emulator's control API (the owner in Outlook), so they
never count as the backend's requests; ``events()`` reads through a second backend and
takes its requests off the count.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bridge.backends.base import Backend, RemoteEvent
from bridge.backends.kinds import BindingSpec, kind_of
from tests.contract.driver import ALICE
from tests.contract.pull import listed
from tests.emulators.ews import EwsEmulator
from tests.emulators.ews.recurrence import split_occurrence_id

OPERATION = {"create": "CreateItem", "update": "UpdateItem", "delete": "DeleteItem"}
OPERATION["list"] = "SyncFolderItems"
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August")
MONTHS += ("September", "October", "November", "December")
INDEX = ("First", "Second", "Third", "Fourth", "Last")
GROUPS = {8: "Day", 9: "Weekday", 10: "WeekendDay"}
#: EWS's per-item answer (ResponseCode, MessageText) for a refusal the suite names by status.
REFUSAL = {
    400: ("ErrorInvalidRequest", "The request is invalid (a 400 refusal of this item)."),
    403: ("ErrorAccessDenied", "Access is denied (a 403 refusal of this item)."),
    404: ("ErrorItemNotFound", "The specified object was not found in the store."),
}


def recurrence_spec(rule: str, local_start: datetime) -> dict[str, Any]:
    """The emulator's recurrence dict for an RRULE (via the backend's own RRULE -> EWS
    mapping, the one an Outlook user's series would match)."""
    from bridge.backends.exchange import pattern

    rec = pattern.to_ews(rule, local_start)
    pat, rng = rec.pattern, rec.boundary
    spec: dict[str, Any] = {"pattern": type(pat).ELEMENT_NAME, "start_date": rng.start}
    if getattr(pat, "interval", None):
        spec["interval"] = pat.interval
    if getattr(pat, "weekdays", None):
        spec["days_of_week"] = " ".join(WEEKDAYS[d - 1] for d in pat.weekdays)
    if getattr(pat, "weekday", None):
        spec["days_of_week"] = GROUPS.get(pat.weekday) or WEEKDAYS[pat.weekday - 1]
    if getattr(pat, "week_number", None):
        spec["day_of_week_index"] = INDEX[pat.week_number - 1]
    if getattr(pat, "day_of_month", None):
        spec["day_of_month"] = pat.day_of_month
    if getattr(pat, "month", None):
        spec["month"] = MONTHS[pat.month - 1]
    if hasattr(rng, "number"):
        spec["count"] = rng.number
    elif hasattr(rng, "end"):
        spec["end_date"] = rng.end
    return spec


def _exdates(lines: tuple[str, ...]) -> list[datetime]:
    from bridge.backends.recurrence import recurrence_from_lines

    rec = recurrence_from_lines(lines)
    return [] if rec is None else list(rec.exdates)


class ExchangeDriver:
    kind = "exchange"
    page_setting = "page_size"
    keeps_stray_instances = False

    def __init__(self, ews: EwsEmulator, directory: Path) -> None:
        self.ews = ews
        self.user = ews.add_mailbox(ALICE, "Alice")
        ews.add_account("alice", "alice-password", mailboxes=(ALICE,))
        self.password_file = directory / "alice-ews-password"
        self.password_file.write_text("alice-password\n")
        self.password_file.chmod(0o600)
        self.own_calls = 0  # requests events() made (not the backend's)
        self._reader: Backend | None = None

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()

    # --- the binding ----------------------------------------------------------------------
    def binding_backend_settings(self) -> dict[str, Any]:
        return {
            "url": self.ews.url,
            "email": ALICE,
            "username": "alice",
            "password_file": str(self.password_file),
            "auth_type": "basic",
            "timeout": 10.0,
            "max_retries": 2,
            "max_back_off": 0.05,
        }

    def binding_secret(self) -> dict:
        return {}

    def make_backend(self) -> Backend:
        spec = BindingSpec(1, "alice", self.kind, self.binding_backend_settings(), {})
        make = kind_of(self.kind).make
        assert make is not None
        return make(spec)

    # --- the user, in Outlook ---------------------------------------------------------------
    def _times(self, start: datetime, end: datetime, all_day: bool) -> dict[str, Any]:
        if all_day:
            start = datetime.combine(start.astimezone(UTC).date(), datetime.min.time(), UTC)
            end = datetime.combine(end.astimezone(UTC).date(), datetime.min.time(), UTC)
        return {"start": start, "end": end, "start_tz": "UTC", "end_tz": "UTC"}

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
        values: dict[str, Any] = {"subject": subject, "location": location, "is_all_day": all_day}
        values |= {"body": description, "body_type": "Text"} if description else {}
        values |= self._times(start, end, all_day)
        values["sensitivity"] = "Private" if private else "Normal"
        values |= {"required_attendees": list(attendees)} if attendees else {}
        rules = [r for r in recurrence if r.upper().startswith("RRULE")]
        if rules:
            values["recurrence"] = recurrence_spec(rules[0], values["start"].astimezone(UTC))
        made = self.user.create(**values)
        for gone in _exdates(recurrence):
            self.user.delete_occurrence(made, gone)
        return made

    def edit(self, remote_id: str, **fields: Any) -> None:
        current = self.user.item(remote_id)
        all_day = bool(fields.pop("all_day", current.get("is_all_day", False)))
        change: dict[str, Any] = {"is_all_day": all_day}
        for ours, theirs in (("subject", "subject"), ("location", "location")):
            if ours in fields:
                change[theirs] = fields.pop(ours)
        if "description" in fields:
            change |= {"body": fields.pop("description"), "body_type": "Text"}
        if "start" in fields or "end" in fields:
            start = fields.pop("start", current["start"])
            end = fields.pop("end", current["end"])
            change |= self._times(start, end, all_day)
        if "private" in fields:
            change["sensitivity"] = "Private" if fields.pop("private") else "Normal"
        if "busy" in fields:
            busy = str(fields.pop("busy"))
            change["legacy_free_busy_status"] = {"free": "Free", "tentative": "Tentative"}.get(
                busy, "OOF" if busy == "oof" else "Busy"
            )
        if "attendees" in fields:
            change["required_attendees"] = list(fields.pop("attendees"))
        recurrence = fields.pop("recurrence", None)
        if recurrence is not None:
            rules = [r for r in recurrence if r.upper().startswith("RRULE")]
            start = change.get("start", current["start"])
            change["recurrence"] = recurrence_spec(rules[0], start) if rules else None
        overrides = fields.pop("overrides", None)
        assert not fields, f"the Exchange driver cannot edit {sorted(fields)}"
        self.user.update(remote_id, **change)
        for gone in _exdates(tuple(recurrence or ())):
            self.user.delete_occurrence(remote_id, gone)
        if overrides is not None:  # the moved occurrences now; any other one is cancelled
            kept = {o.recurrence_id for o in overrides}
            for original in self.user.item(remote_id)["modified_occurrences"]:
                if original.isoformat() not in kept:
                    self.user.delete_occurrence(remote_id, original)
            for moved in overrides:
                original = datetime.fromisoformat(moved.recurrence_id)
                values = self._times(moved.start, moved.end, all_day)
                values |= {"subject": moved.subject} if moved.subject else {}
                self.user.modify_occurrence(remote_id, original, **values)

    def remove(self, remote_id: str) -> None:
        self.user.delete(remote_id)

    def move(self, remote_id: str) -> str:
        """The user moves the item away and back: same content and tag, a new id."""
        return self.user.move(remote_id)

    def events(self) -> list[RemoteEvent]:
        if self._reader is None:
            self._reader = self.make_backend()
        before = len(self.ews.calls)
        found = [e for e in listed(self._reader, None)[0] if isinstance(e, RemoteEvent)]
        self.own_calls += len(self.ews.calls) - before
        return sorted(found, key=lambda e: e.remote_id)

    # --- faults and counters ----------------------------------------------------------------
    def lifecycle_notice(self, subscription_id: str, what: str) -> bool:
        """EWS push notifications carry events and StatusEvent keep-alives only: lost ones
        show as a SyncState the server no longer takes (a resync), and a subscription the
        server gave up on is replaced when its stored expiry comes."""
        return False

    def expire_cursor(self) -> None:
        self.ews.expire_sync_state()

    def fail_next(self, method: str, status: int, count: int = 1) -> None:
        """400 and 403 on a write: EWS refuses that one item (a ResponseMessage error in
        its place, the rest of the request done); anything else a bare HTTP status for
        the whole request (EWS's own ErrorServerBusy: tests/integration)."""
        if status in REFUSAL and method != "list":
            self.ews.refuse_first_item(OPERATION[method], *REFUSAL[status], count=count)
        else:
            self.ews.fail_next_http(OPERATION[method], status=status, count=count)

    def reject(self, remote_id: str, status: int = 403, times: int = 10**9) -> None:
        """Writes to this item are refused (reads are not: alice still sees it)."""
        code, text = REFUSAL.get(status, REFUSAL[403])
        self.ews.reject(remote_id, code, times, operations=("UpdateItem", "DeleteItem"), text=text)

    def write_count(self) -> int:
        """Items written (a batched CreateItem counts each item, as Google's batch parts)."""
        with self.ews.lock:
            return sum(n for _, n in self.ews.write_requests)

    def request_count(self) -> int:
        return len(self.ews.calls) - self.own_calls

    def mailed(self) -> list[str]:
        """Every item write that asked Exchange to send (whoever it reached: an item without
        attendees mails nobody, but sync must never ask), with the emulator's recipients."""
        return [
            f"{s.operation} {s.item_id} {s.attribute}={s.value!r}: {s.kind or 'nobody'} "
            f"{list(s.mailed_to)} cancelled {list(s.cancelled_to)}"
            for s in self.ews.item_sends
            if s.value != "SendToNone"
        ]

    # --- the Invite action's copy, as Exchange stores it --------------------------------------
    def invite_wire(self, remote_id: str) -> dict[str, Any]:
        item = self.user.item(remote_id)
        tags = {name: value for (_set, name, _type), value in item["extended"].items()}
        return {
            "subject": item.get("subject", ""),
            "description": item.get("body", ""),
            "location": item.get("location", ""),
            "organiser": item["organizer"],
            "attendees": [*item.get("required_attendees", []), *item.get("optional_attendees", [])],
            "tags": tags,
            "raw": self.user.raw(remote_id),
            "start": item["start"],
            "sequence": item["sequence"],
        }

    def invite_writes(self, remote_id: str) -> int:
        """Writes of the item and of its occurrences (OccurrenceItemIds of it)."""

        def of_copy(item_id: str) -> bool:
            occurrence = split_occurrence_id(item_id)
            return item_id == remote_id or (occurrence is not None and occurrence[0] == remote_id)

        with self.ews.lock:
            return sum(1 for _op, _box, item_id in self.ews.writes if of_copy(item_id))

    def invite_series(self, remote_id: str) -> dict[str, Any]:
        """The copy's series as the emulator holds it: its recurrence's original starts,
        less the deleted occurrences, the modified ones at their stored times."""
        item = self.user.item(remote_id)
        spec = item.get("recurrence")
        occurrences: dict[datetime, datetime] = {}
        if spec:
            gone = {d.astimezone(UTC) for d in item["deleted_occurrences"]}
            for original in self.user.occurrence_starts(remote_id):
                if original.astimezone(UTC) not in gone:
                    occurrences[original.astimezone(UTC)] = original.astimezone(UTC)
        people = [*item.get("required_attendees", []), *item.get("optional_attendees", [])]
        moved = {}
        for original, fields in item["modified_occurrences"].items():
            key = original.astimezone(UTC)
            occurrences[key] = fields.get("start", original).astimezone(UTC)
            moved[key] = {
                "subject": fields.get("subject", item.get("subject", "")),
                "location": fields.get("location", item.get("location", "")),
                "description": fields.get("body", item.get("body", "")),
                "organiser": item["organizer"],
                "attendees": [
                    *fields.get("required_attendees", []),
                    *fields.get("optional_attendees", []),
                ]
                or people,
            }
        raw = self.user.raw(remote_id) + repr(item["modified_occurrences"])
        rule = repr(spec) if spec else ""
        return {"rule": rule, "occurrences": occurrences, "moved": moved, "raw": raw}

    def guest_edit(self, remote_id: str, **fields: Any) -> None:
        """The organiser changes the copy in Outlook; a partstat is a guest's response
        reaching the organiser's item (its attendee's ResponseType)."""
        partstat = fields.pop("partstat", None)
        change: dict[str, Any] = {}
        for name in ("subject", "location"):
            if name in fields:
                change[name] = fields.pop(name)
        if "start" in fields or "end" in fields:
            current = self.user.item(remote_id)
            change |= self._times(
                fields.pop("start", current["start"]), fields.pop("end", current["end"]), False
            )
        assert not fields, f"the Exchange driver cannot guest-edit {sorted(fields)}"
        if change:
            self.user.update(remote_id, **change)
        if partstat is not None:
            email, answer = partstat
            response = {"ACCEPTED": "Accept", "DECLINED": "Decline", "TENTATIVE": "Tentative"}
            self.user.respond(remote_id, email, response[answer])


@contextmanager
def open_driver(tmp_path: Path) -> Iterator[ExchangeDriver]:
    with EwsEmulator() as ews:
        driver = ExchangeDriver(ews, tmp_path)
        try:
            yield driver
        finally:
            driver.close()
