"""Which remote account a binding's settings name (``KindSchema.account_of``): bindings of
one account share ``[sync] rounds_per_account``; settings naming none are an account of
their own."""

from __future__ import annotations

import pytest

from bridge.backends.kinds import schema_for


@pytest.mark.parametrize(
    ("kind", "settings", "account"),
    [
        (
            "graph",
            {"tenant": "Contoso.onmicrosoft.com", "client_id": "app-1", "mailbox": "a@x"},
            "graph:https://graph.microsoft.com/v1.0|contoso.onmicrosoft.com|app-1",
        ),
        ("graph", {"mailbox": "a@x"}, None),
        (
            "google",
            {"service_account_file": "sa.json", "subject": "Ann@Example.com"},
            "google:https://www.googleapis.com|ann@example.com",
        ),
        ("google", {"calendar_id": "primary", "client_id": "c"}, None),  # OAuth: unknown user
        (
            "exchange",
            {
                "url": "https://Mail.Example.com/EWS/Exchange.asmx",
                "username": "SVC",
                "email": "a@x",
            },
            "exchange:mail.example.com|svc",
        ),
        (
            "exchange",
            {"url": "https://mail.example.com/EWS/Exchange.asmx", "email": "A@x"},
            "exchange:mail.example.com|a@x",
        ),
        (
            "caldav",
            {"url": "https://dav.example.com/cal/ann/work/", "username": "ann"},
            "caldav:dav.example.com|ann",
        ),
        ("caldav", {"url": "https://dav.example.com/cal/ann/work/"}, None),
    ],
)
def test_the_account_a_bindings_settings_name(kind, settings, account):
    assert schema_for(kind).account_of(settings) == account


def test_bindings_of_one_account_differ_only_in_what_they_sync():
    graph = schema_for("graph")
    base = {"tenant": "t", "client_id": "app"}
    assert graph.account_of({**base, "mailbox": "a@x"}) == graph.account_of(
        {**base, "mailbox": "b@x"}
    )
    assert graph.account_of({**base, "mailbox": "a@x"}) != graph.account_of(
        {**base, "client_id": "other", "mailbox": "a@x"}
    )


def test_a_long_account_is_hashed_to_fit_its_column():
    name = schema_for("caldav").account_of(
        {"url": "https://dav.example.com/", "username": "u" * 400}
    )
    assert name is not None and len(name) <= 255 and name.startswith("caldav:sha256:")


def test_adopting_the_configuration_stores_each_bindings_account(tmp_path, monkeypatch):
    from bridge.config import parse_config
    from bridge.secret_box import generate_key
    from bridge.store import bindings as binding_store
    from bridge.wiring import Wiring

    tenant = {"tenant": "t", "client_id": "app", "client_secret_env": "GRAPH_SECRET"}
    users = [
        {
            "login": login,
            "email": f"{login}@example.com",
            "bindings": [
                {"name": "m365", "kind": "graph", "backend": {**tenant, "mailbox": login}}
            ],
        }
        for login in ("ann", "bob")
    ]
    data = {
        "server": {"auth": "none"},
        "store": {"url": f"sqlite:///{tmp_path}/bridge.db"},
        "secrets": {"key_env": "BRIDGE_TEST_KEYS"},
        "users": users,
    }
    monkeypatch.setenv("BRIDGE_TEST_KEYS", generate_key())
    settings = parse_config(data, file="bridge.toml", base_dir=tmp_path)
    store = Wiring(settings).store()
    try:
        rows = store.read(binding_store.all_bindings)
        assert [r.account for r in rows] == ["graph:https://graph.microsoft.com/v1.0|t|app"] * 2
    finally:
        store.dispose()
