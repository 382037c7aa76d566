"""`bridge worker` serves /metrics ([worker] metrics_listen, `--metrics-listen`): a real
worker process syncs alice's Google binding against the emulator, and its own endpoint
shows its rounds, remote calls, retries and throttling waits moving, with the store
gauges and the same families as `bridge serve`'s /metrics, behind the same gate."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support import server as support
from tests.support.http import request
from tests.support.ops import basic, store_refresh_token, write_ops_config

#: Every family of bridge.metrics (serve's /metrics shows them too: test_metrics.py).
FAMILIES = {
    "bridge_caldav_requests",
    "bridge_caldav_request_seconds",
    "bridge_sync_rounds",
    "bridge_sync_round_seconds",
    "bridge_remote_calls",
    "bridge_remote_retries",
    "bridge_throttle_waits",
    "bridge_throttle_wait_seconds",
    "bridge_changes_waiting",
    "bridge_push_channels_open",
    "bridge_leases_held",
}
CALENDAR = "alice@example.com"


def scrape(url: str) -> tuple[set[str], dict[tuple[str, tuple], float]]:
    answer = request(url, "GET", "/metrics", headers={"Authorization": basic("alice")})
    assert answer.status == 200, answer.body
    assert answer.headers["content-type"].startswith("text/plain; version=")
    names, samples = set(), {}
    for family in text_string_to_metric_families(answer.body):
        names.add(family.name)
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return names, samples


def value(samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def start_worker(config: Path, cwd: Path, port: int, *extra: str) -> subprocess.Popen:
    log = (cwd / f"worker-{port}.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "bridge.cli", "worker", "--tick", "0.2", "--config", str(config)]
        + list(extra),
        cwd=cwd,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    support.wait_listening(
        "bridge worker",
        process,
        port,
        30,
        lambda: (cwd / f"worker-{port}.log").read_text(errors="replace"),
        process.kill,
    )
    return process


def wait_for(check, what: str, log: Path, seconds: float = 30):
    deadline = time.monotonic() + seconds
    while True:
        found = check()
        if found:
            return found
        assert time.monotonic() < deadline, f"{what}:\n{log.read_text(errors='replace')[-4000:]}"
        time.sleep(0.2)


def test_worker_metrics_move_with_its_rounds(tmp_path, db_url, google_emulator):
    port, metrics_port = support.free_port(), support.free_port()
    config = write_ops_config(
        tmp_path,
        db_url,
        google_emulator,
        port=port,
        api_port=support.free_port(),
        backend="requests_per_second = 2\nburst = 1\nbackoff_base = 0.1",
        top=f'\n[worker]\nmetrics_listen = "127.0.0.1:{metrics_port}"\n',
    )
    config.write_text(config.read_text().replace("poll_seconds = 3600", "poll_seconds = 5"))
    store_refresh_token(config, google_emulator)
    google_emulator.seed(
        CALENDAR,
        {
            "summary": "Made in Google",
            "start": {"dateTime": "2026-12-03T10:00:00Z"},
            "end": {"dateTime": "2026-12-03T11:00:00Z"},
        },
    )
    worker = start_worker(config, tmp_path, metrics_port)
    log = tmp_path / f"worker-{metrics_port}.log"
    url = f"http://127.0.0.1:{metrics_port}"
    try:
        # the gate of serve's /metrics: no credentials 401, a non-admin 403, both JSON
        anonymous = request(url, "GET", "/metrics", user=None)
        assert anonymous.status == 401 and anonymous.headers["www-authenticate"].startswith("Basic")
        assert json.loads(anonymous.body)["error"]["status"] == 401
        bob = request(url, "GET", "/metrics", user="bob")
        assert bob.status == 403 and "bob" in json.loads(bob.body)["error"]["message"]
        assert request(url, "GET", "/status").status == 404  # only /metrics and /health here
        health = request(url, "GET", "/health", user=None)
        assert json.loads(health.body) == {"status": "ok"}

        def first_round():
            names, samples = scrape(url)
            ok = value(samples, "bridge_sync_rounds_total", kind="google", outcome="ok")
            return (names, samples) if ok >= 1 else None

        names, first = wait_for(first_round, "the worker ran no round", log)
        assert FAMILIES <= names, FAMILIES - names
        assert value(first, "bridge_remote_calls_total", kind="google") >= 2
        assert value(first, "bridge_throttle_waits_total", kind="google") >= 1  # 2 a second
        assert value(first, "bridge_sync_round_seconds_count", kind="google", outcome="ok") >= 1
        assert ("bridge_leases_held", ()) in first and ("bridge_push_channels_open", ()) in first

        # a 503 makes a retry; the next poll (5 s) makes another round and more calls
        google_emulator.faults.server_error(1, status=503)
        google_emulator.seed(
            CALENDAR,
            {
                "summary": "Made later",
                "start": {"dateTime": "2026-12-04T10:00:00Z"},
                "end": {"dateTime": "2026-12-04T11:00:00Z"},
            },
        )
        rounds = value(first, "bridge_sync_rounds_total", kind="google", outcome="ok")
        calls = value(first, "bridge_remote_calls_total", kind="google")

        def moved():
            _, samples = scrape(url)
            return (
                samples
                if value(samples, "bridge_sync_rounds_total", kind="google", outcome="ok") > rounds
                and value(samples, "bridge_remote_retries_total", kind="google") >= 1
                else None
            )

        later = wait_for(moved, "no second round with a retry", log)
        assert value(later, "bridge_remote_calls_total", kind="google") > calls + 1
        assert f"worker metrics on {url}/metrics" in log.read_text()
    finally:
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(30) == 0
    with pytest.raises(OSError):  # the listener went with the process
        socket.create_connection(("127.0.0.1", metrics_port), 1).close()


def test_a_port_in_use_is_refused_with_file_key_and_reason(tmp_path, db_url, google_emulator):
    config = write_ops_config(
        tmp_path, db_url, google_emulator, port=support.free_port(), api_port=support.free_port()
    )
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config.write_text(
            config.read_text().replace(
                "[[users]]", f'[worker]\nmetrics_listen = "127.0.0.1:{port}"\n\n[[users]]', 1
            )
        )
        command = [sys.executable, "-m", "bridge.cli", "worker", "--config", str(config)]
        from_file = subprocess.run(
            command, cwd=tmp_path, capture_output=True, text=True, timeout=60
        )
        assert from_file.returncode == 2
        assert (
            f"bridge: configuration error: {config}: worker.metrics_listen: "
            f"cannot listen on 127.0.0.1:{port}: "
        ) in from_file.stderr, from_file.stderr
        flag = subprocess.run(
            [*command, "--metrics-listen", f"127.0.0.1:{port}"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert flag.returncode == 2
        assert f"(command line): --metrics-listen: cannot listen on 127.0.0.1:{port}" in flag.stderr
    # "off" on the command line wins over the file: the worker starts without a listener
    worker = subprocess.Popen(
        [*command, "--tick", "0.2", "--metrics-listen", "off"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    pid_file = tmp_path / f"bridge-worker-{worker.pid}.pid"  # written once it runs rounds
    deadline = time.monotonic() + 30
    while not pid_file.exists() and worker.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert worker.poll() is None and pid_file.exists()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), 1).close()
    worker.send_signal(signal.SIGTERM)
    out, _ = worker.communicate(timeout=30)
    assert worker.returncode == 0, out
    assert "worker metrics on" not in out
