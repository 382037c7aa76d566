"""A store with users and one binding for alice: a Google binding wired to the Google
emulator (``make_world``), or a binding of any kind from a contract driver
(``make_driver_world``, e.g. tests/contract/drivers/caldav.py on a stock Radicale)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from bridge.meeting_service import save_from_sync
from bridge.model import Meeting, Participant
from bridge.secret_box import Keyring
from bridge.store import Store, binding_secrets
from bridge.store import bindings as binding_store
from bridge.store import meetings as meeting_store
from bridge.store import quarantine as quarantine_store
from bridge.store import users as user_store
from bridge.store.schema import links, meetings
from bridge.sync.engine import Engine, RoundReport
from bridge.sync.rules import SyncRules
from bridge.wiring import BackendMaker
from tests.support.google_toml import google_settings

USERS = [
    user_store.UserRecord("alice", "alice@example.com", "Alice"),
    user_store.UserRecord("bob", "bob@example.com", "Bob"),
]
CALENDAR = "alice@example.com"


def crm_meeting(store: Store, uid: str, subject: str = "Review", **fields) -> Meeting:
    """A meeting written into ``store`` as the CRM would write it (origin "crm")."""
    start = fields.pop("start", datetime.now(UTC).replace(microsecond=0) + timedelta(days=2))
    meeting = Meeting(
        uid=uid,
        start=start,
        end=fields.pop("end", start + timedelta(hours=1)),
        organiser=fields.pop("organiser", "alice"),
        subject=subject,
        activity_type=fields.pop("activity_type", "meeting"),
        **fields,
    )
    store.write(
        lambda tx: save_from_sync(
            tx, meeting, href=f"{uid}.ics", horizon_days=400, max_occurrences=500
        ),
        origin="crm",
    )
    return meeting


@dataclass
class World:
    store: Store
    google: object
    binding_id: int
    rules: SyncRules
    keyring: Keyring
    backend_for: BackendMaker
    remote: object = None  # the driver of a make_driver_world binding (None for Google)

    def backend(self):
        row = self.store.read(lambda c: binding_store.get(c, self.binding_id))
        return self.backend_for(row)

    def secret(self) -> dict:
        """The binding's stored credentials, decrypted."""
        row = self.store.read(lambda c: binding_store.get(c, self.binding_id))
        return binding_secrets.read_secret(row, self.keyring)

    def round(self, clock: Callable[[], datetime] | None = None) -> RoundReport:
        """One round; ``clock``: the engine's clock (plan's now, quarantine times)."""
        extra = {} if clock is None else {"clock": clock}
        return Engine(self.store, self.binding_id, self.backend(), self.rules, **extra).run()

    def binding(self):
        return self.store.read(lambda c: binding_store.get(c, self.binding_id))

    def quarantine(self) -> list:
        """The binding's quarantined events (store rows), oldest first."""
        return self.store.read(lambda c: quarantine_store.for_binding(c, self.binding_id))

    def crm_meeting(self, uid: str, subject: str = "Review", **fields) -> Meeting:
        """A meeting written as the CRM would write it (origin "crm")."""
        return crm_meeting(self.store, uid, subject, **fields)

    def meeting(self, uid: str):
        return self.store.read(lambda c: meeting_store.by_uid(c, uid))

    def meeting_count(self) -> int:
        return self.store.read(
            lambda c: c.execute(select(func.count()).select_from(meetings)).scalar()
        )

    def link_count(self) -> int:
        return self.store.read(
            lambda c: c.execute(select(func.count()).select_from(links)).scalar()
        )

    def google_events(self) -> list[dict]:
        return self.google.events(CALENDAR)


def _make(
    db_url: str,
    kind: str,
    settings: dict,
    secret: dict,
    rules: SyncRules | None,
) -> tuple[Store, int, Keyring]:
    """Users alice and bob; alice's binding of ``kind`` (named after it) with ``settings``
    and its stored ``secret``, as the config file and ``authorize`` store them."""
    store = Store(db_url)
    keyring = Keyring.generate()

    def setup(tx) -> int:
        user_store.sync(tx, USERS)
        record = binding_store.BindingRecord("alice", kind, kind, settings)
        binding_store.sync(tx, [record], keyring)
        row = binding_store.by_login(tx.conn, "alice", kind)[0]
        if secret:
            binding_secrets.set_secret(tx, row.id, secret, keyring)
        return row.id

    return store, store.write(setup), keyring


def make_world(db_url: str, google, rules: SyncRules | None = None, **backend) -> World:
    """``backend``: Google settings to change (e.g. max_retries, timeout)."""
    user = google.add_user(CALENDAR)
    settings = google_settings(google, **backend)
    secret = {"refresh_token": user.refresh_token}
    store, binding_id, keyring = _make(db_url, "google", settings, secret, rules)
    return World(store, google, binding_id, rules or SyncRules(), keyring, BackendMaker(keyring))


def make_driver_world(db_url: str, driver, rules: SyncRules | None = None) -> World:
    """alice's binding of ``driver.kind``, with the driver's settings and secret; the
    driver is ``World.remote`` (``World.google`` is None)."""
    settings = driver.binding_backend_settings()
    store, binding_id, keyring = _make(
        db_url, driver.kind, settings, driver.binding_secret(), rules
    )
    factory = BackendMaker(keyring)
    return World(store, None, binding_id, rules or SyncRules(), keyring, factory, driver)


__all__ = ["World", "crm_meeting", "make_driver_world", "make_world", "Participant"]
