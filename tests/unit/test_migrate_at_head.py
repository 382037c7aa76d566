"""A store already at the newest schema revision is opened without Alembic (the revision
ids read from the migration files as text, the stored one with one SELECT); any other
store is migrated by Alembic as before, on SQLite and MariaDB."""

from __future__ import annotations

import json
import subprocess
import sys

from bridge.store import Store, migrate
from bridge.store.migrate import current_revision, file_head, head_revision, stored_revision


def test_the_files_name_the_head_alembic_finds(db_url):
    store = Store(db_url, migrate=False)
    try:
        assert file_head() == head_revision(store.engine)
        assert file_head() is not None
    finally:
        store.dispose()


def test_an_empty_or_older_store_is_still_migrated(db_url):
    store = Store(db_url, migrate=False)
    try:
        assert stored_revision(store.engine) is None  # no alembic_version table yet
        migrate.upgrade(store.engine, "0013")
        assert stored_revision(store.engine) == current_revision(store.engine) == "0013"
        Store(db_url).dispose()  # an older store: Alembic takes it to head
        assert stored_revision(store.engine) == current_revision(store.engine) == file_head()
    finally:
        store.dispose()


def _opened_in_a_new_process(db_url: str) -> set[str]:
    probe = (
        "import json, sys\nfrom bridge.store import Store\n"
        f"Store({db_url!r}).dispose()\nprint(json.dumps(sorted(sys.modules)))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    return {name.split(".")[0] for name in json.loads(done.stdout.splitlines()[-1])}


def test_a_store_at_head_is_opened_without_alembic(db_url):
    assert "alembic" in _opened_in_a_new_process(db_url)  # empty: migrated by Alembic
    assert "alembic" not in _opened_in_a_new_process(db_url)  # at head now
    store = Store(db_url, migrate=False)
    try:
        assert current_revision(store.engine) == head_revision(store.engine)
    finally:
        store.dispose()


def test_files_that_do_not_form_one_chain_leave_it_to_alembic(tmp_path, monkeypatch):
    versions = tmp_path / "versions"
    versions.mkdir()

    def files(**revisions: str | None) -> str | None:
        for old in versions.iterdir():
            old.unlink()
        for name, down in revisions.items():
            parent = "None" if down is None else repr(down)
            (versions / f"{name}.py").write_text(f'revision = "{name}"\ndown_revision = {parent}\n')
        file_head.cache_clear()
        return file_head()

    monkeypatch.setattr(migrate, "MIGRATIONS", tmp_path)
    try:
        assert files(a=None, b="a", c="b") == "c"
        assert files(a=None, b="a", c="a") is None  # two heads
        assert files(a=None, b=None) is None  # two roots
        assert files(a=None, b="x") is None  # a parent no file names
        (versions / "m.py").write_text('revision = "m"\ndown_revision = ("a", "b")\n')
        file_head.cache_clear()
        assert file_head() is None  # a merge: Alembic's business
    finally:
        file_head.cache_clear()
