"""A checked htpasswd login is remembered for a short time: one bcrypt check, not one per
request (bridge.server.radicale_configuration, Radicale's own cache_logins)."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import bcrypt
import pytest

from bridge.config import parse_config
from bridge.server import make_app
from tests.support.server import write_htpasswd


def _app(db_url: str, tmp_path: Path, **server):
    write_htpasswd(tmp_path / "users.htpasswd")
    settings = parse_config(
        {
            "server": {"htpasswd": "users.htpasswd", **server},
            "store": {"url": db_url},
            "users": [{"login": "alice", "email": "alice@example.com"}],
        },
        file="test",
        base_dir=tmp_path,
    )
    return make_app(settings)


@pytest.fixture
def app(db_url: str, tmp_path: Path):
    return _app(db_url, tmp_path)


@pytest.fixture
def checks(monkeypatch):
    """Every bcrypt password check made (the library's, counted)."""
    made: list[bytes] = []
    real = bcrypt.checkpw

    def counted(password: bytes, hashed_password: bytes) -> bool:
        made.append(password)
        return real(password, hashed_password)

    monkeypatch.setattr(bcrypt, "checkpw", counted)
    return made


def status(app, login: str, password: str) -> int:
    token = base64.b64encode(f"{login}:{password}".encode()).decode()
    environ = {
        "REQUEST_METHOD": "PROPFIND",
        "PATH_INFO": f"/{login}/",
        "SCRIPT_NAME": "",
        "QUERY_STRING": "",
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_DEPTH": "0",
        "HTTP_AUTHORIZATION": f"Basic {token}",
        "CONTENT_LENGTH": "0",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": io.StringIO(),
    }
    seen: list[str] = []
    b"".join(app(environ, lambda s, headers, exc_info=None: seen.append(s)))
    return int(seen[0].split()[0])


def test_one_bcrypt_check_per_login_and_password(app, checks):
    assert [status(app, "alice", "alice") for _ in range(4)] == [207] * 4
    assert checks == [b"alice"]  # the first request checked; the next three were remembered


def test_a_wrong_password_is_not_let_in_by_the_remembered_login(app, checks):
    assert status(app, "alice", "alice") == 207
    assert status(app, "alice", "wrong") == 401
    assert checks == [b"alice", b"wrong"]  # checked, not taken from the remembered login
    assert status(app, "alice", "alice") == 207


def test_the_admin_can_have_every_request_checked(db_url, tmp_path, checks):
    """config/bridge.toml's way out of the cache: [server.radicale.auth] cache_logins."""
    app = _app(db_url, tmp_path, radicale={"auth": {"cache_logins": "False"}})
    assert [status(app, "alice", "alice") for _ in range(3)] == [207] * 3
    assert checks == [b"alice"] * 3
