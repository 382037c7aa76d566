"""Run one sync round in this process and SIGKILL it at an injected point.

    BRIDGE_SECRET_KEY=KEY python -m tests.support.crash_round DB_URL BINDING_ID METHOD NTH [WHEN]

The binding's real backend (built from the store, talking to the emulator) is wrapped so
that right after its NTH call of METHOD returns, the process kills itself: the remote
write has happened, whatever the engine meant to do next has not. WHEN ``before``: killed
before the NTH call goes out instead. METHOD ``page``: killed when the NTH page of a pull
has been listed, before the engine applies it (the pages before it are applied). METHOD
may name several methods, comma-separated ("set_tag,update"): their calls count together.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable, Iterator
from typing import Any

from bridge.secret_box import Keyring
from bridge.secret_keys import keys_from_env
from bridge.store import Store
from bridge.store import bindings as binding_store
from bridge.sync.engine import Engine
from bridge.sync.rules import SyncRules
from bridge.wiring import BackendMaker


class AtCall:
    """The backend, with ``action`` run at its NTH call of ``method``: ``before`` the call
    goes out, or after it returned."""

    def __init__(
        self, backend: Any, method: str, nth: int, action: Callable[[], None], *, before: bool
    ) -> None:
        self._backend, self._methods, self._left = backend, set(method.split(",")), nth
        self._action, self._before = action, before

    def __getattr__(self, name: str) -> Any:
        real = getattr(self._backend, name)
        if name not in self._methods:
            return real

        def call(*args: Any, **kwargs: Any) -> Any:
            self._left -= 1
            due = self._left == 0
            if due and self._before:
                self._action()
            result = real(*args, **kwargs)
            if due and not self._before:
                self._action()
            return result

        return call


class AtPage:
    """The backend, with ``action`` run when the engine asks for the NTH page of a pull."""

    def __init__(self, backend: Any, nth: int, action: Callable[[], None]) -> None:
        self._backend, self._left, self._action = backend, nth, action

    def __getattr__(self, name: str) -> Any:
        return getattr(self._backend, name)

    def list_changes(self, cursor: Any, window: Any) -> Iterator[Any]:
        for page in self._backend.list_changes(cursor, window):
            self._left -= 1
            if self._left == 0:
                self._action()
            yield page


def kill_after(backend: Any, method: str, nth: int) -> AtCall:
    """SIGKILL this process right after the NTH call of ``method`` returned."""
    return AtCall(backend, method, nth, lambda: os.kill(os.getpid(), signal.SIGKILL), before=False)


def main() -> None:
    url, binding_id, method, nth = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    before = sys.argv[5:] == ["before"]
    store = Store(url)
    row = store.read(lambda conn: binding_store.get(conn, binding_id))
    backend = BackendMaker(Keyring(keys_from_env("BRIDGE_SECRET_KEY")))(row)
    kill = lambda: os.kill(os.getpid(), signal.SIGKILL)  # noqa: E731
    if method == "page":
        wrapped: Any = AtPage(backend, nth, kill)
    else:
        wrapped = AtCall(backend, method, nth, kill, before=before)
    Engine(store, binding_id, wrapped, SyncRules()).run()
    sys.exit(3)  # the kill point was never reached


if __name__ == "__main__":
    main()
