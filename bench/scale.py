"""Scale benchmark: a big store under a mixed CalDAV load, with bindings syncing beside it.

    python -m bench.scale [--users U] [--meetings M] [--store sqlite|mysql] [--clients C]
                          [--duration S] [--sync-every S] [--bindings B] [--change-rate R]
                          [--remote google|caldav] [--json FILE] [--keep]

U users own M meetings each (U x M, loaded through the store's bulk path,
bridge.store.meetings_bulk); B binding users (default U) have one binding each on the Google
emulator (``--remote caldav``: a stock Radicale, one calendar each). Then a real `bridge
serve` and a `bridge worker` run on that store while C
CalDAV clients (threads, real HTTP) sync, query and write for S seconds and the CRM adds R
meetings per second for the binding users. Reports CalDAV requests/s and p50/p95/p99 per
operation, sync rounds/s, CRM -> remote calendar p50/p95/p99, resident memory of every process,
load rate and database size per meeting. Figures are reported, never asserted; see
docs/benchmarks.md ("Scale").
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from bench.caldav import machine
from bench.scale_caldav import run_load
from bench.scale_remotes import CaldavSide, GoogleSide, rounds, wait_metrics
from bench.scale_sync import CrmChanges
from bench.scale_world import (
    config_text,
    database_bytes,
    login,
    meeting_writes,
    memory,
    own_memory,
    sync_login,
    templates,
)
from bridge.config import load_config
from bridge.secret_keys import load_keyring
from bridge.store.meetings_bulk import save_many
from bridge.store.schema import bindings, meetings
from bridge.wiring import open_store

MYSQL_URL = "mysql+pymysql://root@127.0.0.1:3306/bench_scale"
LOAD_TX = 5000  # meetings per transaction of the bulk load


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.scale", description=__doc__.split("\n")[0])
    p.add_argument("--users", type=int, default=1000)
    p.add_argument("--meetings", type=int, default=1000, help="meetings per user")
    p.add_argument("--store", choices=("sqlite", "mysql"), default="sqlite")
    p.add_argument("--mysql-url", default=MYSQL_URL, help="its database is dropped and made anew")
    p.add_argument("--clients", type=int, default=50, help="concurrent CalDAV clients")
    p.add_argument("--duration", type=float, default=60.0, help="seconds of mixed load")
    p.add_argument("--sync-every", type=float, default=5.0, help="seconds between a client's syncs")
    p.add_argument("--bindings", type=int, default=None, help="bindings (default: --users)")
    p.add_argument(
        "--remote",
        choices=("google", "caldav"),
        default="google",
        help="the bindings' calendars: the Google emulator or a stock Radicale",
    )
    p.add_argument(
        "--change-rate", type=float, default=None, help="CRM changes/s (default: bindings/100)"
    )
    p.add_argument(
        "--poll-seconds", type=int, default=60, help="[sync] poll_seconds (production default 60)"
    )
    p.add_argument("--threads", type=int, default=8, help="`bridge serve --threads`")
    p.add_argument("--pair-timeout", type=float, default=900.0)
    p.add_argument("--json", type=Path, default=None)
    p.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = p.parse_args(argv)
    if args.bindings is None:
        args.bindings = args.users
    if args.change_rate is None:
        args.change_rate = max(args.bindings / 100, 0.5)
    if args.users < 2 or args.meetings < 1 or args.clients < 1:
        p.error("--users must be at least 2, --meetings and --clients at least 1")
    return args


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def fresh_mysql(url: str) -> str:
    target = make_url(url)
    admin = create_engine(target.set(database=""), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS `{target.database}`"))
        conn.execute(text(f"CREATE DATABASE `{target.database}` CHARACTER SET utf8mb4"))
    admin.dispose()
    return url


def bulk_load(store, args: argparse.Namespace) -> dict:  # noqa: ANN001
    """The users' meetings and two per binding user, through save_many, timed."""
    shapes = templates()
    begin = time.perf_counter()
    owners = [login(n) for n in range(args.users)]
    total, batch = 0, []
    last = begin

    def flush() -> None:
        store.write(lambda tx: save_many(tx, batch), origin="crm")

    for write in meeting_writes(shapes, owners, args.meetings, "m"):
        batch.append(write)
        if len(batch) >= LOAD_TX:
            flush()
            total += len(batch)
            batch = []
            if time.perf_counter() - last > 15:
                last = time.perf_counter()
                rate = total / (last - begin)
                print(f"  loaded {total} meetings, {rate:.0f}/s", flush=True)
    if batch:
        flush()
        total += len(batch)
    seconds = time.perf_counter() - begin
    if args.bindings:
        binders = [sync_login(n) for n in range(args.bindings)]
        store.write(lambda tx: save_many(tx, meeting_writes(shapes, binders, 2, "b")), origin="crm")
    return {"meetings": total, "seconds": seconds, "per_second": total / seconds}


def start(kind: str, config: Path, tmp: Path, extra: list[str]) -> subprocess.Popen:
    log = (tmp / f"{kind}.log").open("wb")
    return subprocess.Popen(
        [sys.executable, "-m", "bridge.cli", kind, "--config", str(config), *extra],
        cwd=tmp,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def wait_serving(process: subprocess.Popen, port: int, timeout: float = 120) -> float:
    begin = time.perf_counter()
    while time.perf_counter() - begin < timeout:
        if process.poll() is not None:
            raise RuntimeError(f"bridge serve exited with {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return time.perf_counter() - begin
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("bridge serve did not listen in time")


def unpaired(store) -> int:  # noqa: ANN001
    query = select(func.count()).select_from(bindings).where(bindings.c.last_success_at.is_(None))
    return store.read(lambda c: c.execute(query).scalar())


def wait_paired(store, timeout: float) -> float | None:  # noqa: ANN001
    begin = time.perf_counter()
    while time.perf_counter() - begin < timeout:
        if unpaired(store) == 0:
            return time.perf_counter() - begin
        time.sleep(0.5)
    return None


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def run(args: argparse.Namespace) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    print(f"temporary directory: {tmp}", flush=True)
    db_url = (
        f"sqlite:///{tmp / 'bridge.sqlite3'}"
        if args.store == "sqlite"
        else fresh_mysql(args.mysql_url)
    )
    binders = [sync_login(n) for n in range(args.bindings)]
    remote = GoogleSide(tmp) if args.remote == "google" else CaldavSide(tmp, binders)
    port, api_port, metrics_port = free_port(), free_port(), free_port()
    metrics = [f"http://127.0.0.1:{api_port}/metrics", f"http://127.0.0.1:{metrics_port}/metrics"]
    config = tmp / "bridge.toml"
    config.write_text(config_text(db_url, args, remote.binding_toml, port, api_port))
    processes: dict[str, subprocess.Popen] = {}
    try:
        settings = load_config(config)
        store = open_store(settings)
        remote.give_credentials(store, load_keyring(settings), binders)
        print(f"loading {args.users} x {args.meetings} meetings ({args.store})", flush=True)
        load = bulk_load(store, args)
        stored = store.read(
            lambda c: c.execute(select(func.count()).select_from(meetings)).scalar()
        )
        size = database_bytes(store)
        print(f"  {load['meetings']} in {load['seconds']:.1f} s; database {size / 1e6:.1f} MB")
        processes["serve"] = start("serve", config, tmp, ["--threads", str(args.threads)])
        listen = ["--metrics-listen", f"127.0.0.1:{metrics_port}"]
        processes["worker"] = start("worker", config, tmp, ["--tick", "0.2", *listen])
        started = wait_serving(processes["serve"], port)
        pairing = wait_paired(store, args.pair_timeout) if args.bindings else 0.0
        print(f"  serving after {started:.1f} s; bindings paired after {pairing} s", flush=True)
        wait_metrics(metrics)
        idle = {name: memory(p.pid) for name, p in processes.items()}

        changes = CrmChanges(store, remote, args.bindings, args.change_rate) if binders else None
        halt = threading.Event()
        crm = threading.Thread(target=changes.run, args=(halt,)) if changes else None
        rounds_before = rounds(metrics)
        if crm:
            crm.start()
        logins = [login(n) for n in range(args.users)]
        caldav = run_load(
            "127.0.0.1",
            port,
            logins,
            clients=args.clients,
            seconds=args.duration,
            sync_every=args.sync_every,
        )
        halt.set()
        if crm:
            crm.join()
        window = caldav["seconds"]
        round_count = rounds(metrics) - rounds_before
        if changes:
            changes.drain(30)
        loaded = {name: memory(p.pid) for name, p in processes.items()}
        remote_events = sum(len(remote.summaries(who)) for who in binders)
        return {
            "machine": machine(),
            "store": args.store,
            "users": args.users,
            "meetings_per_user": args.meetings,
            "meetings_stored": stored,
            "load": load,
            "database_bytes": size,
            "bytes_per_meeting": size / stored,
            "serve_start_seconds": started,
            "pairing_seconds": pairing,
            "caldav": caldav,
            "sync": {
                "bindings": args.bindings,
                "poll_seconds": args.poll_seconds,
                "remote": args.remote,
                "remote_events": remote_events,
                "rounds": round_count,
                "rounds_per_second": round_count / window,
                "crm_to_remote": changes.figures() if changes else None,
            },
            "memory_kib": {
                "idle": idle,
                "end_of_load": loaded,
                "bench (clients, emulator)": own_memory(),
                **(
                    {"radicale (remote)": memory(remote.process.pid)}
                    if args.remote == "caldav"
                    else {}
                ),
            },
        }
    finally:
        for process in processes.values():
            stop(process)
        remote.stop()
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)


def show(result: dict) -> None:
    c = result["caldav"]
    print(f"\n{result['meetings_stored']} meetings, {result['users']} users, {result['store']}")
    print(f"load: {result['load']['per_second']:.0f} meetings/s (bulk path)")
    print(f"database: {result['bytes_per_meeting']:.0f} bytes per meeting")
    print(f"CalDAV: {c['requests_per_second']:.1f} requests/s from {c['clients']} clients")

    def ms(v: float | None) -> str:
        return "-" if v is None else f"{v * 1000:.0f}"

    print(
        f"  {'operation':<14}{'count':>7}{'/s':>7}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'err':>5}"
    )
    for op, f in c["operations"].items():
        print(
            f"  {op:<14}{f['count']:>7}{f['per_second']:>7.1f}"
            f"{ms(f['p50']):>9}{ms(f['p95']):>9}{ms(f['p99']):>9}{f['errors']:>5}"
        )
    s = result["sync"]
    print(
        f"sync: {s['bindings']} bindings polled every {s['poll_seconds']} s, "
        f"{s['rounds_per_second']:.1f} rounds/s, {s['remote_events']} events in {s['remote']}"
    )
    if s["crm_to_remote"]:
        g = s["crm_to_remote"]
        print(
            f"CRM -> {s['remote']} at {g['rate_per_second']}/s: p50 {ms(g['p50'])} ms, p95 "
            f"{ms(g['p95'])} ms, p99 {ms(g['p99'])} ms ({g['arrived']}/{g['changes']} arrived)"
        )
    for phase, procs in result["memory_kib"].items():
        print(f"memory {phase}: {procs}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    result = run(args)
    show(result)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
