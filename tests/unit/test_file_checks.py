"""`bridge check`'s private files include those a binding names that its kind's schema marks
private: a Google service-account file, a CalDAV password file."""

from __future__ import annotations

import os

from bridge.config import parse_config
from bridge.file_checks import permission_problems


def _config(tmp_path, bindings: list[dict]):
    return parse_config(
        {
            "server": {"auth": "none"},
            "store": {"url": "mysql+pymysql://root@127.0.0.1/test"},
            "users": [{"login": "alice", "email": "alice@example.com", "bindings": bindings}],
        },
        file="b.toml",
        base_dir=tmp_path,
    )


def test_binding_files_marked_private_by_their_kind_are_checked(tmp_path):
    password, account = tmp_path / "caldav.pw", tmp_path / "account.json"
    for path in (password, account):
        path.write_text("x")
        os.chmod(path, 0o644)
    settings = _config(
        tmp_path,
        [
            {
                "name": "dav",
                "kind": "caldav",
                "backend": {
                    "url": "https://dav.example.org/cal/",
                    "username": "alice",
                    "password_file": str(password),
                },
            },
            {
                "name": "g",
                "kind": "google",
                "backend": {"service_account_file": str(account), "subject": "a@x.org"},
            },
        ],
    )
    found = {(str(p.path), p.what) for p in permission_problems(settings)}
    assert found == {(str(password), "password file"), (str(account), "service-account file")}
    for path in (password, account):
        os.chmod(path, 0o600)
    assert permission_problems(settings) == []
