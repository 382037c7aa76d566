"""``[worker] metrics_listen`` (bridge.config.worker): every mistake names file, key and
reason; the default is no listener; ``--metrics-listen`` is checked the same way."""

from __future__ import annotations

from pathlib import Path

import pytest

from bridge.cli import build_parser
from bridge.config import ConfigError, load_config
from bridge.config.worker import Listen

SERVER = '[server]\nauth = "none"\n'


def write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "bridge.toml"
    path.write_text(SERVER + body)
    return path


def test_off_by_default(tmp_path):
    assert load_config(write(tmp_path, "")).worker.metrics_listen is None
    assert load_config(write(tmp_path, "[worker]\n")).worker.metrics_listen is None
    off = write(tmp_path, '[worker]\nmetrics_listen = "off"\n')
    assert load_config(off).worker.metrics_listen is None


@pytest.mark.parametrize(
    ("text", "listen"),
    [
        ("127.0.0.1:9465", Listen("127.0.0.1", 9465)),
        ("0.0.0.0:9465", Listen("0.0.0.0", 9465)),
        ("[::1]:9465", Listen("::1", 9465)),
        ("worker.internal:0", Listen("worker.internal", 0)),
    ],
)
def test_accepted(tmp_path, text, listen):
    settings = load_config(write(tmp_path, f'[worker]\nmetrics_listen = "{text}"\n'))
    assert settings.worker.metrics_listen == listen
    assert str(listen) == text


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ('"9465"', 'expected "HOST:PORT"'),
        ('":9465"', 'expected "HOST:PORT"'),
        ('"127.0.0.1:http"', "the port must be a number 0-65535, got 'http'"),
        ('"127.0.0.1:70000"', "the port must be a number 0-65535, got 70000"),
        ('"127.0.0.1:-1"', "the port must be a number 0-65535, got '-1'"),
        ('"127.0.0.1:٩٤"', "the port must be a number"),
        ('"::1:9465"', "put an IPv6 host in brackets"),
        ('"[::1:9465"', "an IPv6 host needs both brackets"),
        ('"a b:9465"', "not a host name or address"),
        ("9465", "expected a string"),
        ("true", "expected a string"),
    ],
)
def test_refused(tmp_path, value, reason):
    path = write(tmp_path, f"[worker]\nmetrics_listen = {value}\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert (info.value.file, info.value.key) == (str(path), "worker.metrics_listen")
    assert reason in info.value.reason, info.value.reason


def test_unknown_key(tmp_path):
    path = write(tmp_path, '[worker]\nmetrics_listn = "127.0.0.1:1"\n')
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.key == "worker.metrics_listn"
    assert "did you mean 'metrics_listen'" in info.value.reason


def test_command_line_flag(capsys):
    parser = build_parser()
    args = parser.parse_args(["worker", "--metrics-listen", "127.0.0.1:9000"])
    assert args.metrics_listen == (Listen("127.0.0.1", 9000),)
    assert parser.parse_args(["worker", "--metrics-listen", "off"]).metrics_listen == (None,)
    assert parser.parse_args(["worker"]).metrics_listen is None
    with pytest.raises(SystemExit) as info:
        parser.parse_args(["worker", "--metrics-listen", "localhost:99999"])
    assert info.value.code == 2
    assert "--metrics-listen: the port must be a number 0-65535, got 99999" in (
        capsys.readouterr().err
    )
