"""`bridge check`, `sync` and `status` as an admin runs them, for a binding of every kind
(Google's `authorize` and a revoked token are in tests/integration/test_cli_sync.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.contract.config import binding_toml, store_secret
from tests.support.cli import bridge
from tests.support.databases import database


@pytest.fixture
def db(tmp_path: Path) -> Iterator[str]:
    with database("sqlite", tmp_path) as url:
        yield url


def test_check_sync_status(tmp_path, db, driver):
    kind = driver.kind
    config = tmp_path / "bridge.toml"
    binding = binding_toml(driver, 'conflict_policy = "newest"')
    config.write_text(
        f'[server]\nauth = "none"\n\n[store]\nurl = "{db}"\n\n'
        f'[[users]]\nlogin = "alice"\nemail = "alice@example.com"\n\n{binding}'
    )
    store_secret(config, driver)

    ok = bridge("check", "--config", str(config), cwd=tmp_path)
    assert ok.returncode == 0 and f"alice/{kind} ({kind}): ok" in ok.stdout, ok.stdout

    synced = bridge("sync", "alice", "--config", str(config), cwd=tmp_path)
    assert synced.returncode == 0, synced.stderr
    assert f"alice/{kind}: pulled 0, pushed 0" in synced.stdout

    status = bridge("status", "--config", str(config), cwd=tmp_path)
    assert f"alice/{kind} ({kind})" in status.stdout
    assert "last success: never" not in status.stdout

    unknown = bridge("sync", "zed", "--config", str(config), cwd=tmp_path)
    assert unknown.returncode != 0 and "no bindings for user 'zed'" in unknown.stderr
