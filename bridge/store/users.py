"""CRM users, who may see whose meetings, who may book for whom, and each user's home
and meetings calendar."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Connection, delete, insert, select, update

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
    are never deleted; one not in ``records`` loses its visibility and booking rights)."""
    wanted = list(records)
    conn = tx.conn
    for rec in wanted:
        display = rec.display_name or rec.login
        row = conn.execute(select(users.c.id).where(users.c.login == rec.login)).first()
        values = {"email": rec.email.lower(), "display_name": display}
        if row is None:
            user_id = conn.execute(insert(users).values(login=rec.login, **values))
            user_id = int(user_id.inserted_primary_key[0])
        else:
            user_id = row.id
            conn.execute(update(users).where(users.c.id == user_id).values(**values))
        _ensure_home(tx, rec.login, user_id)
    ids = login_ids(conn)
    for rec in wanted:
        conn.execute(delete(visibility).where(visibility.c.viewer_id == ids[rec.login]))
        rows = [{"viewer_id": ids[rec.login], "owner_id": ids[o]} for o in rec.can_see if o in ids]
        if rows:
            conn.execute(insert(visibility), rows)
        conn.execute(delete(booking_rights).where(booking_rights.c.booker_id == ids[rec.login]))
        rights = [
            {"booker_id": ids[rec.login], "owner_id": ids[o]} for o in rec.can_book_for if o in ids
        ]
        if rights:
            conn.execute(insert(booking_rights), rights)
    # A user gone from the configuration keeps its row (meetings refer to it) but no
    # longer sees colleagues or books for them.
    gone = [uid for login, uid in ids.items() if login not in {r.login for r in wanted}]
    if gone:
        conn.execute(delete(visibility).where(visibility.c.viewer_id.in_(gone)))
        conn.execute(delete(booking_rights).where(booking_rights.c.booker_id.in_(gone)))


def _ensure_home(tx: Tx, login: str, user_id: int) -> None:
    if collection_store.by_path(tx.conn, login) is None:
        collection_store.create(tx, login, {})
    path = meetings_path(login)
    row = collection_store.by_path(tx.conn, path)
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
