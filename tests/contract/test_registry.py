"""Every registered binding kind runs the contract suite: none is skipped for want of a
driver."""

from __future__ import annotations

from bridge.backends.kinds import kinds
from tests.contract.conftest import driver_kinds


def test_every_registered_kind_has_a_driver():
    missing = sorted(set(kinds()) - set(driver_kinds()))
    assert not missing, f"no tests/contract/drivers/<kind>.py for registered kinds {missing}"
    assert "google" in driver_kinds()
