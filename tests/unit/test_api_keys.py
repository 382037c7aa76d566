"""``[[api.keys]]``: every mistake named by file, key and reason (a key pasted where its
hash belongs is never echoed), and the key check itself (sha256 and bcrypt hashes)."""

from __future__ import annotations

import bcrypt
import pytest

from bridge.api.keys import ApiKeys, hash_key, new_key
from bridge.config import ConfigError, parse_config

USERS = [
    {"login": "alice", "email": "alice@example.com"},
    {"login": "bob", "email": "bob@example.com"},
]
GOOD = hash_key("crmb_k")


def _parse(tmp_path, keys):
    data = {"server": {"auth": "none"}, "api": {"enabled": True, "keys": keys}, "users": USERS}
    return parse_config(data, file="b.toml", base_dir=tmp_path)


def test_keys_load(tmp_path):
    settings = _parse(
        tmp_path,
        [
            {"name": "crm", "hash": GOOD, "users": ["*"]},
            {"name": "a", "hash": hash_key("x"), "users": ["alice"]},
        ],
    )
    crm, alice = settings.api.keys
    assert crm.all_users and crm.covers("bob")
    assert not alice.all_users and alice.covers("alice") and not alice.covers("bob")


@pytest.mark.parametrize(
    ("keys", "where", "reason"),
    [
        (
            [{"name": "crm", "hash": "crmb_plain-key-pasted", "users": ["*"]}],
            "api.keys[0].hash",
            "bridge api hash-key",
        ),
        (
            [{"name": "crm", "hash": GOOD, "users": ["zoe"]}],
            "api.keys[0].users",
            "'zoe' is not a configured user",
        ),
        ([{"name": "crm", "hash": GOOD, "users": []}], "api.keys[0].users", 'be ["*"]'),
        (
            [{"name": "crm", "hash": GOOD, "users": ["*", "alice"]}],
            "api.keys[0].users",
            "list it alone",
        ),
        ([{"hash": GOOD, "users": ["*"]}], "api.keys[0].name", "is required"),
        ([{"name": "crm", "users": ["*"]}], "api.keys[0].hash", "is required"),
        (
            [{"name": "crm", "hash": GOOD, "users": ["*"], "key": "x"}],
            "api.keys[0].key",
            "unknown key",
        ),
        (
            [
                {"name": "crm", "hash": GOOD, "users": ["*"]},
                {"name": "crm", "hash": hash_key("y"), "users": ["*"]},
            ],
            "api.keys[1].name",
            "names another key",
        ),
        (
            [
                {"name": "a", "hash": GOOD, "users": ["*"]},
                {"name": "b", "hash": GOOD, "users": ["*"]},
            ],
            "api.keys[1].hash",
            "another key",
        ),
        ([{"name": "bad name", "hash": GOOD, "users": ["*"]}], "api.keys[0].name", "key name"),
        ({"name": "crm"}, "api.keys", "[[api.keys]]"),
    ],
)
def test_mistakes_are_named(tmp_path, keys, where, reason):
    with pytest.raises(ConfigError) as caught:
        _parse(tmp_path, keys)
    assert caught.value.file == "b.toml" and caught.value.key == where
    assert reason in caught.value.reason
    assert "crmb_plain-key-pasted" not in str(caught.value)


def test_key_check_sha256_and_bcrypt(tmp_path):
    plain, slow = new_key(), new_key()
    settings = _parse(
        tmp_path,
        [
            {"name": "fast", "hash": hash_key(plain), "users": ["alice"]},
            {
                "name": "slow",
                "hash": bcrypt.hashpw(slow.encode(), bcrypt.gensalt(4)).decode(),
                "users": ["bob"],
            },
        ],
    )
    keys = ApiKeys(settings.api.keys)
    assert keys.find(plain).name == "fast" and keys.find(slow).name == "slow"
    assert keys.find(slow).name == "slow"  # remembered: bcrypt is paid once
    assert keys.find(plain + "x") is None and keys.find("") is None and keys.find("x" * 600) is None
