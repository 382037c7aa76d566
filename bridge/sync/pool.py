"""The backends a process keeps: one per binding, across rounds.

A kept backend keeps its access token, its connections and its pacing, so an idle round
costs one request. It is replaced when the binding's kind, settings or stored secret
change (their fingerprint), dropped when the binding is retired or gone, and every kept
backend is closed once by ``close()`` (at shutdown).
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Callable, Iterable

from bridge.backends.base import Backend
from bridge.store.bindings import BindingRow

log = logging.getLogger("bridge.sync")

BackendMaker = Callable[[BindingRow], Backend]


def fingerprint(row: BindingRow) -> str:
    """What a binding's backend is made from, as stored: kind, settings and secret."""
    data = json.dumps([row.kind, row.settings, row.secret])
    return hashlib.sha256(data.encode("utf-8")).hexdigest()


def close_quietly(backend: Backend, what: object) -> None:
    try:
        backend.close()
    except Exception:  # noqa: BLE001 - closing is best effort
        log.debug("closing the backend of binding %s failed", what, exc_info=True)


class BackendPool:
    """``pool.get(row)``: the binding's kept backend, or a new one made by ``make``."""

    def __init__(self, make: BackendMaker) -> None:
        self.make = make
        self._kept: dict[int, tuple[str, Backend]] = {}
        self._lock = threading.Lock()

    def get(self, row: BindingRow) -> Backend:
        mark = fingerprint(row)
        with self._lock:
            kept = self._kept.get(row.id)
            if kept is not None and kept[0] == mark:
                return kept[1]
        if kept is not None:
            self.forget(row.id)  # settings or secret changed: a new backend
        backend = self.make(row)
        with self._lock:
            self._kept[row.id] = (mark, backend)
        return backend

    def adopt(self, row: BindingRow, backend: Backend) -> None:
        """Keep ``backend`` for ``row`` as it now is, when the row changed by the backend's
        own doing (the secret it rotated, stored): no new backend for that."""
        with self._lock:
            kept = self._kept.get(row.id)
            if kept is not None and kept[1] is backend:
                self._kept[row.id] = (fingerprint(row), backend)

    def forget(self, binding_id: int) -> None:
        """Close and drop the binding's backend, if one is kept."""
        with self._lock:
            kept = self._kept.pop(binding_id, None)
        if kept is not None:
            close_quietly(kept[1], binding_id)

    def keep_only(self, binding_ids: Iterable[int]) -> None:
        """Close the backends of every binding not in ``binding_ids``."""
        wanted = set(binding_ids)
        with self._lock:
            gone = [b for b in self._kept if b not in wanted]
        for binding_id in gone:
            self.forget(binding_id)

    def kept(self) -> list[int]:
        with self._lock:
            return sorted(self._kept)

    def close(self) -> None:
        """Close every kept backend once; the pool may be used again afterwards."""
        with self._lock:
            kept, self._kept = self._kept, {}
        for binding_id, (_, backend) in kept.items():
            close_quietly(backend, binding_id)
