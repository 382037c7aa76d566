"""Rounds counted from what processes log under a binding's lease.

Every round logs ``binding N: round started by OWNER at T`` and ``... ended ...`` while it
holds the lease; these helpers read those lines from several processes' logs and check that
no binding ever ran in two rounds at once."""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

ROUND = re.compile(r"binding (\d+): round (started|ended) by (\S+) at ([0-9.]+)")

Spans = dict[int, list[tuple[float, float, str]]]


def rounds(logs: dict[str, Path], stopped: float = float("inf")) -> Spans:
    """Per binding: (start, end, process) of every round any process logged before
    ``stopped`` (epoch seconds). A round still open then ends at infinity: it ran while
    every process was alive. Rounds begun after ``stopped`` are left out: a stopped process
    can die mid-round, and another then rightly takes it over."""
    open_rounds: dict[tuple[str, int], float] = {}
    found: Spans = defaultdict(list)
    for process, log in logs.items():
        for match in ROUND.finditer(log.read_text(errors="replace")):
            binding, what, at = int(match[1]), match[2], float(match[4])
            if what == "started" and at >= stopped:
                continue
            if what == "started":
                assert (process, binding) not in open_rounds, f"{process} started {binding} twice"
                open_rounds[(process, binding)] = at
            elif (process, binding) in open_rounds:
                found[binding].append((open_rounds.pop((process, binding)), at, process))
    for (process, binding), began in open_rounds.items():
        found[binding].append((began, float("inf"), process))  # still running when stopped
    return found


def never_twice_at_once(found: Spans) -> dict[str, int]:
    """Assert no binding's rounds overlap; answer the rounds each process ran."""
    by_process: dict[str, int] = defaultdict(int)
    for binding, spans in found.items():
        spans.sort()
        for (start_a, end_a, who_a), (start_b, _, who_b) in zip(spans, spans[1:], strict=False):
            assert end_a <= start_b, (
                f"binding {binding}: a round by {who_b} began at {start_b:.6f} while {who_a}'s "
                f"round ({start_a:.6f}..{end_a:.6f}) ran"
            )
        for _, _, who in spans:
            by_process[who] += 1
    print(f"rounds per process: {dict(by_process)}; rounds in all: {sum(by_process.values())}")
    return dict(by_process)
