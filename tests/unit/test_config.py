"""Tests for bridge.config: the example loads, and every problem names file, key and reason."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from bridge.config import (
    ApiSettings,
    ConfigError,
    ServerSettings,
    Settings,
    StoreSettings,
    UserSettings,
    load_config,
    parse_config,
)

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "config" / "bridge.toml"

USERS = """
[[users]]
login = "alice"
email = "alice@example.com"
can_see = ["bob"]

[[users]]
login = "bob"
email = "bob@example.com"
"""


def write(tmp_path: Path, body: str, *, htpasswd: bool = True) -> Path:
    if htpasswd:
        (tmp_path / "users.htpasswd").write_text("alice:$2b$10$x\n")
    path = tmp_path / "bridge.toml"
    path.write_text(textwrap.dedent(body))
    return path


def server_block(extra: str = "") -> str:
    return f'[server]\nhtpasswd = "users.htpasswd"\n{extra}\n'


def expect_error(path: Path, key: str, *reason_parts: str) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_config(path)
    err = info.value
    assert err.file == str(path)
    assert err.key == key, str(err)
    for part in reason_parts:
        assert part in err.reason, str(err)
    assert str(err) == f"{path}: {key}: {err.reason}"
    return err


# --------------------------------------------------------------------------- happy paths


def test_example_config_loads() -> None:
    settings = load_config(EXAMPLE)
    assert settings.path == EXAMPLE
    assert settings.server == ServerSettings(
        htpasswd=REPO / "config" / "users.htpasswd", auth="htpasswd"
    )
    assert settings.store == StoreSettings(url="sqlite:///var/bridge.sqlite3")
    assert [u.login for u in settings.users] == ["alice", "bob", "carol", "dave"]
    alice = settings.user("alice")
    assert alice == UserSettings(
        login="alice",
        email="alice@example.com",
        display_name="Alice Archer",
        can_see=("bob", "carol"),
    )
    assert settings.user("bob").can_see == ("alice",)
    assert settings.user("carol").can_see == ("alice",)
    assert settings.user("carol").can_book_for == ("bob",)
    assert settings.user("dave").can_see == ()
    assert settings.user("dave").can_book_for == ()
    assert settings.user("erin") is None


def test_example_htpasswd_matches_passwords() -> None:
    import bcrypt

    lines = (REPO / "config" / "users.htpasswd").read_text().splitlines()
    hashes = dict(line.split(":", 1) for line in lines)
    assert set(hashes) == {"alice", "bob", "carol", "dave"}
    for login, hashed in hashes.items():
        assert hashed.startswith("$2b$")
        assert bcrypt.checkpw(login.encode(), hashed.encode())


def test_example_radicale_ini_is_accepted_by_radicale() -> None:
    from radicale import config as radicale_config

    conf = radicale_config.load([(str(REPO / "config" / "radicale.ini"), False)])
    assert conf.get("storage", "type") == "bridge.storage_plugin"
    assert conf.get("storage", "url") == "sqlite:///var/bridge.sqlite3"
    assert conf.get("rights", "type") == "bridge.rights"
    assert conf.get("auth", "type") == "htpasswd"
    assert conf.get("auth", "htpasswd_encryption") == "bcrypt"
    assert conf.get("server", "hosts") == [("127.0.0.1", 5232)]


def test_defaults_and_display_name(tmp_path: Path) -> None:
    path = write(tmp_path, server_block() + USERS)
    settings = load_config(path)
    assert isinstance(settings, Settings)
    assert settings.server.host == "127.0.0.1"
    assert settings.server.port == 5232
    assert settings.server.htpasswd == tmp_path / "users.htpasswd"
    assert settings.server.max_body_bytes == 10_000_000
    assert settings.server.max_resource_bytes == 1_000_000
    assert settings.server.radicale_extra == {}
    assert settings.store == StoreSettings()
    assert settings.user("bob").display_name == "bob"


def test_auth_none_without_htpasswd(tmp_path: Path) -> None:
    path = write(tmp_path, '[server]\nauth = "none"\n', htpasswd=False)
    settings = load_config(path)
    assert settings.server.auth == "none"
    assert settings.server.htpasswd is None
    assert settings.users == ()


def test_radicale_extra_passthrough(tmp_path: Path) -> None:
    extra = (
        '[server.radicale.logging]\nlevel = "debug"\n'
        '[server.radicale.auth]\ncache_logins = "true"\n'
    )
    settings = load_config(write(tmp_path, server_block() + extra))
    assert settings.server.radicale_extra == {
        "logging": {"level": "debug"},
        "auth": {"cache_logins": "true"},
    }


def test_mysql_url_accepted(tmp_path: Path) -> None:
    url = "mysql+pymysql://user:pass@db.example.com/bridge?charset=utf8mb4"
    settings = load_config(write(tmp_path, server_block() + f'[store]\nurl = "{url}"\n'))
    assert settings.store.url == url


def test_parse_config_directly(tmp_path: Path) -> None:
    (tmp_path / "pw").write_text("")
    data = {
        "server": {"htpasswd": "pw", "port": 8000},
        "users": [{"login": "x", "email": "x@y"}],
    }
    settings = parse_config(data, file="<memory>", base_dir=tmp_path)
    assert settings.server.port == 8000
    assert settings.server.htpasswd == tmp_path / "pw"
    with pytest.raises(ConfigError) as info:
        parse_config({"server": {"port": "80"}}, file="<memory>", base_dir=tmp_path)
    assert str(info.value) == "<memory>: server.port: expected an integer, got string '80'"


# --------------------------------------------------------------------------- file-level errors


def test_missing_file(tmp_path: Path) -> None:
    expect_error(tmp_path / "nope.toml", "(file)", "not found")


def test_toml_syntax_error_has_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path, '[server]\nport = \nhost = "x"\n')
    err = expect_error(path, "line 2, column 8", "TOML syntax error")
    assert "Invalid value" in err.reason


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "bridge.toml"
    path.write_bytes(b'[server]\nhost = "\xff"\n')
    expect_error(path, "(file)", "UTF-8")


# --------------------------------------------------------------------------- unknown keys


@pytest.mark.parametrize(
    ("body", "key", "reason"),
    [
        ("[sever]\n", "sever", "unknown key 'sever' (did you mean 'server'?)"),
        (server_block("prot = 1"), "server.prot", "unknown key 'prot' (did you mean 'port'?)"),
        (server_block() + "[store]\nurll = 'sqlite://'\n", "store.urll", "(did you mean 'url'?)"),
        (
            server_block() + '[[users]]\nlogin = "a"\nemail = "a@b"\ncansee = []\n',
            "users[0].cansee",
            "unknown key 'cansee' (did you mean 'can_see'?)",
        ),
        (server_block("zzz = 1"), "server.zzz", "unknown key 'zzz'"),
        (
            server_block() + "[server.radicale.loging]\nlevel = 'debug'\n",
            "server.radicale.loging",
            "(did you mean 'logging'?)",
        ),
        (
            server_block() + "[server.radicale.logging]\nlevle = 'debug'\n",
            "server.radicale.logging.levle",
            "(did you mean 'level'?)",
        ),
    ],
)
def test_unknown_keys(tmp_path: Path, body: str, key: str, reason: str) -> None:
    err = expect_error(write(tmp_path, body), key, reason)
    if "zzz" in key:
        assert "did you mean" not in err.reason


# --------------------------------------------------------------------------- wrong types


@pytest.mark.parametrize(
    ("body", "key", "reason"),
    [
        (server_block('port = "5232"'), "server.port", "expected an integer, got string '5232'"),
        (server_block("port = true"), "server.port", "expected an integer, got boolean true"),
        (server_block("port = 52.5"), "server.port", "expected an integer, got float 52.5"),
        (server_block("host = 1"), "server.host", "expected a string, got integer 1"),
        ("server = 5\n", "server", "expected a table, got integer 5"),
        (
            server_block() + "[users]\nlogin = 'a'\n",
            "users",
            "expected an array of tables ([[users]]), got table",
        ),
        (
            server_block() + '[[users]]\nlogin = "a"\nemail = "a@b"\ncan_see = "b"\n',
            "users[0].can_see",
            "expected an array, got string 'b'",
        ),
        (
            server_block() + '[[users]]\nlogin = "a"\nemail = "a@b"\ncan_see = [1]\n',
            "users[0].can_see[0]",
            "expected a string, got integer 1",
        ),
        (
            server_block() + "[store]\nchange_retention_days = 1979-05-27\n",
            "store.change_retention_days",
            "expected an integer, got date 1979-05-27",
        ),
        (
            server_block() + "[server.radicale.logging]\nlevel = 3\n",
            "server.radicale.logging.level",
            "expected a string, got integer 3",
        ),
        (server_block('auth = "ldap"'), "server.auth", "must be one of 'htpasswd', 'none'"),
    ],
)
def test_wrong_types(tmp_path: Path, body: str, key: str, reason: str) -> None:
    expect_error(write(tmp_path, body), key, reason)


# --------------------------------------------------------------------------- ranges


@pytest.mark.parametrize(
    ("body", "key", "reason"),
    [
        (server_block("port = 70000"), "server.port", "between 0 and 65535, got 70000"),
        (server_block("port = -1"), "server.port", "between 0 and 65535, got -1"),
        ("[store]\nchange_retention_days = 0\n", "store.change_retention_days", "between 1"),
        ("[store]\nchange_retention_days = 3651\n", "store.change_retention_days", "3650"),
        ("[store]\nmax_occurrences = 100001\n", "store.max_occurrences", "between 1 and 100000"),
        ("[store]\nindex_horizon_days = 29\n", "store.index_horizon_days", "between 30 and 36500"),
        (
            server_block("max_body_bytes = 5000\nmax_resource_bytes = 6000"),
            "server.max_resource_bytes",
            "must not exceed server.max_body_bytes",
        ),
    ],
)
def test_out_of_range(tmp_path: Path, body: str, key: str, reason: str) -> None:
    if body.startswith("[store]"):
        body = server_block() + body
    expect_error(write(tmp_path, body), key, reason)


# --------------------------------------------------------------------------- users


def users_config(*tables: str) -> str:
    return server_block() + "".join(f"[[users]]\n{textwrap.dedent(t)}\n" for t in tables)


@pytest.mark.parametrize(
    ("tables", "key", "reason"),
    [
        (
            ['login = "alice"\nemail = "a@x"', 'login = "alice"\nemail = "b@x"'],
            "users[1].login",
            "duplicate login 'alice' (also users[0])",
        ),
        (
            ['login = "a"\nemail = "Same@X.org"', 'login = "b"\nemail = "same@x.org"'],
            "users[1].email",
            "duplicate email 'same@x.org' (also users[0])",
        ),
        (
            ['login = "a"\nemail = "a@x"\ncan_see = ["bob"]', 'login = "bob"\nemail = "b@x"'],
            None,
            None,
        ),
        (
            [
                'login = "a"\nemail = "a@x"\ncan_see = ["bob", "bobb"]',
                'login = "bob"\nemail = "b@x"',
            ],
            "users[0].can_see[1]",
            "unknown user 'bobb' (did you mean 'bob'?)",
        ),
        (
            ['login = "a"\nemail = "a@x"\ncan_see = ["a"]'],
            "users[0].can_see[0]",
            "cannot list itself",
        ),
        (
            ['login = "a"\nemail = "a@x"\ncan_see = ["b", "b"]', 'login = "b"\nemail = "b@x"'],
            "users[0].can_see[1]",
            "listed twice",
        ),
        (
            ['login = "a"\nemail = "a@x"\ncan_book_for = ["bob"]', 'login = "bob"\nemail = "b@x"'],
            None,
            None,
        ),
        (
            ['login = "a"\nemail = "a@x"\ncan_book_for = ["bobb"]', 'login = "bob"\nemail = "b@x"'],
            "users[0].can_book_for[0]",
            "unknown user 'bobb' (did you mean 'bob'?)",
        ),
        (
            ['login = "a"\nemail = "a@x"\ncan_book_for = ["a"]'],
            "users[0].can_book_for[0]",
            "cannot list itself",
        ),
        (
            ['login = "a"\nemail = "a@x"\ncan_book_for = ["b", "b"]', 'login = "b"\nemail = "b@x"'],
            "users[0].can_book_for[1]",
            "listed twice",
        ),
        (
            ['login = "a"\nemail = "a@x"\ncan_book_for = "b"', 'login = "b"\nemail = "b@x"'],
            "users[0].can_book_for",
            "",
        ),
        (['login = "Alice"\nemail = "a@x"'], "users[0].login", "'Alice' is not a valid login"),
        (['login = "-a"\nemail = "a@x"'], "users[0].login", "not a valid login"),
        ([f'login = "{"a" * 65}"\nemail = "a@x"'], "users[0].login", "not a valid login"),
        (['login = "a b"\nemail = "a@x"'], "users[0].login", "not a valid login"),
        (['login = "a"\nemail = "ax"'], "users[0].email", "not an e-mail address"),
        (['login = "a"\nemail = "a@@x"'], "users[0].email", "not an e-mail address"),
        (['email = "a@x"'], "users[0].login", "missing required key"),
        (['login = "a"'], "users[0].email", "missing required key"),
    ],
)
def test_user_errors(tmp_path: Path, tables: list[str], key: str | None, reason: str) -> None:
    path = write(tmp_path, users_config(*tables))
    if key is None:
        load_config(path)  # the valid control case
        return
    expect_error(path, key, reason)


# --------------------------------------------------------------------------- store url


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("not a url", "not a valid SQLAlchemy URL"),
        ("postgresql://u@h/db", "unsupported database 'postgresql'"),
        ("mysql://u@h/db", "use 'mysql+pymysql://...'"),
        ("mysql+pymysql://u@h", "must name a database"),
        ("", "must not be empty"),
    ],
)
def test_bad_store_url(tmp_path: Path, url: str, reason: str) -> None:
    path = write(tmp_path, server_block() + f'[store]\nurl = "{url}"\n')
    expect_error(path, "store.url", reason)


# --------------------------------------------------------------------------- htpasswd / auth


def test_htpasswd_file_missing(tmp_path: Path) -> None:
    path = write(tmp_path, '[server]\nhtpasswd = "missing.htpasswd"\n')
    expect_error(path, "server.htpasswd", "not found", str(tmp_path / "missing.htpasswd"))


def test_htpasswd_key_required_for_htpasswd_auth(tmp_path: Path) -> None:
    expect_error(write(tmp_path, "[server]\n"), "server.htpasswd", "missing required key")
    expect_error(write(tmp_path, ""), "server.htpasswd", "missing required key")


def test_htpasswd_with_auth_none_rejected(tmp_path: Path) -> None:
    path = write(tmp_path, server_block('auth = "none"'))
    expect_error(path, "server.htpasswd", "must not be set")


def test_radicale_extra_cannot_override_bridge_options(tmp_path: Path) -> None:
    path = write(tmp_path, server_block() + "[server.radicale.storage]\ntype = 'multifilesystem'\n")
    expect_error(path, "server.radicale.storage.type", "set by the bridge")
    path = write(tmp_path, server_block() + "[server.radicale.server]\nhosts = '0.0.0.0:1'\n")
    expect_error(path, "server.radicale.server.hosts", "use server.host / server.port")


def test_config_error_attributes() -> None:
    err = ConfigError("f.toml", "server.port", "bad")
    assert (err.file, err.key, err.reason) == ("f.toml", "server.port", "bad")
    assert str(err) == "f.toml: server.port: bad"


# --------------------------------------------------------------------------- bindings


def _with_binding(binding: dict) -> dict:
    return {
        "server": {"auth": "none"},
        "users": [{"login": "alice", "email": "alice@example.com", "bindings": [binding]}],
    }


def test_binding_with_rules_loads(tmp_path):
    settings = parse_config(
        _with_binding(
            {
                "name": "google",
                "kind": "google",
                "backend": {"calendar_id": "primary", "requests_per_second": 5},
                "rules": {
                    "conflict_policy": "newest",
                    "crm_to_calendar": {"history_days": 60, "forward_days": 365},
                    "calendar_to_crm": {"default_activity_type": "", "private_policy": "busy"},
                },
            }
        ),
        file="b.toml",
        base_dir=tmp_path,
    )
    binding = settings.users[0].bindings[0]
    assert binding.kind == "google" and binding.backend["calendar_id"] == "primary"
    assert binding.rules.conflict_policy == "newest"
    assert binding.rules.calendar_to_crm.private_policy == "busy"


@pytest.mark.parametrize(
    ("binding", "key", "reason"),
    [
        (
            {"name": "g", "kind": "google", "rules": {"crm_to_calendar": {"history_days": 61}}},
            "users[0].bindings[0].rules.crm_to_calendar.history_days",
            "at most 60 days",
        ),
        (
            {"name": "g", "kind": "google", "rules": {"calendar_to_crm": {"forward_days": 400}}},
            "users[0].bindings[0].rules.calendar_to_crm.forward_days",
            "at most 365 days",
        ),
        ({"name": "g", "kind": "lotus-notes"}, "users[0].bindings[0].kind", "lotus-notes"),
        (
            {"name": "c", "kind": "caldav", "backend": {"usernme": "alice"}},
            "users[0].bindings[0].backend.usernme",
            "did you mean username",
        ),
        ({"kind": "google"}, "users[0].bindings[0].name", "missing required key"),
        ({"name": "g", "kind": "google", "colour": 1}, "users[0].bindings[0].colour", "unknown"),
        (
            {"name": "g", "kind": "google", "backend": {"calendar_id": ["a"]}},
            "users[0].bindings[0].backend.calendar_id",
            "expected",
        ),
    ],
)
def test_binding_errors_name_key_and_reason(tmp_path, binding, key, reason):
    with pytest.raises(ConfigError) as caught:
        parse_config(_with_binding(binding), file="b.toml", base_dir=tmp_path)
    assert caught.value.file == "b.toml"
    assert caught.value.key == key
    assert reason in caught.value.reason


def test_duplicate_binding_names_are_refused(tmp_path):
    data = _with_binding({"name": "g", "kind": "google"})
    data["users"][0]["bindings"].append({"name": "g", "kind": "graph"})
    with pytest.raises(ConfigError) as caught:
        parse_config(data, file="b.toml", base_dir=tmp_path)
    assert caught.value.key == "users[0].bindings[1].name"


# --------------------------------------------------------------------------- [api]


def test_api_defaults_to_off(tmp_path):
    settings = load_config(write(tmp_path, server_block() + USERS))
    assert settings.api == ApiSettings()
    assert settings.api.enabled is False and settings.api.port == 5233
    assert settings.api.push_base_url == ""


def test_api_table_loads(tmp_path):
    body = server_block() + (
        '[api]\nenabled = true\nhost = "0.0.0.0"\nport = 0\n'
        'public_url = "https://bridge.example.com/crm/"\n'
        "channel_ttl_seconds = 7200\nrenew_before_seconds = 600\nrequest_seconds = 5\n"
    )
    api = load_config(write(tmp_path, body)).api
    assert (api.enabled, api.host, api.port) == (True, "0.0.0.0", 0)
    assert (api.channel_ttl_seconds, api.renew_before_seconds) == (7200, 600)
    assert api.request_seconds == 5
    assert api.push_base_url == "https://bridge.example.com/crm"


@pytest.mark.parametrize(
    ("table", "key", "reason"),
    [
        ("prot = 1", "api.prot", "(did you mean 'port'?)"),
        ("enabled = 1", "api.enabled", "expected a boolean"),
        ("port = 70000", "api.port", "between 0 and 65535"),
        ("port = '80'", "api.port", "expected an integer"),
        ("enabled = true\npublic_url = 'ftp://x'", "api.public_url", "not an http(s) URL"),
        ("enabled = true\npublic_url = 'https://'", "api.public_url", "not an http(s) URL"),
        ("enabled = true\npublic_url = 'https://x/?a=1'", "api.public_url", "query"),
        ("public_url = 'https://x'", "api.public_url", "needs api.enabled = true"),
        ("channel_ttl_seconds = 10", "api.channel_ttl_seconds", "between"),
        ("request_seconds = 0", "api.request_seconds", "between 1 and 3600"),
        ("request_seconds = 2.5", "api.request_seconds", "expected an integer"),
        (
            "channel_ttl_seconds = 3600\nrenew_before_seconds = 3600",
            "api.renew_before_seconds",
            "less than api.channel_ttl_seconds (3600)",
        ),
    ],
)
def test_api_errors_name_key_and_reason(tmp_path, table, key, reason):
    expect_error(write(tmp_path, server_block() + "[api]\n" + table + "\n"), key, reason)


def test_api_must_be_a_table(tmp_path):
    expect_error(write(tmp_path, 'api = "on"\n' + server_block()), "api", "expected a table")


def test_api_push_coalesce_seconds(tmp_path):
    assert load_config(write(tmp_path, server_block() + USERS)).api.push_coalesce_seconds == 2
    body = server_block() + "[api]\nenabled = true\npush_coalesce_seconds = 0\n"
    assert load_config(write(tmp_path, body)).api.push_coalesce_seconds == 0
    body = server_block() + "[api]\npush_coalesce_seconds = 301\n"
    expect_error(write(tmp_path, body), "api.push_coalesce_seconds", "between 0 and 300")


# --------------------------------------------------------------------------- [sync]


def test_sync_leases_default_to_five_second_heartbeats(tmp_path):
    sync = load_config(write(tmp_path, server_block() + USERS)).sync
    assert (sync.heartbeat_seconds, sync.lease_seconds) == (5, 15)
    body = server_block() + "[sync]\nheartbeat_seconds = 2\nlease_seconds = 4\n"
    sync = load_config(write(tmp_path, body)).sync
    assert (sync.heartbeat_seconds, sync.lease_seconds) == (2, 4)


def test_sync_polls_every_minute_unless_told(tmp_path):
    from bridge.wiring import scheduler_timing

    settings = load_config(write(tmp_path, server_block() + USERS))
    assert settings.sync.poll_seconds == 60
    assert scheduler_timing(settings).poll_seconds == 60
    settings = load_config(write(tmp_path, server_block() + "[sync]\npoll_seconds = 300\n"))
    assert scheduler_timing(settings).poll_seconds == 300


def test_sync_pace_defaults_and_reaches_the_scheduler(tmp_path):
    from bridge.wiring import scheduler_timing

    timing = scheduler_timing(load_config(write(tmp_path, server_block() + USERS)))
    assert (timing.rounds_at_once, timing.rounds_per_account, timing.pass_size) == (4, 4, 100)
    body = "[sync]\nrounds_at_once = 8\nrounds_per_account = 2\npass_size = 500\n"
    timing = scheduler_timing(load_config(write(tmp_path, server_block() + body)))
    assert (timing.rounds_at_once, timing.rounds_per_account, timing.pass_size) == (8, 2, 500)


@pytest.mark.parametrize(
    ("table", "key", "reason"),
    [
        ("lease_second = 9", "sync.lease_second", "(did you mean 'lease_seconds'?)"),
        ("heartbeat_seconds = 0", "sync.heartbeat_seconds", "between 1 and 300"),
        ("lease_seconds = 1.5", "sync.lease_seconds", "expected an integer"),
        ("lease_seconds = 9", "sync.lease_seconds", "at least twice sync.heartbeat_seconds (5)"),
        ("heartbeat_seconds = 10", "sync.lease_seconds", "got 15"),
        ("poll_seconds = 1", "sync.poll_seconds", "between 5 and 86400"),
        ("rounds_per_account = 0", "sync.rounds_per_account", "between 1 and 64, got 0"),
        ("rounds_at_once = 100", "sync.rounds_at_once", "between 1 and 64, got 100"),
        ('pass_size = "ten"', "sync.pass_size", "expected an integer"),
        ("rounds_per_acount = 2", "sync.rounds_per_acount", "'rounds_per_account'"),
    ],
)
def test_sync_errors_name_key_and_reason(tmp_path, table, key, reason):
    expect_error(write(tmp_path, server_block() + "[sync]\n" + table + "\n"), key, reason)


# --------------------------------------------------------------------------- backend settings


def test_a_misspelt_backend_key_names_file_binding_key_and_the_likely_one(tmp_path):
    binding = {"name": "g", "kind": "google", "backend": {"clien_id": "x"}}
    with pytest.raises(ConfigError) as caught:
        parse_config(_with_binding(binding), file="config.toml", base_dir=tmp_path)
    assert str(caught.value) == (
        "config.toml: users[0].bindings[0].backend.clien_id: "
        "unknown key for a google binding; did you mean client_id?"
    )


@pytest.mark.parametrize(
    ("backend", "key", "reason"),
    [
        ({"colour": "red"}, "colour", "unknown key for a google binding"),
        ({"requests_per_second": "fast"}, "requests_per_second", "expected a number"),
        ({"page_size": 2.5}, "page_size", "expected an integer"),
        ({"calendar_id": True}, "calendar_id", "expected a string, got boolean true"),
    ],
)
def test_backend_settings_are_checked_against_the_kind(tmp_path, backend, key, reason):
    binding = {"name": "g", "kind": "google", "backend": backend}
    with pytest.raises(ConfigError) as caught:
        parse_config(_with_binding(binding), file="b.toml", base_dir=tmp_path)
    assert caught.value.key == f"users[0].bindings[0].backend.{key}"
    assert caught.value.reason.startswith(reason)
    assert "did you mean" not in caught.value.reason


def test_every_google_setting_the_backend_reads_is_accepted(tmp_path):
    from bridge.backends.google.settings import GOOGLE

    backend = {
        key: {str: "x", int: 1, float: 1.5, bool: True}[setting.type]
        for key, setting in GOOGLE.settings.items()
    }
    settings = parse_config(
        _with_binding({"name": "g", "kind": "google", "backend": backend}),
        file="b.toml",
        base_dir=tmp_path,
    )
    assert settings.users[0].bindings[0].backend == backend


def test_a_kind_brings_its_own_schema(tmp_path, monkeypatch):
    from bridge.backends import kinds
    from bridge.backends.settings_schema import KindSchema, Setting

    monkeypatch.setattr(kinds, "_KINDS", dict(kinds._KINDS))
    kinds.register(KindSchema("othercal", {"mailbox": Setting(str, identity=True)}))
    ok = parse_config(
        _with_binding({"name": "o", "kind": "othercal", "backend": {"mailbox": "a@x.org"}}),
        file="b.toml",
        base_dir=tmp_path,
    )
    assert ok.users[0].bindings[0].kind == "othercal"
    with pytest.raises(ConfigError) as caught:
        parse_config(
            _with_binding({"name": "o", "kind": "othercal", "backend": {"calendar_id": "p"}}),
            file="b.toml",
            base_dir=tmp_path,
        )
    assert caught.value.reason == "unknown key for a othercal binding"


def test_rules_have_one_canonical_mapping():
    from bridge.sync.rules import SyncRules

    explicit = {
        "crm_to_calendar": {"forward_days": 365, "create_types": ["meeting", "appointment"]}
    }
    assert SyncRules.from_mapping(explicit, where="r").to_mapping() == SyncRules().to_mapping()
    spelt = {"crm_to_calendar": {"create_types": ["b", "a"]}, "conflict_policy": "newest"}
    rules = SyncRules.from_mapping(spelt, where="rules")
    assert rules.to_mapping()["crm_to_calendar"]["create_types"] == ["a", "b"]
    assert rules.to_mapping() != SyncRules().to_mapping()
    assert SyncRules.from_mapping(rules.to_mapping(), where="rules") == rules
