"""Reload without restart: SIGHUP (or `bridge reload`) makes a running `bridge serve` or
`bridge worker` read its configuration file again.

What changes at once: users (added, removed: a removed user keeps its meetings but no
longer sees colleagues), colleagues' visibility and booking rights, bindings and their
rules (`serve` adopts them into the store as at start; a worker takes them as its own),
the log format and level. Nothing is interrupted: CalDAV connections stay open (the
server is not restarted), a round in progress finishes with the rules it started with,
and the next round of each binding uses the new ones (a binding whose backend settings
changed gets a new backend).

What needs a restart: ``[server]``, ``[store]``, ``[api]``, ``[secrets]`` and ``[worker]``; a change
there is logged and ignored until the process restarts.

A file with a mistake is refused: the log names the file, key and reason and the
process keeps the configuration it had.

Each running process writes ``bridge-<role>-<pid>.pid`` into ``[server] run_dir`` (by
default the config file's directory); `bridge reload` signals every live one.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path

from bridge import log_setup
from bridge.config import ConfigError, Settings, load_config
from bridge.sync.adopted import ConfiguredRules
from bridge.sync.scheduler import Scheduler
from bridge.wiring import Wiring, open_store, scheduler_timing

log = logging.getLogger("bridge.reload")

#: Sections a running process keeps until it restarts.
RESTART_SECTIONS = ("server", "store", "api", "secrets", "worker")


class Reloadable:
    """The configuration a running process works with; ``reload()`` swaps it."""

    def __init__(self, wiring: Wiring, *, adopt: bool) -> None:
        self.wiring = wiring
        self.adopt = adopt
        self._rules = wiring.rules()
        self._schedulers: list[Scheduler] = []
        self._lock = threading.Lock()

    def rules(self) -> ConfiguredRules:
        """The rules check of the configuration in force."""
        return self._rules

    def attach(self, scheduler: Scheduler) -> None:
        self._schedulers.append(scheduler)

    def reload(self) -> bool:
        """Read the file again and apply it; False (and the old one kept) on a mistake."""
        with self._lock:
            return self._reload()

    def _reload(self) -> bool:
        old = self.wiring.settings
        path = old.path
        try:
            fresh = load_config(path)
        except ConfigError as error:
            log.error(
                "reload refused: %s: %s: %s; the running configuration stays",
                error.file,
                error.key,
                error.reason,
            )
            return False
        kept = [name for name in RESTART_SECTIONS if getattr(fresh, name) != getattr(old, name)]
        if kept:
            log.warning(
                "reload: changes to [%s] need a restart; until then the running values stay",
                "], [".join(kept),
            )
            fresh = dataclasses.replace(fresh, **{name: getattr(old, name) for name in kept})
        try:
            wiring = Wiring(fresh)
            open_store(fresh, adopt=self.adopt)
        except ConfigError as error:
            log.error(
                "reload refused: %s: %s: %s; the running configuration stays",
                error.file,
                error.key,
                error.reason,
            )
            return False
        except Exception as error:  # noqa: BLE001 - the old configuration keeps running
            log.error("reload refused: %s: %s; the running configuration stays", path, error)
            return False
        rules = wiring.rules()
        for scheduler in self._schedulers:
            scheduler.rules_for = rules
            scheduler.backend_for = wiring.backends(scheduler.store)
            scheduler.timing = scheduler_timing(fresh)
        self.wiring, self._rules = wiring, rules
        log_setup.setup(fresh)
        bindings = sum(len(u.bindings) for u in fresh.users)
        log.info(
            "configuration reloaded from %s: %d user(s), %d binding(s)",
            path,
            len(fresh.users),
            bindings,
        )
        return True

    def on_sighup(self) -> None:
        """Reload on SIGHUP, in a thread of its own (the signal arrives in the main thread,
        which serves requests)."""

        def handle(signum: int, frame: object) -> None:
            threading.Thread(target=self.reload, name="reload", daemon=True).start()

        signal.signal(signal.SIGHUP, handle)


# --- pid files ---------------------------------------------------------------------------


def _run_dir(settings: Settings) -> Path:
    return settings.server.run_dir or settings.path.parent


@contextlib.contextmanager
def pid_file(settings: Settings, role: str) -> Iterator[Path | None]:
    """``bridge-<role>-<pid>.pid`` in the run directory while the block runs (None, and a
    warning, when it cannot be written: SIGHUP still works)."""
    path = _run_dir(settings) / f"bridge-{role}-{os.getpid()}.pid"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"{os.getpid()}\n")
    except OSError as error:
        log.warning(
            "cannot write the pid file %s (%s): `bridge reload` will not find "
            "this process; `kill -HUP %d` reloads it",
            path,
            error.strerror,
            os.getpid(),
        )
        yield None
        return
    try:
        yield path
    finally:
        with contextlib.suppress(OSError):
            path.unlink()


def _is_bridge(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True  # no /proc: trust the pid file
    return b"bridge" in command


def signal_running(settings: Settings) -> list[tuple[str, int]]:
    """Send SIGHUP to every live process with a pid file in the run directory; stale
    pid files are removed. Returns (role, pid) of each one signalled."""
    signalled = []
    for path in sorted(_run_dir(settings).glob("bridge-*-*.pid")):
        role = path.stem.split("-")[1]
        try:
            pid = int(path.read_text().strip())
        except (OSError, ValueError):
            continue
        if not _is_bridge(pid):
            with contextlib.suppress(OSError):
                path.unlink()
            continue
        try:
            os.kill(pid, signal.SIGHUP)
        except ProcessLookupError:
            continue
        signalled.append((role, pid))
    return signalled
