"""A store with users alice and bob and one binding for alice of the driver's kind, its
settings and secret stored as production stores them; ``round()`` runs the engine."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select

from bridge.backends.base import Backend, RemoteEvent
from bridge.backends.kinds import schema_for
from bridge.model import Meeting
from bridge.secret_box import Keyring
from bridge.store import Store, binding_secrets
from bridge.store import bindings as binding_store
from bridge.store import meetings as meeting_store
from bridge.store import quarantine as quarantine_store
from bridge.store import users as user_store
from bridge.store.schema import links, meetings
from bridge.sync.engine import Engine, RoundReport
from bridge.sync.pool import BackendPool
from bridge.sync.rules import SyncRules
from bridge.wiring import BackendMaker
from tests.contract.driver import Driver
from tests.support.sync_world import USERS, crm_meeting


@dataclass
class ContractWorld:
    store: Store
    driver: Driver
    binding_id: int
    rules: SyncRules
    keyring: Keyring
    backend_for: BackendMaker
    pool: BackendPool = field(init=False)

    def __post_init__(self) -> None:
        self.pool = BackendPool(self.backend_for)

    def binding(self):
        return self.store.read(lambda c: binding_store.get(c, self.binding_id))

    def backend(self) -> Backend:
        """The binding's backend, made from the store as the scheduler makes it."""
        return self.backend_for(self.binding())

    def round(self, clock: Callable[[], datetime] | None = None, backend=None) -> RoundReport:
        """One round; ``clock``: the engine's clock; ``backend``: instead of the binding's,
        which is kept across rounds as the scheduler keeps it (a new one when the binding's
        kind, settings or secret change)."""
        extra = {} if clock is None else {"clock": clock}
        backend = self.pool.get(self.binding()) if backend is None else backend
        return Engine(self.store, self.binding_id, backend, self.rules, **extra).run()

    def close(self) -> None:
        self.pool.close()
        self.store.dispose()

    def events(self) -> list[RemoteEvent]:
        """What alice's calendar holds now (the service's view)."""
        return self.driver.events()

    def event(self, subject: str) -> RemoteEvent:
        (found,) = [e for e in self.events() if e.subject == subject]
        return found

    def subjects(self) -> list[str]:
        return sorted(e.subject for e in self.events())

    def quarantine(self) -> list:
        return self.store.read(lambda c: quarantine_store.for_binding(c, self.binding_id))

    def crm_meeting(self, uid: str, subject: str = "Review", **fields) -> Meeting:
        return crm_meeting(self.store, uid, subject, **fields)

    def delete_in_crm(self, uid: str) -> None:
        meeting_id = self.meeting(uid).id
        self.store.write(lambda tx: meeting_store.delete_meeting(tx, meeting_id), origin="crm")

    def meeting(self, uid: str):
        return self.store.read(lambda c: meeting_store.by_uid(c, uid))

    def meeting_count(self) -> int:
        query = select(func.count()).select_from(meetings)
        return self.store.read(lambda c: c.execute(query).scalar())

    def link_count(self) -> int:
        query = select(func.count()).select_from(links)
        return self.store.read(lambda c: c.execute(query).scalar())


def make_contract_world(
    db_url: str, driver: Driver, rules: SyncRules | None = None, **settings: object
) -> ContractWorld:
    """Users alice and bob; alice's binding (named after the kind) as `bridge db upgrade`
    stores it from the config file, and its secret as `authorize` stores it. ``settings``
    change the driver's backend settings (e.g. the page size)."""
    store = Store(db_url)
    keyring = Keyring.generate()
    settings = {**driver.binding_backend_settings(), **settings}
    keys = tuple(schema_for(driver.kind).identity(settings))

    def setup(tx) -> int:
        user_store.sync(tx, USERS)
        record = binding_store.BindingRecord("alice", driver.kind, driver.kind, settings, {}, keys)
        binding_store.sync(tx, [record], keyring)
        row = binding_store.by_login(tx.conn, "alice", driver.kind)[0]
        secret = driver.binding_secret()
        if secret:
            binding_secrets.set_secret(tx, row.id, secret, keyring)
        return row.id

    binding_id = store.write(setup)
    return ContractWorld(
        store, driver, binding_id, rules or SyncRules(), keyring, BackendMaker(keyring)
    )
