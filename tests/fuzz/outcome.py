"""What a fuzz run found: the known failure classes, failures, statistics, the report."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

# Failure classes the campaign found and issue 6 fixed: a case of one that fails again is a
# regression, reported with its class (docs/architecture.md, Testing).
KNOWN = {
    "two-rrules": "two RRULEs in one event hang the server",
    "secondly": "FREQ=SECONDLY rules hang the server",
    "huge-by-lists": "BYHOUR/BYMINUTE/BYSECOND lists giving thousands of instances a day",
    "dotdot": "paths with '..' give 500 (so do '.' segments and '//': the same cause, "
    "bridge.rights.refusal_reason strips an unsanitised PATH_INFO)",
    "xml-dtd": "XML with a DTD or entities gives 500",
    "xml-deep": "very deeply nested XML gives 500 (at 200,000 levels the server dies, SIGSEGV)",
    "delete-root": "DELETE of the root",
    "move-other-host": "MOVE/COPY to another host",
    "long-value": "values longer than their MariaDB column give 500 (href/UID > 255, ...)",
    "private-override-leak": "private overridden occurrences leak to colleagues",
    "proppatch-resourcetype": "PROPPATCH of resourcetype committed despite a 400",
    "attendee-edit": "attendees can change or delete the organiser's meetings",
    "long-property": "a collection property too long to send back in a header (displayname)",
    "endless-walk": "a free-busy window open or at year 9999 walked every series up to it",
    "shared-zones": "one object's VTIMEZONE defined a TZID for every later object in the process",
}


@dataclass
class Failure:
    check: str
    case: str
    detail: str
    known: set[str] = field(default_factory=set)
    repeats: int = 1

    def __str__(self) -> str:
        known = f" [known: {', '.join(sorted(self.known))}]" if self.known else ""
        again = f" (x{self.repeats})" if self.repeats > 1 else ""
        return f"--- {self.check}{known}{again}: {self.detail}\n{self.case}"

    def key(self) -> tuple:
        return (self.check, self.detail[:300], self.case.split("\n", 1)[0])


@dataclass
class Stats:
    kinds: Counter = field(default_factory=Counter)
    statuses: Counter = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    by_kind: defaultdict = field(default_factory=lambda: defaultdict(Counter))
    slowest: tuple[float, str] = (0.0, "")

    def took(self, seconds: float, what: str) -> None:
        self.latencies.append(seconds)
        if seconds > self.slowest[0]:
            self.slowest = (seconds, what)

    def p95(self) -> float:
        ordered = sorted(self.latencies)
        return ordered[int(0.95 * (len(ordered) - 1))] if ordered else 0.0


def report(stats: Stats, failures: list[Failure]) -> str:
    """Cases per kind with their status codes, the histogram, latencies, failures."""
    lines = [f"{sum(stats.kinds.values())} cases"]
    for kind, n in sorted(stats.kinds.items()):
        codes = ", ".join(f"{c}: {k}" for c, k in sorted(stats.by_kind[kind].items()))
        lines.append(f"  {kind}: {n} ({codes})")
    lines.append(
        "status codes: " + ", ".join(f"{code}: {n}" for code, n in sorted(stats.statuses.items()))
    )
    lines.append(
        f"latency: max {max(stats.latencies, default=0):.3f} s, "
        f"p95 {stats.p95():.3f} s over {len(stats.latencies)} requests"
    )
    slowest = stats.slowest[1].splitlines()
    lines.append(f"slowest: {slowest[0] if slowest else '-'}")
    lines.append(f"failures: {len(failures)} distinct")
    summary = Counter()
    for failure in failures:
        summary[(failure.check, ", ".join(sorted(failure.known)) or "NEW")] += failure.repeats
    lines += [f"  {check} [{known}]: {n}" for (check, known), n in sorted(summary.items())]
    lines += [str(f) for f in failures]
    return "\n".join(lines)
