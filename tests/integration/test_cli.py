"""The `bridge` command as an admin runs it: the example config, bad configs, plain Radicale."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import caldav

from tests.support import server as support
from tests.support.http import request, vevent

ROOT = Path(__file__).resolve().parents[2]


def run_bridge(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "bridge.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def copy_example(tmp_path: Path, port: int) -> Path:
    shutil.copytree(ROOT / "config", tmp_path / "config")
    config = tmp_path / "config" / "bridge.toml"
    config.write_text(config.read_text().replace("port = 5232", f"port = {port}"))
    return config


def test_example_config_serves_example_users_on_sqlite(tmp_path):
    port = support.free_port()
    config = copy_example(tmp_path, port)
    server = support.start(config, port, cwd=tmp_path)
    try:
        principal = caldav.DAVClient(
            url=server.url + "/", username="alice", password="alice"
        ).principal()
        names = {str(c.url).rstrip("/").rsplit("/", 1)[-1] for c in principal.calendars()}
        assert {"meetings", "meetings-bob", "meetings-carol"} <= names
        assert (tmp_path / "var" / "bridge.sqlite3").exists()
        assert request(server.url, "GET", "/alice/", user="alice", password="wrong").status == 401
    finally:
        server.stop()


def test_unknown_key_stops_serve_with_file_key_and_reason(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[server]\nprot = 5232\n[store]\nurl = "sqlite:///x.db"\n')
    result = run_bridge("serve", "--config", str(bad), cwd=tmp_path)
    assert result.returncode == 2
    assert str(bad) in result.stderr
    assert "server.prot" in result.stderr
    assert "did you mean 'port'" in result.stderr


def test_wrong_type_stops_serve_with_file_key_and_reason(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[server]\nport = "5232"\nauth = "none"\n')
    result = run_bridge("serve", "--config", str(bad), cwd=tmp_path)
    assert result.returncode == 2
    assert "server.port" in result.stderr and "integer" in result.stderr


def test_missing_config_file_is_named(tmp_path):
    result = run_bridge("serve", "--config", "nowhere.toml", cwd=tmp_path)
    assert result.returncode == 2
    assert "nowhere.toml" in result.stderr


def test_plain_radicale_with_the_plugin_by_configuration_alone(tmp_path):
    port = support.free_port()
    config = copy_example(tmp_path, support.free_port())
    # The admin puts the configured users into the database once...
    upgraded = run_bridge("db", "upgrade", "--config", str(config), cwd=tmp_path)
    assert upgraded.returncode == 0, upgraded.stderr
    # ...then runs stock Radicale with the example ini.
    ini = tmp_path / "config" / "radicale.ini"
    ini.write_text(ini.read_text().replace("127.0.0.1:5232", f"127.0.0.1:{port}"))
    log = (tmp_path / "radicale.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "radicale", "--config", str(ini)],
        cwd=tmp_path,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                answer = request(
                    url, "PUT", "/alice/meetings/r-1.ics", vevent("r-1", "Via Radicale")
                )
                break
            except OSError:
                assert process.poll() is None, (tmp_path / "radicale.log").read_text()
                assert time.monotonic() < deadline
                time.sleep(0.1)
        assert answer.status == 201, answer
        got = request(url, "GET", "/alice/meetings/r-1.ics")
        assert "Via Radicale" in got.body
        view = request(url, "GET", "/bob/meetings-alice/r-1.ics", user="bob")
        assert view.status == 200 and "Via Radicale" in view.body
    finally:
        process.terminate()
        process.wait(10)
