"""Private files and directories: created owner-only, and checked for looser modes.

The bridge creates its data directory 0700 and its database and key files 0600.
SQLite creates a database's ``-wal`` and ``-shm`` files with the database file's own
mode, so a database file created 0600 keeps its companions private too.
:func:`mode_problems` is what ``bridge check`` and ``bridge serve`` report.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700


def private_dir(path: Path) -> None:
    """Create ``path`` (and missing parents) if needed; a directory made here is 0700.

    An existing directory is left as it is (``bridge check`` reports it when too open).
    """
    if not path.exists():
        path.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
        os.chmod(path, PRIVATE_DIR)  # mkdir's mode is filtered by the umask


def create_private_file(path: Path, content: bytes = b"") -> bool:
    """Create ``path`` 0600 with ``content`` unless it exists; True when created here.

    O_EXCL makes two processes starting at once agree: one creates, the other reads.
    """
    private_dir(path.parent)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
    except FileExistsError:
        return False
    try:
        os.write(fd, content)
        os.fsync(fd)
    finally:
        os.close(fd)
    return True


@dataclass(frozen=True)
class ModeProblem:
    path: Path
    mode: int
    what: str
    wanted: int

    def __str__(self) -> str:
        who = " and ".join(
            name for bits, name in ((0o070, "its group"), (0o007, "others")) if self.mode & bits
        )
        return (
            f"{self.what} {self.path} has mode {self.mode:04o}: {who} can access it; "
            f"fix: chmod {self.wanted:o} {self.path}"
        )


def mode_problem(path: Path, what: str, *, directory: bool = False) -> ModeProblem | None:
    """A problem when ``path`` grants anything to its group or others; None otherwise."""
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        return None
    if mode & 0o077 == 0:
        return None
    return ModeProblem(path, mode, what, PRIVATE_DIR if directory else PRIVATE_FILE)


def mode_problems(
    files: Iterable[tuple[Path, str]], dirs: Iterable[tuple[Path, str]]
) -> list[ModeProblem]:
    """Every file (0600 wanted) and directory (0700 wanted) that is more open than that."""
    found = [mode_problem(p, what) for p, what in files]
    found += [mode_problem(p, what, directory=True) for p, what in dirs]
    return [p for p in found if p is not None]


def sqlite_files(database: Path) -> list[Path]:
    """A SQLite database file and its write-ahead log and shared-memory companions."""
    return [database, Path(f"{database}-wal"), Path(f"{database}-shm")]
