"""Secrets at rest: Fernet encryption with key rotation, and digests of channel tokens.

A :class:`Keyring` holds one or more Fernet keys (cryptography's ``MultiFernet``): the
first key encrypts, every key decrypts, and :meth:`Keyring.rotate` re-encrypts a value
with the first key. Encrypted values are stored as ``fernet:<token>``, so a value
written before encryption existed (plain text) is told apart and can be sealed.

Channel tokens are only ever compared, so they are stored as a SHA-256 digest
(:func:`token_digest`) and checked in constant time (:func:`token_matches`). The tokens
are 256 random bits, so an unkeyed digest cannot be reversed or guessed, and it needs no
key: rotating the encryption keys never invalidates an open channel.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

ENCRYPTED_PREFIX = "fernet:"
_DIGEST_PREFIX = "sha256:"
_KEY_SEPARATORS = re.compile(r"[\s,]+")


class KeyFormatError(ValueError):
    """A configured key is not a Fernet key (32 url-safe base64-encoded bytes)."""


class UndecryptableSecret(Exception):
    """A stored value was encrypted with a key that is not configured (or was altered)."""


def generate_key() -> str:
    """A new random Fernet key, as text."""
    return Fernet.generate_key().decode("ascii")


def parse_keys(text: str) -> list[str]:
    """The keys in ``text``: separated by newlines, spaces or commas; ``#`` starts a comment.

    Raises KeyFormatError naming the position (1-based) of the first key that is not a
    Fernet key, never echoing the key itself.
    """
    keys: list[str] = []
    for line in text.splitlines():
        line = line.split("#", 1)[0]
        keys.extend(k for k in _KEY_SEPARATORS.split(line) if k)
    for position, key in enumerate(keys, 1):
        try:
            Fernet(key.encode("ascii"))
        except (ValueError, UnicodeEncodeError):
            raise KeyFormatError(
                f"key {position} is not a Fernet key (32 url-safe base64 bytes, "
                "as `bridge secrets generate-key` prints)"
            ) from None
    return keys


class Keyring:
    """Fernet keys: the first encrypts, all decrypt."""

    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise KeyFormatError("no key given")
        self._fernet = MultiFernet([Fernet(k.encode("ascii")) for k in keys])
        self._first = Fernet(keys[0].encode("ascii"))
        self.keys = tuple(keys)  # the first encrypts

    @classmethod
    def generate(cls) -> Keyring:
        """A keyring with one fresh key (tests, first start)."""
        return cls([generate_key()])

    def encrypt(self, plaintext: str) -> str:
        return ENCRYPTED_PREFIX + self._fernet.encrypt(plaintext.encode("utf-8")).decode("ascii")

    def decrypt(self, stored: str) -> str:
        """The plain text of an encrypted value; UndecryptableSecret when no key opens it."""
        if not is_encrypted(stored):
            raise UndecryptableSecret("the value is not encrypted")
        try:
            token = stored[len(ENCRYPTED_PREFIX) :].encode("ascii")
            return self._fernet.decrypt(token).decode("utf-8")
        except (InvalidToken, UnicodeError):
            raise UndecryptableSecret(
                "none of the configured keys decrypts it (a key was removed or replaced, "
                "or the value was altered)"
            ) from None

    def current_plaintext(self, stored: object) -> str | None:
        """The plain text of a value the first key encrypted; None for any other value
        (plain text, another key's, altered)."""
        if not is_encrypted(stored):
            return None
        try:
            token = str(stored)[len(ENCRYPTED_PREFIX) :].encode("ascii")
            return self._first.decrypt(token).decode("utf-8")
        except (InvalidToken, UnicodeError):
            return None

    def rotate(self, stored: str) -> str:
        """The same secret encrypted with the first key (UndecryptableSecret as decrypt)."""
        return self.encrypt(self.decrypt(stored))


def is_encrypted(value: object) -> bool:
    """Whether a stored value is one this module encrypted (not legacy plain text)."""
    return isinstance(value, str) and value.startswith(ENCRYPTED_PREFIX)


def token_digest(token: str) -> str:
    """What is stored for a channel token: its SHA-256 digest, never the token."""
    return _DIGEST_PREFIX + hashlib.sha256(token.encode("utf-8")).hexdigest()


def token_matches(given: str, digest: str) -> bool:
    """Whether ``given`` is the token whose digest is stored, compared in constant time."""
    return hmac.compare_digest(token_digest(given).encode("ascii"), digest.encode("ascii"))
