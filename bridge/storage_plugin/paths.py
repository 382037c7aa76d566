"""What a sanitized Radicale path names: the root, a home, a collection, a colleague view."""

from __future__ import annotations

import time
from dataclasses import dataclass

from radicale import pathutils

from bridge.store.collections import COLLEAGUE_PREFIX


def strip(path: str) -> str:
    return pathutils.strip_path(path)


def split_item(path: str) -> tuple[str, str]:
    """("home/cal", "x.ics") for "home/cal/x.ics"."""
    parent, _, name = path.rpartition("/")
    return parent, name


@dataclass(frozen=True)
class ColleaguePath:
    viewer: str
    owner: str


def colleague_path(path: str) -> ColleaguePath | None:
    """`viewer/meetings-owner` names viewer's read-only view of owner's meetings."""
    parts = path.split("/")
    if len(parts) == 2 and parts[1].startswith(COLLEAGUE_PREFIX):
        owner = parts[1][len(COLLEAGUE_PREFIX) :]
        if owner:
            return ColleaguePath(viewer=parts[0], owner=owner)
    return None


def colleague_name(owner: str) -> str:
    return COLLEAGUE_PREFIX + owner


def http_date(epoch: float) -> str:
    """An HTTP date (RFC 9110) for an epoch time."""
    return time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(epoch))
