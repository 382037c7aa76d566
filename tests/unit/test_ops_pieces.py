"""The pure parts of the operations work: [logging], [api] admins and [server] run_dir
validated like every other key; log lines scrubbed of secrets; JSON lines; a stored
failure in plain words."""

from __future__ import annotations

import json
import logging

from bridge import log_context
from bridge.config import load_config
from bridge.log_setup import MASK, HumanFormatter, JsonFormatter, SecretSet, remember
from bridge.sync.status import plain_error
from tests.unit.test_config import USERS, expect_error, server_block, write


def test_logging_defaults_to_human_at_info(tmp_path):
    settings = load_config(write(tmp_path, server_block() + USERS))
    assert (settings.logging.format, settings.logging.level) == ("human", "info")
    assert settings.api.admins == () and settings.server.run_dir is None


def test_logging_keys_are_checked(tmp_path):
    path = write(tmp_path, server_block() + '[logging]\nformat = "xml"\n' + USERS)
    expect_error(path, "logging.format", "must be one of 'human', 'json', got 'xml'")
    path = write(tmp_path, server_block() + '[logging]\nlevel = "loud"\n' + USERS)
    expect_error(path, "logging.level", "must be one of")
    path = write(tmp_path, server_block() + '[logging]\nformt = "json"\n' + USERS)
    expect_error(path, "logging.formt", "did you mean")
    path = write(tmp_path, server_block() + '[api]\nadmins = "alice"\n' + USERS)
    expect_error(path, "api.admins", "expected an array")


def test_run_dir_is_relative_to_the_config_file(tmp_path):
    path = write(tmp_path, server_block('run_dir = "run"') + USERS)
    assert load_config(path).server.run_dir == tmp_path.resolve() / "run"


def test_known_secrets_and_secret_shapes_are_scrubbed():
    secrets = SecretSet()
    secrets.add(["refresh-token-123456", "short", "  padded-secret-99  "])
    text = "token refresh-token-123456 and short and padded-secret-99"
    assert secrets.scrub(text) == f"token {MASK} and short and {MASK}"
    assert secrets.scrub("Authorization: Bearer ya29.abc") == f"Authorization: Bearer {MASK}"
    assert secrets.scrub('{"access_token": "tok-1"}') == '{"access_token": "' + MASK + '"}'
    assert secrets.scrub("a=1&client_secret=xyz&b=2") == f"a=1&client_secret={MASK}&b=2"
    assert secrets.scrub("password file missing") == "password file missing"


def _record(message: str, *args) -> logging.LogRecord:
    return logging.LogRecord("bridge.sync", logging.WARNING, __file__, 1, message, args, None)


def test_json_lines_carry_the_context_and_no_secret():
    remember({"refresh_token": "stored-refresh-token-777"})
    filt = log_context.ContextFilter()
    with log_context.sync_round("alice/google") as round_id, log_context.request("req-1"):
        record = _record("failed with %s", "stored-refresh-token-777")
        filt.filter(record)
    data = json.loads(JsonFormatter().format(record))
    assert data["binding"] == "alice/google" and data["round"] == round_id
    assert data["request_id"] == "req-1" and data["level"] == "WARNING"
    assert data["logger"] == "bridge.sync" and data["message"] == f"failed with {MASK}"
    assert data["time"].endswith("Z")
    plain = _record("nothing to hide")
    filt.filter(plain)  # outside any round or request: empty context
    assert json.loads(JsonFormatter().format(plain))["binding"] == ""
    human = HumanFormatter().format(record)
    assert "stored-refresh-token-777" not in human and "[alice/google round" in human


def test_stored_failures_read_in_plain_words():
    assert plain_error("NotFound: events.list: HTTP 404") == (
        "The calendar was not found: events.list: HTTP 404"
    )
    assert plain_error("GoogleAuthError: invalid_grant").startswith("Google refused")
    assert plain_error("KeyError: 'x'") == "'x'"  # an unknown error class: the message
    assert plain_error("something odd") == "something odd"
    assert plain_error(None) == ""
