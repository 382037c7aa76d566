"""`bridge db migrate-to-mysql`: move the configured SQLite store to MySQL/MariaDB."""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

EXIT_FAILED = 1
EXIT_USAGE = 2


def _fail(step: str, reason: str, *, partial: bool) -> int:
    print(f"bridge: migrate-to-mysql failed while {step}: {reason}", file=sys.stderr)
    print("bridge: the SQLite store was not changed", file=sys.stderr)
    if partial:
        print(
            "bridge: the target database now holds part of a copy: drop it and create it "
            "empty again before the next try",
            file=sys.stderr,
        )
    return EXIT_FAILED


def _target(text: str, password_file: str | None) -> str:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        url = make_url(text)
    except ArgumentError:
        raise SystemExit("bridge: --to is not a database URL") from None
    if password_file:
        try:
            password = Path(password_file).read_text().splitlines()[0]
        except (OSError, IndexError):
            raise SystemExit(f"bridge: cannot read a password from {password_file}") from None
        url = url.set(password=password)
    shown = url.render_as_string(hide_password=True)
    if url.get_backend_name() not in ("mysql", "mariadb") or url.get_driver_name() != "pymysql":
        raise SystemExit(f"bridge: --to {shown}: give a mysql+pymysql://user@host/database URL")
    if not url.database:
        raise SystemExit(f"bridge: --to {shown} names no database")
    return url.render_as_string(hide_password=False)


def cmd_migrate_to_mysql(args: argparse.Namespace) -> int:
    from sqlalchemy.engine import make_url

    from bridge.config import load_config
    from bridge.progress import reporter
    from bridge.store import to_mysql, to_mysql_check
    from bridge.store.engine import make_engine, sqlite_path

    settings = load_config(args.config)
    source = sqlite_path(settings.store.url)
    if source is None:
        print(
            f"bridge: [store] url in {args.config} is not a SQLite file: nothing to move",
            file=sys.stderr,
        )
        return EXIT_USAGE
    target_url = _target(args.to, args.password_file)
    shown = make_url(target_url).render_as_string(hide_password=True)
    print(f"moving {source} to {shown}", flush=True)
    target = make_engine(target_url)
    partial = False
    step = "reading the SQLite store"
    try:
        with tempfile.TemporaryDirectory(prefix="bridge-move-") as work:
            snapshot_url = to_mysql.snapshot(source, Path(work) / "snapshot.sqlite3")
            step = "preparing the target database"
            revision = to_mysql.prepare_target(target)
            print(f"target schema made by the bridge's migrations (revision {revision})")
            step = "copying rows"
            partial = True
            with reporter("rows") as progress:
                copied = to_mysql.copy_rows(snapshot_url, target_url, progress)
            step = "setting the next ids"
            to_mysql.keep_auto_increment(snapshot_url, target)
            step = "checking the copy"
            checks = _check(snapshot_url, target, to_mysql_check)
    except to_mysql.MoveError as error:
        return _fail(step, str(error), partial=partial)
    except Exception as error:  # noqa: BLE001 - any database failure, named
        return _fail(step, f"{type(error).__name__}: {error}", partial=partial)
    finally:
        target.dispose()
    bad = [check for check in checks if not check.ok]
    for check in checks:
        mark = "ok" if check.ok else "DIFFERS"
        print(f"  {check.table}: {check.target_rows} rows, sha256 {check.target_sum[:16]} {mark}")
    if bad:
        for check in bad:
            print(f"bridge: {check.table}: {check.problem}", file=sys.stderr)
        return _fail("checking the copy", f"{len(bad)} table(s) differ", partial=True)
    meetings = copied.get("meetings", 0)
    print(
        f"moved and checked: {sum(copied.values())} rows in {len(checks)} tables; "
        f"{meetings} meetings' iCalendar texts identical; sync tokens, change-log positions, "
        "links and cursors kept"
    )
    print(f"now set [store] url to the new database in {args.config} and start the bridge")
    _key_note(settings, args.config)
    return 0


def _key_note(settings: Any, config: str) -> None:
    """The default key file lives beside the SQLite file: it must be named once the store
    moves, or the bridge would make a new key and stored credentials would not open."""
    secrets = settings.secrets
    if secrets.create_key_file and secrets.key_file is not None:
        print(
            f"the stored credentials are encrypted with the key in {secrets.key_file}: keep "
            f'that file and add [secrets] key_file = "{secrets.key_file}" to {config} '
            "(or copy it where that setting will point)"
        )


def _check(snapshot_url: str, target: Any, checker: Any) -> list:
    from bridge.store.engine import make_engine

    source = make_engine(snapshot_url)
    try:
        return checker.check_all(source, target)
    finally:
        source.dispose()


def add_commands(db_commands: Any, common: argparse.ArgumentParser) -> None:
    move = db_commands.add_parser(
        "migrate-to-mysql",
        parents=[common],
        help="copy the SQLite store into an empty MySQL/MariaDB database and check the copy",
    )
    move.add_argument(
        "--to",
        required=True,
        metavar="URL",
        help="the target database, mysql+pymysql://user:password@host/database",
    )
    move.add_argument(
        "--password-file",
        metavar="FILE",
        help="read the target database's password from the first line of FILE "
        "(keeps it off the command line)",
    )
    move.set_defaults(func=cmd_migrate_to_mysql)
