"""What the containers run, run outside a container against the real MariaDB: every bridge
service of docker/compose.yaml through docker/entrypoint.sh with that service's environment,
the example config of docker/config and secrets as files. The file is read here, so this
test follows it: a changed command, role or replica count changes what runs.

Then `serve` and the worker replicas sync many Google bindings (the emulator) on one
MariaDB, and every round each process ran is counted from the lines it logs under the
binding's lease (start and end): no binding ever ran twice at once."""

from __future__ import annotations

import re
import signal
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine, text

from tests.support import compose_run
from tests.support.google_toml import google_binding
from tests.support.http import request
from tests.support.round_log import never_twice_at_once, rounds
from tests.support.server import free_port, wait_listening

pytestmark = pytest.mark.mysql

BINDINGS = 12
CRM_MEETINGS = 15  # per user
GOOGLE_EVENTS = 4  # per user
POLL_SECONDS = 5


def google_users(google) -> str:
    return "".join(
        f"""
[[users]]
login = "sync{n:02d}"
email = "sync{n:02d}@example.com"
"""
        + google_binding(google)
        for n in range(BINDINGS)
    )


@pytest.fixture
def host(tmp_path, google_emulator):
    with compose_run.mysql_user_database() as database:
        caldav, api = free_port(), free_port()
        while api == caldav:  # a port freed by the first call may come back at once
            api = free_port()
        prepared = compose_run.prepare(
            tmp_path, database, caldav, api, google_users(google_emulator), POLL_SECONDS
        )
        prepared.caldav_port, prepared.api_port = caldav, api
        yield prepared


def run(host, service: dict, args: list[str] | None = None, timeout: float = 120, **env: str):
    return subprocess.run(
        host.command(args if args is not None else service["command"]),
        env=host.environment(service, **env),
        cwd=host.root,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def start(host, service: dict, log: Path, **env: str) -> subprocess.Popen:
    return subprocess.Popen(
        host.command(service["command"]),
        env=host.environment(service, **env),
        cwd=host.root,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )


def test_the_compose_file_wires_the_roles():
    spec = compose_run.compose()
    services = compose_run.bridge_services(spec)
    assert set(services) == {"migrate", "serve", "worker"}
    assert services["migrate"]["depends_on"] == {"db": {"condition": "service_healthy"}}
    for name in ("serve", "worker"):
        assert services[name]["depends_on"] == {
            "migrate": {"condition": "service_completed_successfully"}
        }
        assert "./config:/etc/bridge:ro" in services[name]["volumes"]
    assert services["worker"]["deploy"]["replicas"] >= 2
    # every worker replica serves /metrics inside the compose network
    assert services["worker"]["environment"]["BRIDGE_METRICS_LISTEN"] == "0.0.0.0:9465"
    assert services["worker"]["expose"] == ["9465"]
    assert "healthcheck" in spec["services"]["db"] and "db-data" in spec["volumes"]
    assert compose_run.healthcheck_command() == ["bridge-entrypoint", "health"]


def _seed(host, google) -> None:
    """Refresh tokens for every binding, CRM meetings and Google events for every user."""
    from bridge.config import load_config
    from bridge.meeting_service import save_from_sync
    from bridge.model import Meeting
    from bridge.secret_keys import load_keyring
    from bridge.store import binding_secrets
    from bridge.store import bindings as binding_store
    from bridge.wiring import Wiring

    settings = load_config(host.config_dir / "bridge.toml")
    store = Wiring(settings).store(adopt=False)
    keyring = load_keyring(settings)
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=1)
    for n in range(BINDINGS):
        login = f"sync{n:02d}"
        user = google.add_user(f"{login}@example.com")
        row = store.read(lambda c, who=login: binding_store.by_login(c, who))[0]
        secret = {"refresh_token": user.refresh_token}
        store.write(lambda tx, r=row, s=secret: binding_secrets.set_secret(tx, r.id, s, keyring))
        for k in range(GOOGLE_EVENTS):
            begin = start + timedelta(days=k, hours=n)
            google.seed(
                f"{login}@example.com",
                {
                    "summary": f"From Google {k}",
                    "start": {"dateTime": begin.strftime("%Y-%m-%dT%H:%M:%SZ")},
                    "end": {
                        "dateTime": (begin + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
                    },
                },
            )

        def write(tx, login=login, n=n) -> None:
            for k in range(CRM_MEETINGS):
                begin = start + timedelta(days=k, hours=n, minutes=30)
                meeting = Meeting(
                    uid=f"{login}-crm-{k}",
                    start=begin,
                    end=begin + timedelta(minutes=30),
                    organiser=login,
                    subject=f"CRM {k}",
                    activity_type="meeting",
                )
                save_from_sync(
                    tx, meeting, href=f"{login}-crm-{k}.ics", horizon_days=400, max_occurrences=50
                )

        store.write(write, origin="crm")
    store.dispose()


def _wait(condition, timeout: float, what: str, logs) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.5)
    raise AssertionError(
        f"{what} within {timeout} s; logs:\n" + "\n".join(p.read_text()[-3000:] for p in logs)
    )


def _scrape(url: str) -> dict[tuple[str, str, str], float]:
    """A worker's /metrics as the example admin: (sample, kind, outcome) -> value."""
    answer = request(url, "GET", "/metrics", user="alice")
    assert answer.status == 200, answer.body
    found = {}
    for family in text_string_to_metric_families(answer.body):
        for sample in family.samples:
            labels = sample.labels
            key = (sample.name, labels.get("kind", ""), labels.get("outcome", ""))
            found[key] = found.get(key, 0.0) + sample.value
    return found


def test_the_services_run_as_compose_runs_them(host, google_emulator):
    spec = compose_run.compose()
    services = compose_run.bridge_services(spec)
    ready_url = f"http://127.0.0.1:{host.api_port}/ready"

    # Before the migrate service ran, serve waits for the schema and then says what is wrong.
    early = run(host, services["serve"], BRIDGE_DB_WAIT_SECONDS="2")
    assert early.returncode == 1
    assert "this bridge needs" in early.stderr and "bridge db upgrade" in early.stderr

    migrated = run(host, services["migrate"])
    assert migrated.returncode == 0, migrated.stdout + migrated.stderr
    assert re.search(r"database at revision \w+", migrated.stdout)
    _seed(host, google_emulator)
    # Any other bridge command runs as given, in any service's environment.
    status = run(host, services["serve"], ["status", "--config", "/etc/bridge/bridge.toml"])
    assert status.returncode == 0, status.stderr
    assert "sync00/google (google)" in status.stdout and "last success: never" in status.stdout
    unknown = run(host, services["worker"], BRIDGE_ROLE="cron")
    assert unknown.returncode == 64 and "unknown role 'cron'" in unknown.stderr

    logs = {"serve": host.root / "serve.log"}
    processes = {"serve": start(host, services["serve"], logs["serve"], BRIDGE_READY_URL=ready_url)}
    metrics: dict[str, int] = {}
    for replica in range(services["worker"]["deploy"]["replicas"]):
        name = f"worker-{replica + 1}"
        logs[name] = host.root / f"{name}.log"
        # one network namespace here, one per container there: each replica its own port
        metrics[name] = free_port()
        listen = f"127.0.0.1:{metrics[name]}"
        processes[name] = start(host, services["worker"], logs[name], BRIDGE_METRICS_LISTEN=listen)
    try:
        wait_listening(
            "serve", processes["serve"], host.caldav_port, 60, logs["serve"].read_text, lambda: None
        )
        wait_listening(
            "serve api",
            processes["serve"],
            host.api_port,
            60,
            logs["serve"].read_text,
            lambda: None,
        )
        ready = request(f"http://127.0.0.1:{host.api_port}", "GET", "/ready", user=None)
        assert ready.status == 200 and '"ready"' in ready.body
        # The image's HEALTHCHECK, in each role's environment.
        health = compose_run.healthcheck_command()[1:]
        for name in ("serve", "worker"):
            checked = run(host, services[name], health, BRIDGE_READY_URL=ready_url)
            assert checked.returncode == 0, checked.stdout + checked.stderr
        # CalDAV with the example htpasswd (the password equals the login).
        listing = request(
            f"http://127.0.0.1:{host.caldav_port}", "PROPFIND", "/alice/", headers={"Depth": "1"}
        )
        assert listing.status == 207, listing.body

        def synced() -> bool:
            return all(
                len(google_emulator.events(f"sync{n:02d}@example.com"))
                == CRM_MEETINGS + GOOGLE_EVENTS
                for n in range(BINDINGS)
            )

        _wait(synced, 180, "every binding pushed its CRM meetings", logs.values())
        # More rounds: a change in every calendar (each binding polls every poll_seconds).
        for n in range(BINDINGS):
            event = google_emulator.events(f"sync{n:02d}@example.com")[0]
            google_emulator.edit(f"sync{n:02d}@example.com", event["id"], summary=f"Edited {n}")

        def pulled() -> bool:
            engine = create_engine(host.db_url)
            try:
                with engine.connect() as conn:
                    found = conn.execute(
                        text("SELECT COUNT(*) FROM meetings WHERE subject LIKE 'Edited %'")
                    ).scalar_one()
            finally:
                engine.dispose()
            return found == BINDINGS

        _wait(pulled, 120, "every edit pulled into the store", logs.values())
        time.sleep(POLL_SECONDS + 1)  # one more poll of every binding, by whoever takes it
        # each replica's own /metrics counts its own rounds and remote calls
        for name, port in metrics.items():
            scraped = _scrape(f"http://127.0.0.1:{port}")
            assert scraped.get(("bridge_sync_rounds_total", "google", "ok"), 0) >= 1, name
            assert scraped.get(("bridge_remote_calls_total", "google", ""), 0) >= 1, name
        for process in processes.values():
            assert process.poll() is None, "a service exited early"
    finally:
        for process in processes.values():
            process.send_signal(signal.SIGTERM)
        for process in processes.values():
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    for name in logs:
        if name.startswith("worker"):
            assert processes[name].returncode == 0, logs[name].read_text()[-3000:]

    # serve runs a scheduler too, and its round lines are in its log like the workers'.
    assert f"sync worker started for {BINDINGS} binding(s)" in logs["serve"].read_text()
    found = rounds(logs)
    by_process = never_twice_at_once(found)
    assert len(found) == BINDINGS, sorted(found)
    workers = [name for name in logs if name.startswith("worker")]
    assert all(by_process.get(name, 0) > 0 for name in workers), by_process
