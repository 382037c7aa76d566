"""Database URLs for tests: a fresh SQLite file, or a fresh MariaDB/MySQL database.

MariaDB is reached through BRIDGE_TEST_MYSQL_URL (default: root@127.0.0.1:3306/test).
When BRIDGE_REQUIRE_MYSQL=1 (CI), a MariaDB that does not answer fails the test.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

MYSQL_URL = os.environ.get("BRIDGE_TEST_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306/test")
REQUIRE_MYSQL = os.environ.get("BRIDGE_REQUIRE_MYSQL") == "1" or os.environ.get("CI") == "true"


@contextmanager
def mysql_database() -> Iterator[str]:
    """A new, empty database on the MariaDB server; dropped afterwards."""
    admin_url = make_url(MYSQL_URL)
    name = f"bridge_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
    except Exception as error:  # noqa: BLE001
        admin.dispose()
        if REQUIRE_MYSQL:
            pytest.fail(f"MariaDB at {MYSQL_URL} is required here but failed: {error}")
        pytest.skip(f"MariaDB not reachable at {MYSQL_URL}: {error}")
    try:
        yield admin_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
        admin.dispose()


@contextmanager
def database(kind: str, tmp_path: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'bridge.sqlite3'}"
    else:
        with mysql_database() as url:
            yield url
