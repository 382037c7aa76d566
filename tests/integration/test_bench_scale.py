"""`python -m bench.scale` at a tiny size runs end to end and reports every figure (the
harness works; its speed is a benchmark, never asserted here)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import scale
from bench.scale_caldav import OPERATIONS


@pytest.mark.parametrize("remote", ["google", "caldav"])
def test_bench_scale_reports_every_figure(tmp_path: Path, remote: str) -> None:
    out = tmp_path / "scale.json"
    argv = ["--users", "3", "--meetings", "20", "--bindings", "2", "--clients", "3"]
    argv += ["--remote", remote]
    argv += ["--duration", "2", "--sync-every", "0.3", "--change-rate", "2", "--json", str(out)]
    assert scale.main(argv) == 0
    result = json.loads(out.read_text())

    assert result["load"]["meetings"] == 3 * 20
    assert result["meetings_stored"] >= 3 * 20 + 2 * 2  # and what the clients PUT
    assert result["bytes_per_meeting"] > 0
    caldav = result["caldav"]
    assert caldav["requests_per_second"] > 0 and caldav["errors"] == 0
    assert set(caldav["operations"]) == set(OPERATIONS)
    for op in ("sync_initial", "sync"):
        figures = caldav["operations"][op]
        assert figures["count"] > 0
        assert 0 < figures["p50"] <= figures["p95"] <= figures["p99"]
    for figures in caldav["operations"].values():
        assert {"count", "errors", "per_second", "p50", "p95", "p99"} <= set(figures)
    sync = result["sync"]
    assert (
        sync["bindings"] == 2
        and sync["remote"] == remote
        and sync["rounds"] > 0
        and sync["rounds_per_second"] > 0
    )
    assert sync["remote_events"] >= 2 * 2  # the binding users' meetings got there
    crm = sync["crm_to_remote"]
    assert crm["changes"] > 0 and crm["arrived"] == crm["changes"] and crm["lost"] == 0
    assert 0 < crm["p50"] <= crm["p95"] <= crm["p99"]
    for phase in ("idle", "end_of_load"):
        for process in ("serve", "worker"):
            assert result["memory_kib"][phase][process]["VmRSS"] > 0
    assert result["memory_kib"]["bench (clients, emulator)"]["VmHWM"] > 0
