"""The `bridge` command as the tests run it, and a configuration with alice's one Google
binding (against the Google emulator) that CLI tests vary."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any


def bridge(
    *args: str, cwd: Path, stdin: str = "", timeout: float = 120
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "bridge.cli", *args],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def google_binding_config(
    path: Path,
    db_url: str,
    google: Any,
    *,
    name: str = "google",
    client_secret: str = "secret",
    backend: str = "",
    rules: str = "",
    top: str = "",
) -> Path:
    """``backend`` lines join [users.bindings.backend]; ``rules`` follows it (whole
    tables); ``top`` lines join the top of the file (e.g. a [secrets] table)."""
    path.write_text(
        f"""
[server]
auth = "none"

[store]
url = "{db_url}"
{top}

[[users]]
login = "alice"
email = "alice@example.com"

[[users.bindings]]
name = "{name}"
kind = "google"
[users.bindings.backend]
client_id = "client-id"
client_secret = "{client_secret}"
api_endpoint = "{google.api_endpoint}"
batch_uri = "{google.batch_uri}"
token_uri = "{google.token_uri}"
{backend}
{rules}
"""
    )
    return path
