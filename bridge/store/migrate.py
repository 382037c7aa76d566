"""Schema migrations (Alembic) run from code: `bridge db upgrade` and server start-up.

A store already at the newest revision is recognised without Alembic: the revision ids
are read from the migration files as text (``file_head``) and the stored one with one
SELECT (``stored_revision``). Every `bridge` process opens the store, and importing
Alembic and loading its scripts cost each one ~0.2 s for nothing; a store that needs a
migration, or files that do not form one chain, take Alembic's way as before.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).with_name("migrations")

_REVISION = re.compile(r"""^revision\s*=\s*["'](\w+)["']\s*$""", re.MULTILINE)
_DOWN_REVISION = re.compile(r"""^down_revision\s*=\s*(?:None|["'](\w+)["'])\s*$""", re.MULTILINE)


def alembic_config(engine: Engine) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    # Alembic's config is a ConfigParser: a "%" (an escaped URL query, a password) must be
    # doubled or it is read as interpolation.
    url = engine.url.render_as_string(hide_password=False).replace("%", "%%")
    cfg.set_main_option("sqlalchemy.url", url)
    return cfg


@lru_cache(maxsize=1)
def file_head() -> str | None:
    """The newest revision of the migration files, read as text (no Alembic): the one no
    other file names as its down_revision. None unless the files form one chain from one
    root, each naming its revision and down_revision plainly (Alembic then decides)."""
    parents: dict[str, str | None] = {}
    for path in sorted((MIGRATIONS / "versions").glob("*.py")):
        source = path.read_text(encoding="utf-8")
        revision = _REVISION.findall(source)
        down = _DOWN_REVISION.findall(source)
        if len(revision) != 1 or len(down) != 1 or revision[0] in parents:
            return None
        parents[revision[0]] = down[0] or None
    roots = [r for r, down in parents.items() if down is None]
    named = [down for down in parents.values() if down is not None]
    heads = set(parents) - set(named)
    if len(roots) != 1 or len(heads) != 1 or len(set(named)) != len(named):
        return None
    if not set(named) <= set(parents):
        return None
    return heads.pop()


def stored_revision(engine: Engine) -> str | None:
    """The revision in the database's alembic_version table, read with plain SQL; None
    when there is no table or not exactly one row."""
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT version_num FROM alembic_version")).all()
    except DBAPIError:
        return None
    return str(rows[0][0]) if len(rows) == 1 else None


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the database schema to ``revision`` (idempotent)."""
    if revision == "head":
        newest = file_head()
        if newest is not None and stored_revision(engine) == newest:
            return  # at head already: nothing for Alembic to do
    from alembic import command

    cfg = alembic_config(engine)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision(engine: Engine) -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config(engine)).get_current_head()
