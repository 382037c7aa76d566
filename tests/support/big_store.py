"""A store of thousands of meetings with Google bindings that have synced (links, cursors,
change-log rows), with non-ASCII and 4-byte UTF-8 text: what a store move must carry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.support.cli import bridge
from tests.support.google_toml import google_binding

USERS = ("alice", "bob")  # each with a Google binding
CRM_ONLY = "carol"  # no binding: the meetings past the synced ones are hers
STAMP = "%Y-%m-%dT%H:%M:%SZ"
#: Texts with 2-, 3- and 4-byte UTF-8 characters (emoji, a musical symbol).
TEXTS = ("Réunion Zoë", "Größe 東京", "Kick-off 🎉🚀", "Notes 𝄞 ✓")


def config_text(db_url: str, google, extra: str = "") -> str:
    users = "".join(
        f"""
[[users]]
login = "{login}"
email = "{login}@example.com"
display_name = "{login.title()} Ångström 😀"
"""
        + google_binding(google)
        for login in USERS
    )
    users += f"""
[[users]]
login = "{CRM_ONLY}"
email = "{CRM_ONLY}@example.com"
display_name = "{CRM_ONLY.title()} Ørsted 🌍"
"""
    return f"""
[server]
host = "127.0.0.1"
port = 0
htpasswd = "users.htpasswd"

[store]
url = "{db_url}"
{extra}
{users}"""


def meeting(number: int, organiser: str, start: datetime):
    from bridge.model import Meeting

    text = TEXTS[number % len(TEXTS)]
    return Meeting(
        uid=f"big-{number}-ü",
        start=start,
        end=start + timedelta(minutes=45),
        organiser=organiser,
        subject=f"{text} #{number}",
        location=f"Raum {number % 7} 🏢",
        description=f"{TEXTS[(number + 1) % len(TEXTS)]}\nline two 💬",
        activity_type="meeting",
    )


def fill(config: Path, google, meetings: int, synced: int | None = None) -> None:
    """Users, their Google bindings with refresh tokens, ``meetings`` CRM meetings spread
    over the users, a few events made in Google, then one `bridge sync` per user.

    The meetings are written through the store (in transactions of 250, as a CRM import
    would). The first ``synced`` of them (all by default) are spread over USERS and paired
    by their first sync (Google copies, links, cursors); the others are CRM_ONLY's, whom no
    binding syncs: a store of thousands of meetings without thousands of Google calls.
    """

    from bridge.config import load_config
    from bridge.meeting_service import save_from_sync
    from bridge.secret_keys import load_keyring
    from bridge.store import binding_secrets
    from bridge.store import bindings as binding_store
    from bridge.wiring import open_store

    synced = meetings if synced is None else min(synced, meetings)

    settings = load_config(config)
    store = open_store(settings)
    keyring = load_keyring(settings)
    for login in USERS:
        user = google.add_user(f"{login}@example.com")
        row = store.read(lambda c, who=login: binding_store.by_login(c, who))[0]
        secret = {"refresh_token": user.refresh_token}
        store.write(lambda tx, r=row, s=secret: binding_secrets.set_secret(tx, r.id, s, keyring))
        for number in range(5):
            begin = datetime(2027, 1, 4 + number, 14, tzinfo=UTC)
            google.seed(
                f"{login}@example.com",
                {
                    "summary": f"Made in Google {number} ☕🍰",
                    "start": {"dateTime": begin.strftime(STAMP)},
                    "end": {"dateTime": (begin + timedelta(hours=1)).strftime(STAMP)},
                },
            )
    first = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=1)
    batch = 250
    for offset in range(0, meetings, batch):

        def write(tx, offset=offset) -> None:
            for number in range(offset, min(offset + batch, meetings)):
                who = USERS[number % len(USERS)] if number < synced else CRM_ONLY
                m = meeting(number, who, first + timedelta(hours=number))
                save_from_sync(
                    tx, m, href=f"big-{number}.ics", horizon_days=400, max_occurrences=50
                )

        store.write(write, origin="crm")
    store.dispose()
    for index, login in enumerate(USERS):
        ran = bridge("sync", login, "--config", str(config), cwd=config.parent, timeout=900)
        assert ran.returncode == 0, ran.stderr
        # A first pairing shows its progress: plain lines, the output not being a terminal.
        made = len(range(index, synced, len(USERS)))
        assert f"{login}/google: copies created: {made}/{made} (100%)" in ran.stderr
        assert f"{login}/google: events pulled: 5" in ran.stderr
        assert f"{login}/google: pulled 5, pushed {made}" in ran.stdout
