"""The `bridge` command as the tests run it, and a configuration with alice's one Google
binding (against the Google emulator) that CLI tests vary."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.support.google_toml import google_binding


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

{google_binding(google, name=name, client_secret=client_secret, backend=backend, rules=rules)}
"""
    )
    return path
