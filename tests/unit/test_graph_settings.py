"""A graph binding's settings: what makes a backend, and the errors naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from bridge.backends.base import ResyncRequired, Window
from bridge.backends.graph.auth import authority_of, describe_token_error
from bridge.backends.graph.delta import Cursor
from bridge.backends.graph.settings import GRAPH, graph_settings
from bridge.backends.kinds import BindingConfigError, BindingSpec, schema_for

BASE = {"tenant": "contoso.example", "client_id": "cid", "mailbox": "alice@contoso.example"}


def spec(settings: dict, secret: dict | None = None) -> BindingSpec:
    return BindingSpec(1, "alice", "graph", settings, secret or {})


def test_graph_is_a_registered_kind_with_its_schema() -> None:
    assert schema_for("graph") is GRAPH
    assert GRAPH.identity({**BASE, "page_size": 5}) == {
        "mailbox": "alice@contoso.example",
        "tenant": "contoso.example",
    }
    assert "did you mean client_secret_file" in (GRAPH.problem("client_secret_fle", "x") or "")
    assert GRAPH.private_files({"client_secret_file": "/s"}) == [("/s", "Graph client secret file")]


def test_app_only_secret_comes_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "secret"
    path.write_text("s3cret\n")
    made = graph_settings(spec({**BASE, "client_secret_file": str(path)}))
    assert made.client_secret == "s3cret" and made.app_only


def test_secret_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRAPH_SECRET_TEST", "from-env")
    assert graph_settings(spec({**BASE, "client_secret_env": "GRAPH_SECRET_TEST"})).client_secret
    monkeypatch.delenv("GRAPH_SECRET_TEST")
    with pytest.raises(BindingConfigError, match="GRAPH_SECRET_TEST is not set"):
        graph_settings(spec({**BASE, "client_secret_env": "GRAPH_SECRET_TEST"}))


def test_delegated_needs_a_stored_refresh_token() -> None:
    with pytest.raises(BindingConfigError, match="bridge graph authorize alice"):
        graph_settings(spec(BASE))
    made = graph_settings(spec(BASE, {"refresh_token": "rt"}))
    assert made.refresh_token == "rt" and not made.app_only


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        ({"tenant": ""}, "backend.tenant is missing"),
        ({"client_secret_file": "/nonexistent/secret"}, "client_secret_file '/nonexistent/secret'"),
        ({"certificate_file": "/x"}, "needs certificate_thumbprint"),
        ({"graph_url": "graph.microsoft.com"}, "backend.graph_url: not an http"),
        ({"batch_size": 50}, "1 to 20"),
        ({"unsupported_recurrence": "drop"}, "unsupported_recurrence"),
        ({"client_secret_env": "A", "client_secret_file": "/b"}, "not several"),
    ],
)
def test_bad_settings_name_the_key(extra: dict, named: str) -> None:
    with pytest.raises(BindingConfigError, match=named):
        graph_settings(spec({**BASE, **extra}, {"refresh_token": "rt"}))


def test_a_plain_http_authority_is_given_to_msal_as_https() -> None:
    made = graph_settings(
        spec({**BASE, "authority_host": "http://127.0.0.1:8123/"}, {"refresh_token": "rt"})
    )
    assert authority_of(made) == ("https://127.0.0.1:8123/contoso.example", "127.0.0.1:8123")
    default = graph_settings(spec(BASE, {"refresh_token": "rt"}))
    assert authority_of(default) == ("https://login.microsoftonline.com/contoso.example", "")


def test_entra_refusals_are_told_apart_without_the_secret() -> None:
    bad_secret = {
        "error": "invalid_client",
        "error_description": "AADSTS7000215: Invalid client secret provided. secret=abc",
        "error_codes": [7000215],
    }
    assert "invalid client secret" in describe_token_error(bad_secret)
    assert "abc" not in describe_token_error(bad_secret)
    assert "unknown tenant" in describe_token_error(
        {"error": "invalid_tenant", "error_codes": [90002]}
    )
    assert "unknown client id" in describe_token_error(
        {"error": "unauthorized_client", "error_codes": [700016]}
    )


def test_cursor_keeps_the_frozen_window() -> None:
    from datetime import UTC, datetime, timedelta

    now = datetime(2026, 3, 1, tzinfo=UTC)
    cursor = Cursor(
        "https://graph/delta?$deltatoken=x", now - timedelta(days=67), now + timedelta(days=372)
    )
    back = Cursor.load(cursor.dump())
    assert back == cursor
    assert back.covers(Window(now - timedelta(days=60), now + timedelta(days=365)))
    later = now + timedelta(days=8)
    assert not back.covers(Window(later - timedelta(days=60), later + timedelta(days=365)))
    with pytest.raises(ResyncRequired):
        Cursor.load("a google sync token")


def test_cursor_keeps_how_far_each_occurrence_group_reaches() -> None:
    import json
    from datetime import UTC, datetime, timedelta

    now = datetime(2026, 3, 1, tzinfo=UTC)
    group = "occurrences:5b0d7c1e-8f3e-4d55-9a7e-2c61f0a4b3d9:m-1"
    cursor = Cursor("link", now, now + timedelta(days=372), {group: now + timedelta(days=372)})
    back = Cursor.load(cursor.dump())
    assert back == cursor and back.groups == {group: now + timedelta(days=372)}
    older = json.dumps({"v": 1, "link": "link", "start": now.isoformat(), "end": now.isoformat()})
    assert Cursor.load(older).groups == {}  # a cursor written before the table: none known
    assert "groups" not in json.loads(Cursor("link", now, now).dump())
    with pytest.raises(ResyncRequired):
        Cursor.load(json.dumps({**json.loads(older), "groups": {group: "not a time"}}))
