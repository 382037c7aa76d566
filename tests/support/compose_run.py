"""Run what docker/compose.yaml runs, outside a container: each bridge service's command
through docker/entrypoint.sh with the service's environment, its config directory (the
read-only volume) and its secrets (/run/secrets) mapped to directories of the test."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import yaml
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.support.databases import MYSQL_URL
from tests.support.server import ROOT

DOCKER = ROOT / "docker"
ENTRYPOINT = DOCKER / "entrypoint.sh"
IMAGE = "crm-calendar-bridge:latest"


def compose() -> dict:
    return yaml.safe_load((DOCKER / "compose.yaml").read_text())


def bridge_services(spec: dict) -> dict[str, dict]:
    """The services that run the bridge's image."""
    return {name: s for name, s in spec["services"].items() if s.get("image") == IMAGE}


def healthcheck_command() -> list[str]:
    """The Dockerfile's HEALTHCHECK CMD (exec form)."""
    text_ = (DOCKER / "Dockerfile").read_text().replace("\\\n", " ")
    found = re.search(r"^HEALTHCHECK .*?CMD (\[.*\])\s*$", text_, re.M)
    assert found, "the Dockerfile has no HEALTHCHECK CMD in exec form"
    return json.loads(found.group(1))


def entrypoint_command() -> list[str]:
    found = re.search(r"^ENTRYPOINT (\[.*\])\s*$", (DOCKER / "Dockerfile").read_text(), re.M)
    assert found, "the Dockerfile has no ENTRYPOINT in exec form"
    return json.loads(found.group(1))


@dataclass
class Host:
    """Where a container's paths live in the test: /etc/bridge and /run/secrets."""

    root: Path
    config_dir: Path
    secrets_dir: Path
    bin_dir: Path
    db_url: str

    def path(self, container_path: str) -> str:
        for inside, outside in (
            ("/etc/bridge", self.config_dir),
            ("/run/secrets", self.secrets_dir),
        ):
            if container_path == inside or container_path.startswith(inside + "/"):
                return str(outside) + container_path[len(inside) :]
        return container_path

    def environment(self, service: dict, **overrides: str) -> dict[str, str]:
        env = dict(os.environ)
        for key, value in (service.get("environment") or {}).items():
            env[key] = self.path(str(value))
        env.update(overrides)
        env["PATH"] = f"{self.bin_dir}{os.pathsep}{env.get('PATH', '')}"
        env["PYTHONPATH"] = str(ROOT)
        return env

    def command(self, args: list[str]) -> list[str]:
        """An exec-form command as the image runs it: the entrypoint, then the arguments."""
        assert entrypoint_command() == ["bridge-entrypoint"]
        return ["sh", str(ENTRYPOINT), *(self.path(arg) for arg in args)]


def _shims(bin_dir: Path) -> None:
    """`bridge` and `python` as the image has them (the console script, the interpreter)."""
    bin_dir.mkdir()
    python = shlex.quote(sys.executable)
    for name, body in (
        ("bridge", f'exec {python} -m bridge.cli "$@"'),
        ("python", f'exec {python} "$@"'),
    ):
        path = bin_dir / name
        path.write_text(f"#!/bin/sh\n{body}\n")
        path.chmod(0o755)


@contextmanager
def mysql_user_database() -> Iterator[tuple[str, str, str]]:
    """A database and a user with a password of their own: (name, user, password)."""
    admin = create_engine(make_url(MYSQL_URL), isolation_level="AUTOCOMMIT")
    tag = f"{os.getpid()}_{uuid.uuid4().hex[:6]}"
    name, user, password = f"bridge_compose_test_{tag}", f"bridge_c{tag}", uuid.uuid4().hex
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
        for host in ("%", "localhost", "127.0.0.1"):
            conn.execute(text(f"CREATE USER '{user}'@'{host}' IDENTIFIED BY '{password}'"))
            conn.execute(text(f"GRANT ALL ON `{name}`.* TO '{user}'@'{host}'"))
    try:
        yield name, user, password
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
            for host in ("%", "localhost", "127.0.0.1"):
                conn.execute(text(f"DROP USER IF EXISTS '{user}'@'{host}'"))
        admin.dispose()


def replace_once(text_: str, old: str, new: str) -> str:
    assert text_.count(old) == 1, f"expected {old!r} once in the example config"
    return text_.replace(old, new)


def prepare(
    root: Path,
    database: tuple[str, str, str],
    caldav_port: int,
    api_port: int,
    extra: str,
    poll_seconds: int,
) -> Host:
    """The example config (docker/config) with the database, ports and secrets of the test."""
    name, user, password = database
    config_dir, secrets_dir = root / "etc-bridge", root / "run-secrets"
    config_dir.mkdir()
    secrets_dir.mkdir(mode=0o700)
    for source in (DOCKER / "config").iterdir():
        (config_dir / source.name).write_bytes(source.read_bytes())
        (config_dir / source.name).chmod(0o600)
    host = Host(root, config_dir, secrets_dir, root / "bin", "")
    config = (config_dir / "bridge.toml").read_text()
    config = replace_once(config, "@db:3306/bridge?", f"@127.0.0.1:3306/{name}?")
    config = replace_once(config, "mysql+pymysql://bridge@", f"mysql+pymysql://{user}@")
    config = replace_once(config, "port = 5232", f"port = {caldav_port}")
    config = replace_once(config, "port = 5233", f"port = {api_port}")
    config = replace_once(config, "poll_seconds = 60", f"poll_seconds = {poll_seconds}")
    config = config.replace('host = "0.0.0.0"', 'host = "127.0.0.1"')
    config = re.sub(r"/run/secrets(/[\w.]+)", lambda m: host.path(m.group(0)), config)
    (config_dir / "bridge.toml").write_text(config + extra)
    (secrets_dir / "bridge_db.cnf").write_text(f"[client]\npassword={password}\n")
    _shims(host.bin_dir)
    key = subprocess.run(
        [sys.executable, "-m", "bridge.cli", "secrets", "generate-key"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    ).stdout.strip()
    (secrets_dir / "bridge_key").write_text(key + "\n")
    for secret in secrets_dir.iterdir():
        secret.chmod(0o600)
    host.db_url = f"mysql+pymysql://{user}:{password}@127.0.0.1:3306/{name}"
    return host
