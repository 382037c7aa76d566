"""[secrets] in the config file and the keyring it names: every problem names file, key
and reason; the default key file is created private at first start and then kept."""

from __future__ import annotations

import os
import stat
import textwrap
from pathlib import Path

import pytest

from bridge.config import ConfigError, load_config
from bridge.secret_box import Keyring, generate_key
from bridge.secret_keys import load_keyring


def write(tmp_path: Path, body: str, url: str | None = None) -> Path:
    url = url or f"sqlite:///{tmp_path}/data/bridge.sqlite3"
    path = tmp_path / "bridge.toml"
    path.write_text(f'[server]\nauth = "none"\n[store]\nurl = "{url}"\n' + textwrap.dedent(body))
    return path


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def expect(path: Path, key: str, *parts: str, keyring: bool = False) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        settings = load_config(path)
        if keyring:
            load_keyring(settings)
    assert (info.value.file, info.value.key) == (str(path), key), str(info.value)
    for part in parts:
        assert part in info.value.reason, str(info.value)
    return info.value


def test_default_key_file_is_made_beside_the_sqlite_database_once(tmp_path):
    settings = load_config(write(tmp_path, ""))
    key_file = tmp_path / "data" / "secret.key"
    assert settings.secrets.key_file == key_file and settings.secrets.create_key_file
    assert not key_file.exists()  # loading the config has no side effect

    first = load_keyring(settings)
    assert mode(key_file) == 0o600 and mode(key_file.parent) == 0o700
    text = key_file.read_text()
    second = load_keyring(settings)
    assert key_file.read_text() == text  # kept, not replaced
    assert second.decrypt(first.encrypt("x")) == "x"


def test_default_key_file_with_mysql_is_beside_the_config(tmp_path):
    settings = load_config(write(tmp_path, "", url="mysql+pymysql://root@127.0.0.1/bridge"))
    assert settings.secrets.key_file == tmp_path / "secret.key"


def test_key_file_with_several_keys(tmp_path):
    old, new = Keyring.generate(), generate_key()
    (tmp_path / "keys").write_text(f"# newest first\n{new}\n{old.keys[0]}\n")
    settings = load_config(write(tmp_path, '[secrets]\nkey_file = "keys"\n'))
    assert settings.secrets.key_file == tmp_path / "keys"
    assert not settings.secrets.create_key_file
    keyring = load_keyring(settings)
    assert keyring.keys == (new, old.keys[0])
    assert keyring.decrypt(old.encrypt("x")) == "x"


def test_key_env(tmp_path, monkeypatch):
    a, b = generate_key(), generate_key()
    monkeypatch.setenv("BRIDGE_TEST_KEYS", f"{a},{b}")
    settings = load_config(write(tmp_path, '[secrets]\nkey_env = "BRIDGE_TEST_KEYS"\n'))
    assert settings.secrets.key_file is None
    assert load_keyring(settings).keys == (a, b)
    assert not (tmp_path / "data" / "secret.key").exists()


@pytest.mark.parametrize(
    ("table", "key", "reason"),
    [
        ('key_fil = "x"', "secrets.key_fil", "(did you mean 'key_file'?)"),
        ('key_file = "missing.key"', "secrets.key_file", "key file not found"),
        ("key_file = 3", "secrets.key_file", "expected a string"),
        ('key_file = ""', "secrets.key_file", "must not be empty"),
        ('key_env = "1BAD-NAME"', "secrets.key_env", "not a valid environment variable name"),
        ('key_env = "A"\nkey_file = "k"', "secrets.key_env", "not both"),
    ],
)
def test_secrets_errors_name_key_and_reason(tmp_path, table, key, reason):
    (tmp_path / "k").write_text(generate_key())
    expect(write(tmp_path, "[secrets]\n" + table + "\n"), key, reason)


def test_secrets_must_be_a_table(tmp_path):
    path = tmp_path / "bridge.toml"
    path.write_text('secrets = "x"\n[server]\nauth = "none"\n')
    expect(path, "secrets", "expected a table")


def test_key_problems_found_when_loading_the_keys(tmp_path, monkeypatch):
    monkeypatch.delenv("BRIDGE_TEST_UNSET", raising=False)
    path = write(tmp_path, '[secrets]\nkey_env = "BRIDGE_TEST_UNSET"\n')
    expect(path, "secrets.key_env", "BRIDGE_TEST_UNSET is not set", keyring=True)

    monkeypatch.setenv("BRIDGE_TEST_BAD", f"{generate_key()},not-a-key")
    path = write(tmp_path, '[secrets]\nkey_env = "BRIDGE_TEST_BAD"\n')
    error = expect(path, "secrets.key_env", "key 2 is not a Fernet key", keyring=True)
    assert "not-a-key" not in str(error)

    (tmp_path / "keys").write_text("# nothing yet\n")
    path = write(tmp_path, '[secrets]\nkey_file = "keys"\n')
    expect(path, "secrets.key_file", "holds no key", keyring=True)
    (tmp_path / "keys").write_bytes(b"\xff\xfe")
    expect(path, "secrets.key_file", "cannot read", keyring=True)
