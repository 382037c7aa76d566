"""Two Google bindings (alice and bob on the emulator): a meeting lands once in each
internal participant's calendar. Google-only for now: the contract suite's drivers serve
one user's calendar (alice's); the rest of Google sync is in tests/contract/."""

from __future__ import annotations

from bridge.store import binding_secrets
from tests.support.sync_world import USERS, make_world


def test_meeting_lands_once_in_each_internal_participants_calendar(db_url, google_emulator):
    """Alice and Bob both sync with Google; Carol books a meeting on Bob's behalf."""
    from bridge.store import bindings as binding_store
    from bridge.store import users as user_store
    from bridge.sync.engine import Engine

    world = make_world(db_url, google_emulator)
    try:
        bob_user = google_emulator.add_user("bob@example.com")

        def add_bob_and_carol(tx):
            user_store.sync(
                tx,
                [
                    *[user_store.UserRecord(u.login, u.email, u.display_name) for u in USERS],
                    user_store.UserRecord("carol", "carol@example.com", "Carol"),
                ],
            )
            alice = binding_store.by_login(tx.conn, "alice", "google")[0]
            settings = __import__("json").loads(alice.settings)
            binding_store.sync(
                tx,
                [binding_store.BindingRecord("bob", "google", "google", settings)],
                world.keyring,
            )
            bob = binding_store.by_login(tx.conn, "bob", "google")[0]
            binding_secrets.set_secret(
                tx, bob.id, {"refresh_token": bob_user.refresh_token}, world.keyring
            )
            return bob.id

        bob_binding = world.store.write(add_bob_and_carol)
        world.crm_meeting("shared", "Shared", organiser="alice", internal_users=["bob"])
        world.crm_meeting("behalf", "For Bob", organiser="bob", booked_by="carol")

        def bob_round():
            row = world.store.read(lambda c: binding_store.get(c, bob_binding))
            return Engine(world.store, bob_binding, world.backend_for(row), world.rules).run()

        for _ in range(2):  # twice: the second round must change nothing
            world.round()
            bob_round()
        alice_titles = sorted(e["summary"] for e in google_emulator.events("alice@example.com"))
        bob_titles = sorted(e["summary"] for e in google_emulator.events("bob@example.com"))
        assert alice_titles == ["Shared"]
        assert bob_titles == ["For Bob", "Shared"]
        for event in google_emulator.events("bob@example.com"):
            assert "attendees" not in event
    finally:
        world.store.dispose()
