"""`bridge graph authorize` (device code) and `bridge check` with a delegated graph binding:
check says what is missing, authorize stores the refresh token, check is then ok."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

from tests.emulators.graph import GraphEmulator
from tests.support.cli import bridge
from tests.support.databases import database

TENANT = "contoso.example"


def write_config(path: Path, db_url: str, graph: GraphEmulator) -> Path:
    path.write_text(
        f"""
[server]
auth = "none"

[store]
url = "{db_url}"

[[users]]
login = "alice"
email = "alice@{TENANT}"

[[users.bindings]]
name = "m365"
kind = "graph"
[users.bindings.backend]
tenant = "{TENANT}"
client_id = "public-app"
mailbox = "alice@{TENANT}"
authority_host = "{graph.url}"
graph_url = "{graph.graph_url}"
"""
    )
    return path


def test_authorize_by_device_code_then_check(tmp_path: Path) -> None:
    with GraphEmulator() as graph, database("sqlite", tmp_path) as db_url:
        graph.device_interval = 1
        tenant = graph.add_tenant(TENANT)
        graph.add_app(tenant, "public-app", public=True)
        graph.add_mailbox(f"alice@{TENANT}", tenant)
        config = write_config(tmp_path / "bridge.toml", db_url, graph)

        before = bridge("check", "--config", str(config), cwd=tmp_path)
        assert before.returncode == 1
        assert "bridge graph authorize alice" in before.stdout

        process = subprocess.Popen(
            [sys.executable, "-m", "bridge.cli", "graph", "authorize", "alice"]
            + ["--config", str(config)],
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        message = process.stdout.readline()
        code = next(w.strip(".,") for w in message.split() if w.isupper() and len(w) >= 6)
        threading.Timer(0.2, graph.approve_device, (code, f"alice@{TENANT}")).start()
        out, err = process.communicate(timeout=60)
        assert process.returncode == 0, err
        assert "stored the refresh token for alice/m365" in out

        after = bridge("check", "--config", str(config), cwd=tmp_path)
        assert after.returncode == 0, after.stdout
        assert "alice/m365 (graph): ok" in after.stdout
