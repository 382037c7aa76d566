"""exchangelib connected to the EWS emulator, for the emulator's own tests (they drive it
with the real client library, never with our backend)."""

from __future__ import annotations

from typing import Any

from exchangelib import DELEGATE, Account, Configuration, Credentials, Version
from exchangelib.protocol import FailFast
from exchangelib.transport import NTLM
from exchangelib.version import EXCHANGE_2016

from tests.emulators.ews import EwsEmulator


def connect(
    ews: EwsEmulator,
    email: str,
    user: str,
    password: str,
    auth: str = NTLM,
    access: str = DELEGATE,
    retry: Any = None,
) -> Account:
    """``email``'s account signed in as ``user`` (Exchange 2016, no autodiscover; a failed
    request is not retried unless ``retry`` says so)."""
    config = Configuration(
        service_endpoint=ews.url,
        credentials=Credentials(user, password),
        auth_type=auth,
        version=Version(build=EXCHANGE_2016),
        retry_policy=retry or FailFast(),
    )
    return Account(email, config=config, autodiscover=False, access_type=access)
