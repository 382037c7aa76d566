"""A process that signs in for one Graph binding the way ``bridge serve`` (its short-lived
push-channel backends) and ``bridge worker`` do: each backend made from the store by
``BackendMaker(keyring, store)``, so it reads and stores rotated refresh tokens itself.

    BRIDGE_SECRET_KEY=KEY python -m tests.support.graph_sign_in DB_URL BINDING_ID

For every line on stdin it makes a new backend and signs in (``check``) with its access
token expired (the process's token cache emptied, as after an hour), prints "ok" or
"refused: <why>", and closes the backend. It stops when stdin closes.
"""

from __future__ import annotations

import sys

from bridge.backends.graph import auth
from bridge.secret_box import Keyring
from bridge.secret_keys import keys_from_env
from bridge.store import Store
from bridge.store import bindings as binding_store
from bridge.wiring import BackendMaker


def main() -> None:
    url, binding_id = sys.argv[1], int(sys.argv[2])
    store = Store(url)
    make = BackendMaker(Keyring(keys_from_env("BRIDGE_SECRET_KEY")), store)
    try:
        for _line in sys.stdin:
            auth._APPS.clear()  # the access token expired: the next sign-in asks Entra
            row = store.read(lambda c: binding_store.get(c, binding_id))
            backend = make(row)
            try:
                problem = backend.check()
            finally:
                backend.close()
            print("ok" if problem is None else f"refused: {problem}", flush=True)
    finally:
        store.dispose()


if __name__ == "__main__":
    main()
