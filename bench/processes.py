"""Write throughput with one and two `bridge serve` processes on one MariaDB, against a
stock Radicale process in the same run.

    python -m bench.processes [--users U] [--clients C] [--puts P] [--mysql-url URL] [--json F]

C client threads PUT P new events each, client k into user k % U's calendar, over real
HTTP (waitress for the bridge, Radicale's own server for stock Radicale). The bridge runs
on a fresh MariaDB database per setting (dropped afterwards), with U configured users
(htpasswd, bcrypt cost 4); its requests alternate over the serves (a round-robin). Stock
Radicale (multifilesystem, `[auth] type = none`, owner-only rights) gets the same PUTs into
calendars it makes by MKCALENDAR. Prints PUTs per second for each and the ratios to stock
Radicale (bridge / radicale: above 1 is faster); nothing is asserted. The machine's load
counts: the figures are for comparison within one run. See docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import bcrypt

from tests.support.databases import MYSQL_URL, mysql_database
from tests.support.http import request, vevent
from tests.support.server import free_port, wait_listening

ROOT = Path(__file__).resolve().parents[1]


@contextmanager
def processes(commands: list[tuple[list[str], Path, int]]) -> Iterator[None]:
    """Start each (argv, working directory, port) and stop them all afterwards."""
    started: list[subprocess.Popen] = []
    try:
        for argv, cwd, port in commands:
            log = cwd / f"process-{port}.log"
            process = subprocess.Popen(
                argv, cwd=cwd, stdout=log.open("wb"), stderr=subprocess.STDOUT
            )
            started.append(process)
            wait_listening(" ".join(argv[-2:]), process, port, 60, log.read_text, lambda: None)
        yield
    finally:
        for process in started:
            process.terminate()
        for process in started:
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def login(n: int) -> str:
    return f"b{n:02d}"


def bridge_config(directory: Path, db_url: str, port: int, users: int, htpasswd: str) -> Path:
    directory.mkdir()
    (directory / "users.htpasswd").write_text(htpasswd)
    (directory / "bridge.toml").write_text(
        f'[server]\nhost = "127.0.0.1"\nport = {port}\nhtpasswd = "users.htpasswd"\n\n'
        f'[store]\nurl = "{db_url}"\n'
        + "".join(
            f'\n[[users]]\nlogin = "{login(n)}"\nemail = "{login(n)}@example.com"\n'
            for n in range(users)
        )
    )
    return directory / "bridge.toml"


def put_all(urls: list[str], calendar: Callable[[str], str], args: argparse.Namespace) -> float:
    """PUT every event from ``args.clients`` threads; the seconds it took (all 201)."""

    def client(k: int) -> list[int]:
        user = login(k % args.users)
        statuses = []
        for i in range(args.puts):
            uid = f"c{k}-{i}"
            statuses.append(
                request(
                    urls[(k + i) % len(urls)],
                    "PUT",
                    f"{calendar(user)}{uid}.ics",
                    vevent(uid, f"Event {k}/{i}"),
                    user=user,
                ).status
            )
        return statuses

    started = time.monotonic()
    with ThreadPoolExecutor(args.clients) as pool:
        statuses = [s for batch in pool.map(client, range(args.clients)) for s in batch]
    took = time.monotonic() - started
    wrong = [s for s in statuses if s != 201]
    if wrong:
        raise RuntimeError(f"{len(wrong)} PUTs did not answer 201: {sorted(set(wrong))}")
    return took


def bridge_run(tmp: Path, serves: int, htpasswd: str, args: argparse.Namespace) -> float:
    with mysql_database(server=args.mysql_url) as db_url:
        ports = []
        while len(ports) < serves:
            port = free_port()
            if port not in ports:
                ports.append(port)
        commands = [
            (
                [sys.executable, "-m", "bridge.cli", "serve", "--config"]
                + [
                    str(
                        bridge_config(
                            tmp / f"serve-{serves}-{i}", db_url, port, args.users, htpasswd
                        )
                    )
                ],
                tmp / f"serve-{serves}-{i}",
                port,
            )
            for i, port in enumerate(ports)
        ]
        with processes(commands[:1]):  # the first migrates; then the others start
            pass
        with processes(commands):
            urls = [f"http://127.0.0.1:{port}" for port in ports]
            return put_all(urls, lambda user: f"/{user}/meetings/", args)


def radicale_run(tmp: Path, args: argparse.Namespace) -> float:
    port = free_port()
    folder = tmp / "radicale"
    folder.mkdir()
    argv = [
        sys.executable,
        "-m",
        "radicale",
        "--server-hosts",
        f"127.0.0.1:{port}",
        "--auth-type",
        "none",
        "--rights-type",
        "owner_only",
        "--storage-filesystem-folder",
        str(folder / "collections"),
    ]
    with processes([(argv, folder, port)]):
        url = f"http://127.0.0.1:{port}"
        for n in range(args.users):
            made = request(url, "MKCALENDAR", f"/{login(n)}/meetings/", user=login(n))
            if made.status != 201:
                raise RuntimeError(f"MKCALENDAR answered {made.status}")
        return put_all([url], lambda user: f"/{user}/meetings/", args)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=8)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--puts", type=int, default=25, help="PUTs per client")
    parser.add_argument("--mysql-url", default=MYSQL_URL)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    htpasswd = "".join(
        f"{login(n)}:{bcrypt.hashpw(login(n).encode(), bcrypt.gensalt(4)).decode()}\n"
        for n in range(args.users)
    )
    total = args.clients * args.puts
    tmp = Path(tempfile.mkdtemp(prefix="bench-processes-"))
    try:
        seconds = {
            "radicale": radicale_run(tmp, args),
            "bridge_1_serve": bridge_run(tmp, 1, htpasswd, args),
            "bridge_2_serves": bridge_run(tmp, 2, htpasswd, args),
        }
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    rates = {name: total / took for name, took in seconds.items()}
    result = {
        "users": args.users,
        "clients": args.clients,
        "puts": total,
        "puts_per_second": {name: round(rate, 1) for name, rate in rates.items()},
        "ratio_to_radicale": {
            name: round(rate / rates["radicale"], 2) for name, rate in rates.items()
        },
        "two_serves_vs_one": round(rates["bridge_2_serves"] / rates["bridge_1_serve"], 2),
        "cpus": os.cpu_count(),
    }
    for name, rate in rates.items():
        print(f"{name:16} {rate:8.1f} PUT/s  ({rate / rates['radicale']:.2f} x stock Radicale)")
    print(f"two serves / one serve: {result['two_serves_vs_one']:.2f}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
