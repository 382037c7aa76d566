"""The store for the scale benchmark: a generated configuration, meetings loaded through the
store's bulk path (bridge.store.meetings_bulk), and the sizes measured.

Users ``u00000`` ... each own ``--meetings`` meetings. A meeting is one of a few hundred
templates rendered once by the bridge itself (bridge.ical.meeting_to_ical, its time index
and busy-only text), copied with its UID, organiser and attendee put in by same-length
substitution: one-offs over two years around today, some weekly series, about a third with
a colleague (the next user) as internal attendee, so their entry fans out to two calendars.
Binding users ``s00000`` ... (one binding each, bench/scale_remotes.py) own two meetings each.
"""

from __future__ import annotations

import dataclasses
import os
import random
from argparse import Namespace
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from radicale import item as radicale_item
from sqlalchemy import text

from bridge import ical
from bridge.model import Meeting, Recurrence
from bridge.store.items import event_index
from bridge.store.meetings import MeetingWrite

TEMPLATES = 400
HORIZON_DAYS, MAX_OCCURRENCES = 400, 200
# Placeholders as long as what replaces them, so line folding never moves.
UID_MARK, ORG_MARK, ATT_MARK = "SCALEUID-0000000000", "ORG000", "ATT000"


def login(n: int) -> str:
    return f"u{n:05d}"


def sync_login(n: int) -> str:
    return f"s{n:05d}"


def email(who: str) -> str:
    return f"{who}@example.com"


def config_text(
    db_url: str, args: Namespace, binding_toml: Callable[[str], str], port: int, api_port: int
) -> str:
    """The TOML of the benchmark: no authentication (a Basic header names the user)."""
    users, bindings = args.users, args.bindings
    lines = [
        f"[sync]\npoll_seconds = {args.poll_seconds}\n",
        f'[server]\nauth = "none"\nhost = "127.0.0.1"\nport = {port}\n',
        f'[store]\nurl = "{db_url}"\n',
        f'[api]\nenabled = true\nhost = "127.0.0.1"\nport = {api_port}\n',
        '[logging]\nlevel = "warning"\n',
    ]
    for n in range(users):
        lines.append(f'[[users]]\nlogin = "{login(n)}"\nemail = "{email(login(n))}"\n')
    for n in range(bindings):
        who = sync_login(n)
        user = f'[[users]]\nlogin = "{who}"\nemail = "{email(who)}"\n'
        lines.append(user + binding_toml(who))
    return "\n".join(lines)


@dataclasses.dataclass(frozen=True)
class Template:
    meeting: Meeting
    ical: str
    busy: str
    index: object  # ObjectIndex, the same for every copy
    with_attendee: bool


def _template(rng: random.Random, number: int, today: datetime) -> Template:
    day = today + timedelta(days=rng.randint(-365, 365), hours=rng.choice((8, 9, 10, 13, 15)))
    with_attendee = rng.random() < 0.33
    series = rng.random() < 0.15
    meeting = Meeting(
        uid=UID_MARK,
        start=day,
        end=day + timedelta(minutes=rng.choice((30, 45, 60, 90))),
        organiser=ORG_MARK,
        internal_users=[ATT_MARK] if with_attendee else [],
        activity_type="meeting" if with_attendee else "appointment",
        subject=f"Scale template {number}",
        location=rng.choice(("Room A", "Video call", "")),
        recurrence=Recurrence(rrule=f"FREQ=WEEKLY;COUNT={rng.randint(4, 20)}") if series else None,
    )
    emails = {ORG_MARK: email(ORG_MARK), ATT_MARK: email(ATT_MARK)}
    text_ = ical.meeting_to_ical(meeting, email_by_login=emails)
    vcal = ical.parse_calendar(text_)
    index = event_index(vcal, horizon_days=HORIZON_DAYS, max_occurrences=MAX_OCCURRENCES)
    busy = ical.busy_only(vcal)
    unfolded = text_.replace("\r\n ", "")
    for mark in (UID_MARK, ORG_MARK, ATT_MARK):  # no placeholder split by a fold
        if text_.count(mark) != unfolded.count(mark):
            raise RuntimeError(f"template {number}: {mark} folded")
    return Template(meeting, text_, busy, index, with_attendee)


def templates(seed: int = 12) -> list[Template]:
    rng = random.Random(seed)
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return [_template(rng, n, today) for n in range(TEMPLATES)]


def _copy(t: Template, uid: str, organiser: str, attendee: str) -> MeetingWrite:
    def put(s: str) -> str:
        return s.replace(UID_MARK, uid).replace(ORG_MARK, organiser).replace(ATT_MARK, attendee)

    text_, busy = put(t.ical), put(t.busy)
    meeting = dataclasses.replace(
        t.meeting,
        uid=uid,
        organiser=organiser,
        internal_users=[attendee] if t.with_attendee else [],
    )
    return MeetingWrite(
        meeting=meeting,
        href=f"{uid}.ics",
        ical=text_,
        etag=radicale_item.get_etag(text_),
        busy_ical=busy,
        busy_etag=radicale_item.get_etag(busy),
        index=t.index,  # type: ignore[arg-type]
    )


def meeting_writes(
    shapes: list[Template], owners: list[str], per_owner: int, prefix: str
) -> Iterator[MeetingWrite]:
    """``per_owner`` meetings for each owner, interleaved (owner 0, 1, ..., 0, 1, ...)."""
    for k in range(per_owner):
        for n, owner in enumerate(owners):
            number = k * len(owners) + n
            uid = f"{prefix}{number:0{len(UID_MARK) - len(prefix)}d}"
            colleague = owners[(n + 1) % len(owners)]
            yield _copy(shapes[number % len(shapes)], uid, owner, colleague)


def database_bytes(store) -> int:  # noqa: ANN001 - a bridge Store
    """The SQLite file (with its WAL) or the MariaDB schema's data and index length."""
    url = store.engine.url
    if url.get_backend_name() == "sqlite":
        path = Path(url.database)
        return sum(p.stat().st_size for p in (path, Path(f"{path}-wal")) if p.exists())
    with store.engine.connect() as conn:
        conn.execute(text("ANALYZE TABLE meetings, items, occurrences, changes, participants"))
        return int(
            conn.execute(
                text(
                    "SELECT SUM(data_length + index_length) FROM information_schema.tables "
                    "WHERE table_schema = DATABASE()"
                )
            ).scalar()
            or 0
        )


def memory(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak) of a process, in KiB, from /proc/<pid>/status."""
    found = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                found[key] = int(value.split()[0])
    return found


def own_memory() -> dict[str, int]:
    return memory(os.getpid())
