"""File modes: `bridge serve` creates its data directory 0700 and the SQLite database (with
its -wal and -shm files) and key file 0600 even under a permissive umask; `bridge check`
names every private file that is too open, its mode and the fix."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

from tests.support import server as support
from tests.support.http import request


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def check(config: Path, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "bridge.cli", "check", "--config", str(config)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_serve_creates_private_files_under_a_permissive_umask(tmp_path):
    data = tmp_path / "data"
    database = data / "bridge.sqlite3"
    port = support.free_port()
    config = support.write_config(tmp_path, f"sqlite:///{database}", port)
    os.chmod(tmp_path / "users.htpasswd", 0o600)  # copied from the repository as 0644
    previous = os.umask(0)  # the server inherits it: without care, files would be 0666
    try:
        server = support.start(config, port, cwd=tmp_path)
    finally:
        os.umask(previous)
    try:
        # A write, so the write-ahead log and shared memory files are in use.
        answer = request(server.url, "PUT", "/alice/meetings/m1.ics", _event())
        assert answer.status == 201, answer.body
        assert mode(data) == 0o700
        for path in (database, Path(f"{database}-wal"), Path(f"{database}-shm")):
            assert path.exists(), path
            assert mode(path) == 0o600, (path, oct(mode(path)))
        assert mode(data / "secret.key") == 0o600
    finally:
        server.stop()
    result = check(config, tmp_path)
    assert result.returncode == 0 and "permissions: ok" in result.stdout, result.stdout


def test_check_names_too_open_files_and_the_fix(tmp_path, db_url):
    database = tmp_path / "data" / "bridge.sqlite3"
    url = f"sqlite:///{database}" if db_url.startswith("sqlite") else db_url
    config = support.write_config(tmp_path, url, support.free_port())
    os.chmod(tmp_path / "users.htpasswd", 0o600)
    first = check(config, tmp_path)  # also creates the database and the key file
    assert first.returncode == 0, first.stdout + first.stderr
    assert "permissions: ok" in first.stdout

    htpasswd = tmp_path / "users.htpasswd"
    key_file = (database.parent if url.startswith("sqlite") else tmp_path) / "secret.key"
    os.chmod(htpasswd, 0o644)
    os.chmod(key_file, 0o640)
    expected = [
        f"htpasswd file {htpasswd} has mode 0644: its group and others can access it; "
        f"fix: chmod 600 {htpasswd}",
        f"key file {key_file} has mode 0640: its group can access it; fix: chmod 600 {key_file}",
    ]
    if url.startswith("sqlite"):
        os.chmod(database, 0o604)
        os.chmod(database.parent, 0o755)
        # SQLite gives the -wal and -shm files it creates the database file's mode.
        expected += [
            f"database file {path} has mode 0604: others can access it; fix: chmod 600 {path}"
            for path in (database, f"{database}-wal", f"{database}-shm")
        ]
        expected += [
            f"database directory {database.parent} has mode 0755: its group and others can "
            f"access it; fix: chmod 700 {database.parent}",
        ]
    result = check(config, tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    reported = [line for line in result.stdout.splitlines() if line.startswith("permissions:")]
    assert sorted(reported) == sorted(f"permissions: {line}" for line in expected)


def _event() -> str:
    from tests.support.http import vevent

    return vevent("m1", "Private file modes")
