"""`bridge api` alone (api.standalone = true): the whole HTTP API (REST with the keys of
tests.support.api_client, status page, metrics, webhooks) in a process that runs no sync
round, so the store changes only when a request changes it. alice has a Google binding
(the emulator) and is the one admin."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.support import server as support
from tests.support.api_client import keys_toml
from tests.support.ops import store_refresh_token, write_ops_config


@dataclass
class ApiAlone:
    process: subprocess.Popen
    url: str
    port: int
    log: Path

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


def start_api_alone(
    tmp_path: Path,
    db_url: str,
    google,  # noqa: ANN001
    *,
    api_lines: str = "",
) -> ApiAlone:
    """``api_lines`` join the [api] table (e.g. ``request_seconds = 5``)."""
    api_port = support.free_port()
    api_table = f"standalone = true\n{api_lines}\n\n[[api.keys]]"
    config = write_ops_config(
        tmp_path,
        db_url,
        google,
        port=support.free_port(),
        api_port=api_port,
        api=keys_toml().replace("[[api.keys]]", api_table, 1),
    )
    store_refresh_token(config, google)
    log = tmp_path / "api.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "bridge.cli", "api", "--config", str(config)],
        cwd=tmp_path,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    support.wait_listening("bridge api", process, api_port, 30, log.read_text, process.kill)
    return ApiAlone(process, f"http://127.0.0.1:{api_port}", api_port, log)
