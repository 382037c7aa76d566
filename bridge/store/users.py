"""CRM users, who may see whose meetings, who may book for whom, and each user's home
and meetings calendar."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Column, Connection, Table, delete, insert, select, update

from bridge.store import collections as collection_store
from bridge.store.changes import Tx
from bridge.store.schema import booking_rights, collections, users, visibility


@dataclass(frozen=True)
class UserRecord:
    login: str
    email: str
    display_name: str = ""
    can_see: tuple[str, ...] = ()
    can_book_for: tuple[str, ...] = ()


@dataclass(frozen=True)
class Colleague:
    login: str
    display_name: str
    meetings_collection_id: int


def meetings_path(login: str) -> str:
    return f"{login}/{collection_store.RESERVED_NAME}"


def sync(tx: Tx, records: Iterable[UserRecord]) -> None:
    """Make the users table, visibility, booking rights and homes match ``records`` (users
    are never deleted; one not in ``records`` loses its visibility and booking rights).

    A handful of statements whatever the number of users when nothing changed (every
    `bridge serve` start adopts the configuration): what is stored is read in bulk and only
    the differences are written."""
    wanted = list(records)
    conn = tx.conn
    stored = {
        r.login: r
        for r in conn.execute(
            select(users.c.id, users.c.login, users.c.email, users.c.display_name)
        )
    }
    for rec in wanted:
        values = {"email": rec.email.lower(), "display_name": rec.display_name or rec.login}
        row = stored.get(rec.login)
        if row is None:
            conn.execute(insert(users).values(login=rec.login, **values))
        elif (row.email, row.display_name) != (values["email"], values["display_name"]):
            conn.execute(update(users).where(users.c.id == row.id).values(**values))
    ids = login_ids(conn)
    _ensure_homes(tx, [(rec.login, ids[rec.login]) for rec in wanted])
    # A user gone from the configuration keeps its row (meetings refer to it) but no
    # longer sees colleagues or books for them: only the configured pairs stay.
    see = {(ids[r.login], ids[o]) for r in wanted for o in r.can_see if o in ids}
    book = {(ids[r.login], ids[o]) for r in wanted for o in r.can_book_for if o in ids}
    _set_pairs(conn, visibility, visibility.c.viewer_id, see)
    _set_pairs(conn, booking_rights, booking_rights.c.booker_id, book)


def _set_pairs(conn: Connection, table: Table, who: Column, wanted: set[tuple[int, int]]) -> None:
    """Make ``table`` (who, owner_id) hold exactly ``wanted``: only the differences written."""
    owner = table.c.owner_id
    have = {(r[0], r[1]) for r in conn.execute(select(who, owner))}
    extra: dict[int, list[int]] = {}
    for first, second in have - wanted:
        extra.setdefault(first, []).append(second)
    for first, seconds in extra.items():
        conn.execute(delete(table).where(who == first, owner.in_(seconds)))
    missing = sorted(wanted - have)
    if missing:  # another process adopting the same file at once may insert them first
        ignore = (
            insert(table)
            .prefix_with("IGNORE", dialect="mysql")
            .prefix_with("IGNORE", dialect="mariadb")
            .prefix_with("OR IGNORE", dialect="sqlite")
        )
        conn.execute(ignore, [{who.name: a, "owner_id": b} for a, b in missing])


def _ensure_homes(tx: Tx, people: list[tuple[str, int]]) -> None:
    """Each (login, user id)'s home and meetings calendar, made where missing."""
    paths = [p for login, _ in people for p in (login, meetings_path(login))]
    existing = collection_store.by_paths(tx.conn, paths)
    for login, user_id in people:
        if login not in existing:
            collection_store.create(tx, login, {})
        path = meetings_path(login)
        row = existing.get(path)
        if row is None:
            collection_store.create(
                tx,
                path,
                collection_store.meetings_props("CRM meetings"),
                kind=collection_store.MEETINGS,
                owner_id=user_id,
            )
        elif row.owner_id != user_id or row.kind != collection_store.MEETINGS:
            raise ValueError(f"collection {path!r} exists but is not {login}'s meetings calendar")


def can_book_for(conn: Connection, booker: str, owner: str) -> bool:
    """Whether ``booker`` may book meetings on ``owner``'s behalf (config ``can_book_for``)."""
    b, o = users.alias("booker"), users.alias("owner")
    query = (
        select(booking_rights.c.booker_id)
        .select_from(
            booking_rights.join(b, b.c.id == booking_rights.c.booker_id).join(
                o, o.c.id == booking_rights.c.owner_id
            )
        )
        .where(b.c.login == booker, o.c.login == owner)
    )
    return conn.execute(query).first() is not None


def login_of(conn: Connection, user_id: int | None) -> str | None:
    """The login of user ``user_id`` (None: no such user, or no id)."""
    if user_id is None:
        return None
    return conn.execute(select(users.c.login).where(users.c.id == user_id)).scalar()


def email_of(conn: Connection, login: str) -> str | None:
    return conn.execute(select(users.c.email).where(users.c.login == login)).scalar()


def login_ids(conn: Connection) -> dict[str, int]:
    return {row.login: row.id for row in conn.execute(select(users.c.login, users.c.id))}


def login_by_email(conn: Connection) -> dict[str, str]:
    rows = conn.execute(select(users.c.email, users.c.login))
    return {row.email.lower(): row.login for row in rows}


def email_by_login(conn: Connection) -> dict[str, str]:
    return {v: k for k, v in login_by_email(conn).items()}


def colleagues(conn: Connection, viewer_login: str) -> list[Colleague]:
    """Users whose meetings calendar ``viewer_login`` may see, by login."""
    viewer = users.alias("viewer")
    owner = users.alias("owner")
    query = (
        select(owner.c.login, owner.c.display_name, collections.c.id)
        .select_from(
            visibility.join(viewer, viewer.c.id == visibility.c.viewer_id)
            .join(owner, owner.c.id == visibility.c.owner_id)
            .join(
                collections,
                (collections.c.owner_id == owner.c.id)
                & (collections.c.kind == collection_store.MEETINGS),
            )
        )
        .where(viewer.c.login == viewer_login)
        .order_by(owner.c.login)
    )
    return [Colleague(r.login, r.display_name, r.id) for r in conn.execute(query)]


def display_name_of(conn: Connection, login: str) -> str | None:
    return conn.execute(select(users.c.display_name).where(users.c.login == login)).scalar()
