"""bridge.wsgi: refusals are explained, and an explanation that fails never makes a 500."""

from __future__ import annotations

from bridge.wsgi import ErrorDetails


def _refusing_app(environ, start_response):
    start_response("403 Forbidden", [("Content-Type", "text/plain")])
    return [b"Access denied"]


def _call(app, environ: dict) -> tuple[str, bytes]:
    seen = {}

    def start_response(status, headers, exc_info=None):
        seen["status"] = status

    body = b"".join(app(environ, start_response))
    return seen["status"], body


def test_a_refusal_carries_its_explanation():
    app = ErrorDetails(
        _refusing_app, explain=lambda environ, status: "no, because", logger_name="t1"
    )
    status, body = _call(app, {"REQUEST_METHOD": "GET", "PATH_INFO": "/x/"})
    assert status == "403 Forbidden"
    assert body == b"403 Forbidden: no, because\n"


def test_an_explanation_that_fails_keeps_the_refusal(caplog):
    def broken(environ, status):
        raise AssertionError("a path it did not expect")

    app = ErrorDetails(_refusing_app, explain=broken, logger_name="t2")
    status, body = _call(app, {"REQUEST_METHOD": "MOVE", "PATH_INFO": "/x//y/"})
    assert status == "403 Forbidden"
    assert body == b"Access denied"
    assert "explaining a 403 failed" in caplog.text
