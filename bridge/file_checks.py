"""Which files of a configuration must stay private, and which of them are not.

``bridge check`` prints these problems and ``bridge serve`` logs them at start: the
SQLite database (with its -wal and -shm files) and its directory, the key file, the
htpasswd file and the files bindings name that their kind's schema marks private (a
Google service-account file, a CalDAV password file).
"""

from __future__ import annotations

from pathlib import Path

from bridge.backends import kinds
from bridge.config import Settings
from bridge.file_modes import ModeProblem, mode_problems, sqlite_files
from bridge.store.engine import sqlite_path


def permission_problems(settings: Settings) -> list[ModeProblem]:
    """Every private file or directory of ``settings`` that its group or others can reach."""
    files: list[tuple[Path, str]] = []
    dirs: list[tuple[Path, str]] = []
    database = sqlite_path(settings.store.url)
    if database is not None:
        files += [(path, "database file") for path in sqlite_files(database)]
        dirs.append((database.resolve().parent, "database directory"))
    if settings.secrets.key_file is not None:
        files.append((settings.secrets.key_file, "key file"))
    if settings.server.htpasswd is not None:
        files.append((settings.server.htpasswd, "htpasswd file"))
    for user in settings.users:
        for binding in user.bindings:
            schema = kinds.schema_for(binding.kind)
            files += [(Path(p), what) for p, what in schema.private_files(binding.backend)]
    return mode_problems(files, dirs)
