"""Is the store ready to serve: the database answers and its schema is at the newest
revision this bridge knows (the /ready endpoint, `bridge db wait`, container health)."""

from __future__ import annotations

from functools import lru_cache

from sqlalchemy import Engine, text

from bridge.store.migrate import MIGRATIONS, current_revision


@lru_cache(maxsize=1)
def head() -> str | None:
    """The newest schema revision of this bridge's migrations."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return ScriptDirectory.from_config(config).get_current_head()


def reachable(engine: Engine) -> str | None:
    """None when the database answers; else why not, in plain words."""
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1")).scalar()
    except Exception as error:  # noqa: BLE001 - reported, not raised
        reason = getattr(error, "orig", None) or error
        return f"the database does not answer ({type(reason).__name__}: {reason})"
    return None


def problem(engine: Engine) -> str | None:
    """None when the store is reachable and at the newest schema; else what is wrong."""
    down = reachable(engine)
    if down:
        return down
    try:
        revision = current_revision(engine)
    except Exception as error:  # noqa: BLE001 - reported, not raised
        return f"cannot read the schema revision ({type(error).__name__})"
    wanted = head()
    if revision != wanted:
        have = f"the schema is at {revision}" if revision else "the database has no schema"
        return f"{have}, this bridge needs {wanted}: run `bridge db upgrade`"
    return None
