"""Start `bridge serve` as a real process on a free port, with a config written for the test."""

from __future__ import annotations

import functools
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import bcrypt

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_USERS = """
[[users]]
login = "alice"
email = "alice@example.com"
display_name = "Alice Archer"
can_see = ["bob", "carol"]
{alice_extra}

[[users]]
login = "bob"
email = "bob@example.com"
display_name = "Bob Baker"
can_see = ["alice"]

[[users]]
login = "carol"
email = "carol@example.com"
display_name = "Carol Cook"
can_see = ["alice"]
can_book_for = ["bob"]

[[users]]
login = "dave"
email = "dave@example.com"
display_name = "Dave Dune"
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@functools.cache
def _cheap_htpasswd() -> str:
    """The example users of config/users.htpasswd with the same passwords (each equals its
    login, as the README says), hashed with bcrypt at its lowest cost (4) instead of 10: the
    same bcrypt check on every CalDAV request, 60 times cheaper, which tests make thousands of."""
    lines = []
    for line in (ROOT / "config" / "users.htpasswd").read_text().splitlines():
        login, _, stored = line.partition(":")
        assert bcrypt.checkpw(login.encode(), stored.encode()), f"{login}'s password changed"
        lines.append(f"{login}:{bcrypt.hashpw(login.encode(), bcrypt.gensalt(4)).decode()}\n")
    return "".join(lines)


def write_htpasswd(path: Path) -> None:
    """The test servers' htpasswd (see _cheap_htpasswd), mode 0644 as a copied file is."""
    path.write_text(_cheap_htpasswd())
    os.chmod(path, 0o644)


def write_config(
    directory: Path, db_url: str, port: int, *, server_extra: str = "", alice_extra: str = ""
) -> Path:
    """A config with the example users; ``alice_extra`` goes into alice's table (bindings)."""
    write_htpasswd(directory / "users.htpasswd")
    path = directory / "bridge.toml"
    path.write_text(
        f"""
[server]
host = "127.0.0.1"
port = {port}
htpasswd = "users.htpasswd"
{server_extra}

[store]
url = "{db_url}"
{EXAMPLE_USERS.replace("{alice_extra}", alice_extra)}
"""
    )
    return path


@dataclass
class Server:
    url: str
    config: Path
    process: subprocess.Popen
    log: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def start(config: Path, port: int, *, cwd: Path, timeout: float = 30) -> Server:
    log = cwd / f"server-{port}.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "bridge.cli", "serve", "--config", str(config)],
        cwd=cwd,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    server = Server(f"http://127.0.0.1:{port}", config, process, log)
    wait_listening("bridge serve", process, port, timeout, server.output, server.stop)
    return server


def wait_listening(
    what: str,
    process: subprocess.Popen,
    port: int,
    timeout: float,
    output: Callable[[], str],
    stop: Callable[[], None],
) -> None:
    """Wait until ``process`` listens on ``port``; RuntimeError with its output if it exits
    or does not listen within ``timeout`` seconds (then ``stop`` is called)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited {process.returncode}:\n{output()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    stop()
    raise RuntimeError(f"{what} did not listen on {port}:\n{output()}")
