"""The composition root: backends come from the kind registry, and the serve and CLI
modules stand on bridge.wiring without importing each other."""

from __future__ import annotations

import ast
from pathlib import Path
from types import SimpleNamespace

import pytest

import bridge
from bridge.backends import kinds
from bridge.backends.kinds import BackendKind, BindingConfigError
from bridge.backends.settings_schema import KindSchema
from bridge.secret_box import Keyring
from bridge.wiring import BackendMaker, spec_of


@pytest.fixture
def registry():
    saved = dict(kinds._KINDS)
    yield
    kinds._KINDS.clear()
    kinds._KINDS.update(saved)


def _row(kind: str, keyring: Keyring, **settings) -> SimpleNamespace:
    import json

    from bridge.store.binding_secrets import seal_settings

    sealed = json.dumps(seal_settings(settings, keyring))
    return SimpleNamespace(id=7, login="alice", name="b", kind=kind, settings=sealed, secret=None)


def test_a_kind_without_a_constructor_is_a_binding_config_error(registry):
    keyring = Keyring.generate()
    kinds.register(BackendKind(KindSchema("nomake", {})))
    with pytest.raises(BindingConfigError, match="'nomake' is not available"):
        BackendMaker(keyring)(_row("nomake", keyring))
    with pytest.raises(BindingConfigError, match="'unknown' is not available"):
        BackendMaker(keyring)(_row("unknown", keyring))


def test_the_kind_gets_a_typed_spec_with_its_settings_opened(registry):
    keyring = Keyring.generate()
    made = []
    kinds.register(BackendKind(KindSchema("typed", {}), make=lambda spec: made.append(spec)))
    BackendMaker(keyring)(_row("typed", keyring, host="cal.example"))
    assert made == [spec_of(_row("typed", keyring, host="cal.example"), keyring)]
    assert (made[0].id, made[0].login, made[0].kind) == (7, "alice", "typed")
    assert dict(made[0].settings) == {"host": "cal.example"} and dict(made[0].secret) == {}


def test_google_is_made_by_its_registered_constructor(registry):
    keyring = Keyring.generate()
    with pytest.raises(BindingConfigError, match="no refresh token stored"):
        BackendMaker(keyring)(_row("google", keyring, client_id="c", client_secret="s"))


def _imports(path: Path) -> set[str]:
    """Every module ``path`` imports, at the top or inside a function."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


@pytest.mark.parametrize(
    ("module", "absent"),
    [
        ("cli_sync", "bridge.server"),
        ("server", "bridge.cli_sync"),
        ("cli_sync", "bridge.backends.factory"),
    ],
)
def test_serve_and_the_sync_commands_do_not_import_each_other(module, absent):
    source = Path(bridge.__file__).parent / f"{module}.py"
    assert absent not in _imports(source)
    assert "bridge.wiring" in _imports(source) or "bridge.wiring.Wiring" in _imports(source)
