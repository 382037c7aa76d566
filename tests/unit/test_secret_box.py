"""bridge.secret_box: encryption round trip, key rotation, wrong keys; token digests;
and bridge.api.log_limit, the rate limit of refusal logs."""

from __future__ import annotations

import base64

import pytest

from bridge.api.log_limit import LogLimiter
from bridge.secret_box import (
    ENCRYPTED_PREFIX,
    KeyFormatError,
    Keyring,
    UndecryptableSecret,
    generate_key,
    is_encrypted,
    parse_keys,
    token_digest,
    token_matches,
)

SECRET = '{"refresh_token": "1//0g-très-secret"}'


def test_round_trip_hides_the_plain_text():
    keyring = Keyring.generate()
    stored = keyring.encrypt(SECRET)
    assert stored.startswith(ENCRYPTED_PREFIX) and is_encrypted(stored)
    assert "refresh_token" not in stored and "secret" not in stored
    assert keyring.decrypt(stored) == SECRET
    assert keyring.encrypt(SECRET) != stored  # a fresh IV every time


def test_rotation_first_key_encrypts_all_keys_decrypt():
    old_key, new_key = generate_key(), generate_key()
    old = Keyring([old_key])
    stored_old = old.encrypt(SECRET)

    both = Keyring([new_key, old_key])
    assert both.decrypt(stored_old) == SECRET  # the old key still opens old values
    rotated = both.rotate(stored_old)
    stored_new = both.encrypt(SECRET)

    new_only = Keyring([new_key])
    assert new_only.decrypt(rotated) == SECRET == new_only.decrypt(stored_new)
    with pytest.raises(UndecryptableSecret):  # not rotated: the old key is needed
        new_only.decrypt(stored_old)
    with pytest.raises(UndecryptableSecret):  # the first key encrypts, not the second
        old.decrypt(stored_new)


def test_wrong_key_altered_value_and_plain_text_are_errors_not_crashes():
    stored = Keyring.generate().encrypt(SECRET)
    other = Keyring.generate()
    with pytest.raises(UndecryptableSecret, match="none of the configured keys"):
        other.decrypt(stored)
    with pytest.raises(UndecryptableSecret, match="none of the configured keys"):
        other.rotate(stored)
    body = stored[len(ENCRYPTED_PREFIX) :]
    tampered = ENCRYPTED_PREFIX + body[:-6] + ("A" if body[-6] != "A" else "B") + body[-5:]
    with pytest.raises(UndecryptableSecret):
        Keyring.generate().decrypt(tampered)
    with pytest.raises(UndecryptableSecret, match="not encrypted"):
        other.decrypt(SECRET)
    with pytest.raises(UndecryptableSecret):
        other.decrypt(ENCRYPTED_PREFIX + "ünicode")


def test_parse_keys_accepts_lines_commas_comments_and_names_a_bad_key():
    a, b, c = generate_key(), generate_key(), generate_key()
    text = f"# rotated 2026-12-01\n{a}\n\n{b}, {c}  # old ones\n"
    assert parse_keys(text) == [a, b, c]
    assert parse_keys("") == []
    short = base64.urlsafe_b64encode(b"x" * 16).decode()
    with pytest.raises(KeyFormatError, match="key 2 is not a Fernet key") as info:
        parse_keys(f"{a}\n{short}\n")
    assert short not in str(info.value)  # a key never appears in a message
    with pytest.raises(KeyFormatError, match="key 1"):
        parse_keys("clé-non-ascii")
    with pytest.raises(KeyFormatError):
        Keyring([])


def test_token_digest_matches_only_its_token():
    digest = token_digest("tok-123")
    assert digest.startswith("sha256:") and "tok-123" not in digest
    assert token_matches("tok-123", digest)
    assert not token_matches("tok-124", digest)
    assert not token_matches("", digest)
    assert not token_matches("tok-123", "tok-123")  # a stored plain token never matches


def test_log_limiter_one_line_per_key_per_period_then_reports_what_it_held():
    now = [1000.0]
    limiter = LogLimiter(60.0, clock=lambda: now[0])
    assert limiter.allow("a") == 0
    assert [limiter.allow("a") for _ in range(5)] == [None] * 5
    assert limiter.allow("b") == 0  # another key is independent
    now[0] += 59.9
    assert limiter.allow("a") is None
    now[0] += 0.2
    assert limiter.allow("a") == 6  # six lines held back since the last one
    assert limiter.allow("a") is None


def test_log_limiter_stays_bounded():
    now = [0.0]
    limiter = LogLimiter(60.0, max_keys=10, clock=lambda: now[0])
    for n in range(100):
        now[0] += 1
        assert limiter.allow(n) == 0
    assert len(limiter._last) <= 10
