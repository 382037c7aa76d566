"""`bridge` starts light: building the parser (every command's options, `bridge --help`)
imports none of the heavy libraries; each command imports what it runs when it runs.
Every `bridge ...` process (and the tests start many) would otherwise pay ~1 s for all of
them."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from bridge.cli import build_parser

#: Imported only by the commands that use them.
HEAVY = ("alembic", "sqlalchemy", "jinja2", "aiohttp", "radicale", "googleapiclient", "rich")


def _loaded_after(code: str) -> set[str]:
    probe = f"import json, sys\n{code}\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    return {name.split(".")[0] for name in json.loads(done.stdout.splitlines()[-1])}


def test_building_the_parser_imports_no_heavy_library():
    loaded = _loaded_after("from bridge.cli import build_parser\nbuild_parser()")
    assert "bridge" in loaded  # the probe did import the command
    assert loaded.isdisjoint(HEAVY), sorted(loaded & set(HEAVY))


def _leaf_commands(parser, prefix=()):
    import argparse

    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield (*prefix, name), sub
                yield from _leaf_commands(sub, (*prefix, name))


@pytest.mark.parametrize(
    "words", [words for words, _ in _leaf_commands(build_parser())], ids=" ".join
)
def test_every_command_has_its_help(words, capsys):
    with pytest.raises(SystemExit) as done:
        build_parser().parse_args([*words, "--help"])
    assert done.value.code == 0
    assert f"usage: bridge {' '.join(words)}" in capsys.readouterr().out
