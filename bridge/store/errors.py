"""Errors the store raises for requests it refuses; the message names the problem."""


class StoreError(ValueError):
    """A refused write: nothing was changed. Radicale answers it with a 4xx."""


class Conflict(StoreError):
    """The write clashes with what is stored (UID or href already used elsewhere)."""


class ReadOnly(StoreError):
    """The target cannot be written through this path."""


class Forbidden(StoreError):
    """The logged-in user may not make this change (answered 403 by bridge.wsgi_status)."""

    http_status = 403
