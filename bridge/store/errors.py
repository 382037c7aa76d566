"""Errors the store raises for requests it refuses; the message names the problem."""


class StoreError(ValueError):
    """A refused write: nothing was changed. Radicale answers it with a 4xx."""


class Conflict(StoreError):
    """The write clashes with what is stored (UID or href already used elsewhere)."""


class ReadOnly(StoreError):
    """The target cannot be written through this path."""
