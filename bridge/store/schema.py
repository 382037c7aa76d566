"""SQLAlchemy Core tables of the store (the vocabulary of DESIGN.md).

Paths, hrefs and UIDs are compared byte for byte (utf8mb4_bin on MySQL/MariaDB), as
CalDAV clients expect; long texts use MEDIUMTEXT on MySQL so whole calendars fit. Sizes
come from bridge.store.limits, which also checks values against them before any write.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Double,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.dialects import mysql

from bridge.store import limits

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


def exact_string(length: int) -> String:
    """A VARCHAR compared byte for byte on every backend."""
    return String(length).with_variant(
        mysql.VARCHAR(length, charset="utf8mb4", collation="utf8mb4_bin"), "mysql", "mariadb"
    )


# Epoch seconds with sub-second precision. A plain Float is MySQL's 4-byte FLOAT, which
# rounds today's epoch to whole minutes: timestamps must be 8-byte doubles everywhere.
Timestamp = Double


def long_text() -> Text:
    return Text().with_variant(mysql.MEDIUMTEXT(charset="utf8mb4"), "mysql", "mariadb")


# Counters: change_seq (last allocated change-log position), change_floor (highest pruned seq).
counters = Table(
    "counters",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", BigInteger, nullable=False),
)

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("login", exact_string(limits.LOGIN), nullable=False, unique=True),
    Column("email", String(limits.EMAIL), nullable=False, unique=True),
    Column("display_name", String(limits.NAME), nullable=False, default=""),
)

# viewer may see owner's meeting calendar (read-only, private meetings as busy time).
visibility = Table(
    "visibility",
    metadata,
    Column("viewer_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("owner_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
)

# booker may book meetings on owner's behalf (booked_by = booker, organiser = owner).
booking_rights = Table(
    "booking_rights",
    metadata,
    Column("booker_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("owner_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
)

collections = Table(
    "collections",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("path", exact_string(limits.PATH), nullable=False, unique=True),
    Column("parent_path", exact_string(limits.PATH), nullable=False, index=True),
    # "generic": made by a client (MKCALENDAR/MKCOL) or a principal home;
    # "meetings": a CRM user's meetings calendar (owner_id).
    Column("kind", String(16), nullable=False),
    Column("owner_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=True),
    Column("props", long_text(), nullable=False, default="{}"),
    Column("created_at", Timestamp, nullable=False),
    Column("modified_at", Timestamp, nullable=False),
    # Longest single occurrence stored in this collection (seconds): bounds time-range scans.
    Column("max_span", BigInteger, nullable=False, default=0),
)

meetings = Table(
    "meetings",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("uid", exact_string(limits.UID), nullable=False, unique=True),
    # The href new entries get in members' calendars; each entry (items) keeps its own.
    Column("href", exact_string(limits.HREF), nullable=False),
    Column("organiser_id", Integer, ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
    Column("booked_by_id", Integer, ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
    Column("activity_type", String(limits.ACTIVITY_TYPE), nullable=False),
    Column("subject", long_text(), nullable=False),
    Column("location", long_text(), nullable=False),
    Column("description", long_text(), nullable=False),
    Column("internal_notes", long_text(), nullable=False),
    Column("start_utc", BigInteger, nullable=False),
    Column("end_utc", BigInteger, nullable=False),
    Column("timezone", String(limits.TIMEZONE), nullable=False),
    Column("all_day", Boolean, nullable=False),
    Column("rrule", long_text(), nullable=True),
    Column("exdates", long_text(), nullable=False, default="[]"),
    Column("rdates", long_text(), nullable=False, default="[]"),
    Column("overrides", long_text(), nullable=False, default="[]"),
    Column("private", Boolean, nullable=False),
    Column("busy", String(16), nullable=False),
    Column("custom_fields", long_text(), nullable=False, default="{}"),
    Column("crm_persons", long_text(), nullable=False, default="[]"),
    Column("crm_organisations", long_text(), nullable=False, default="[]"),
    Column("sequence", Integer, nullable=False, default=0),
    # The full iCalendar text (round-trips what the CRM does not model) and its
    # busy-time-only rendering for colleagues who are not participants.
    Column("ical", long_text(), nullable=False),
    Column("etag", String(80), nullable=False),
    Column("busy_ical", long_text(), nullable=False),
    Column("busy_etag", String(80), nullable=False),
    Column("created_at", Timestamp, nullable=False),
    Column("modified_at", Timestamp, nullable=False),
    Column("origin", String(limits.ORIGIN), nullable=False, default=""),  # who wrote it last
)

participants = Table(
    "participants",
    metadata,
    Column("id", Integer, primary_key=True),
    Column(
        "meeting_id",
        Integer,
        ForeignKey("meetings.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("kind", String(16), nullable=False),  # internal | external | person | organisation
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=True),
    Column("ref", String(limits.EMAIL), nullable=False, default=""),  # e-mail or CRM id
    Column("name", String(limits.NAME), nullable=False, default=""),
    Column("partstat", String(32), nullable=False, default=""),
)

# Every CalDAV object: generic items carry their text; a meeting's entry in each
# member's meetings collection points at the meeting (text and etag live there).
items = Table(
    "items",
    metadata,
    Column("id", Integer, primary_key=True),
    Column(
        "collection_id",
        Integer,
        ForeignKey("collections.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("href", exact_string(limits.HREF), nullable=False),
    Column("uid", exact_string(limits.UID), nullable=False),
    Column(
        "meeting_id",
        Integer,
        ForeignKey("meetings.id", ondelete="CASCADE"),
        nullable=True,
        index=True,
    ),
    Column("text", long_text(), nullable=True),
    Column("etag", String(80), nullable=True),
    # A meeting entry in an attendee's calendar: the attendee's own alarms, TRANSP and
    # X- properties (bridge.ical.parts); text/etag then hold that attendee's rendering.
    Column("personal", long_text(), nullable=True),
    Column("component", String(16), nullable=False),
    # Overall time range (Radicale's item.time_range), epoch seconds.
    Column("start_utc", BigInteger, nullable=False),
    Column("end_utc", BigInteger, nullable=False),
    # True when the occurrences rows answer time ranges exactly (VEVENT objects);
    # open_from is set when a series continues past its expanded occurrences.
    Column("exact", Boolean, nullable=False),
    Column("open_from", BigInteger, nullable=True),
    Column("last_modified", Timestamp, nullable=False),
    UniqueConstraint("collection_id", "href"),
    Index("ix_items_collection_uid", "collection_id", "uid"),
    Index("ix_items_collection_open", "collection_id", "open_from"),
)

occurrences = Table(
    "occurrences",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("item_id", Integer, ForeignKey("items.id", ondelete="CASCADE"), nullable=False),
    Column("collection_id", Integer, nullable=False),
    Column("start_utc", BigInteger, nullable=False),
    Column("end_utc", BigInteger, nullable=False),
    Index("ix_occurrences_item", "item_id"),
    # Covering: a time-range read needs nothing from the table rows (migration 0016).
    Index("ix_occurrences_window", "collection_id", "start_utc", "end_utc", "item_id"),
)

# The change log: append-only; seq is allocated once per transaction, just before its
# commit, under a row lock on counters, so seq order is commit order on every backend.
changes = Table(
    "changes",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("seq", BigInteger, nullable=False),
    Column("collection_id", Integer, nullable=False),
    Column("href", exact_string(limits.HREF), nullable=False),
    Column("op", String(8), nullable=False),  # put | delete
    Column("meeting_id", Integer, nullable=True),
    # the object's UID (kept after deletion)
    Column("uid", exact_string(limits.UID), nullable=True),
    Column("origin", String(limits.ORIGIN), nullable=False, default=""),
    Column("at", Timestamp, nullable=False),
    Index("ix_changes_collection_seq", "collection_id", "seq"),
    Index("ix_changes_at", "at"),
    Index("ix_changes_collection_uid", "collection_id", "uid"),  # when was it deleted (sync)
    Index("ix_changes_seq", "seq"),  # the scheduler's look at changes since a position
)

# One user's connection to one calendar backend account, with its cursors, status and lease.
bindings = Table(
    "bindings",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(64), nullable=False),
    Column("kind", String(16), nullable=False),  # google | exchange | graph
    Column("settings", Text, nullable=False, default="{}"),  # from the config file (JSON)
    Column("secret", Text, nullable=True),  # stored credentials, e.g. an OAuth refresh token
    Column("remote_cursor", long_text(), nullable=True),  # syncToken / SyncState / deltaLink
    Column("outbound_seq", BigInteger, nullable=False, default=0),  # change-log position pushed
    Column("last_success_at", Timestamp, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("last_error_at", Timestamp, nullable=True),
    Column("failures", Integer, nullable=False, default=0),
    Column("next_run_at", Timestamp, nullable=False, default=0),
    # The lease: who runs the binding now (owner: a token unique per scheduler), where
    # (host name, pid, and the pid space: host + boot + pid namespace, so a pid is only
    # judged by a process that can see it), since when, its last heartbeat, and until
    # when it holds without another heartbeat.
    Column("lease_owner", String(128), nullable=True),
    Column("lease_until", Timestamp, nullable=True),
    Column("lease_host", String(255), nullable=True),
    Column("lease_pid", Integer, nullable=True),
    Column("lease_space", String(64), nullable=True),
    Column("lease_since", Timestamp, nullable=True),
    Column("lease_beat", Timestamp, nullable=True),
    # The sync rules (canonical JSON) of the configuration last adopted (serve, db upgrade).
    Column("rules", Text, nullable=True),
    # Set when the binding left the configuration: it no longer syncs; `bindings prune`.
    Column("retired_at", Timestamp, nullable=True),
    # The remote account whose service limits the binding counts against (the kind says
    # which settings name it; NULL: no per-account limit), see [sync] rounds_per_account.
    Column("account", String(255), nullable=True),
    UniqueConstraint("user_id", "name"),
    Index("ix_bindings_next_run", "next_run_at"),  # due bindings, longest waiting first
    Index("ix_bindings_account", "account"),
)

# (binding, meeting) <-> (remote id, remote etag, synced content hash): unique both ways.
links = Table(
    "links",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("binding_id", Integer, ForeignKey("bindings.id", ondelete="CASCADE"), nullable=False),
    Column("meeting_uid", exact_string(limits.UID), nullable=False),
    Column("remote_id", exact_string(512), nullable=False),
    Column("remote_etag", String(255), nullable=False, default=""),
    Column("synced_hash", String(64), nullable=True),
    Column("synced_at", Timestamp, nullable=False),
    # The event came from the calendar and its CRM tag is still to be written (Backend.set_tag).
    Column("tag_pending", Boolean, nullable=False, default=False, server_default=false()),
    UniqueConstraint("binding_id", "meeting_uid"),
    UniqueConstraint("binding_id", "remote_id"),
)

# A binding's Google push channel (events.watch): at most one current channel per binding.
# Google echoes a random token in X-Goog-Channel-Token; only its SHA-256 digest is stored.
# last_message: the highest X-Goog-Message-Number accepted (older or repeated ones are ignored).
channels = Table(
    "channels",
    metadata,
    Column("id", Integer, primary_key=True),
    Column(
        "binding_id",
        Integer,
        ForeignKey("bindings.id", ondelete="CASCADE"),
        nullable=False,
        unique=True,
    ),
    Column("channel_id", exact_string(64), nullable=False, unique=True),
    Column("resource_id", String(255), nullable=False),
    Column("token_hash", String(128), nullable=False),  # "sha256:<hex>"
    Column("expiration", Timestamp, nullable=False),  # epoch seconds
    Column("last_message", BigInteger, nullable=False, default=0),
    Column("created_at", Timestamp, nullable=False),
    # a notice asked to renew it now (epoch seconds), for whichever process keeps channels
    Column("renew_asked_at", Timestamp, nullable=True),
)

# Events a binding could not sync because the remote or the store refused that one event
# (bridge.sync.plan_faults): set aside so the rest of the binding keeps syncing, and
# retried with back-off. One row per meeting (kind "meeting", key = its UID) or, for an
# event no meeting stands for yet, per remote event (kind "remote", key = its id).
quarantine = Table(
    "quarantine",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("binding_id", Integer, ForeignKey("bindings.id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(8), nullable=False),  # meeting | remote
    Column("item_key", exact_string(512), nullable=False),
    Column("remote_id", exact_string(512), nullable=True),  # the remote event, when known
    Column("reason", Text, nullable=False),
    Column("held", String(8), nullable=False),  # whose change waits: crm | calendar
    Column("attempts", Integer, nullable=False, default=1),
    Column("first_failed_at", Timestamp, nullable=False),
    Column("last_failed_at", Timestamp, nullable=False),
    Column("next_try_at", Timestamp, nullable=False),
    UniqueConstraint("binding_id", "kind", "item_key"),
)

# The Invite action's external copy per (binding, meeting) (bridge.invite): remote id and
# etag, what was last sent (external-facing fields as JSON, their hash, the recipients,
# SEQUENCE), state pending | sent | held | cancelled, and when. Sync never imports an event
# whose remote id is here (RemoteSide.known_invite).
invites = Table(
    "invites",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("binding_id", Integer, ForeignKey("bindings.id", ondelete="CASCADE"), nullable=False),
    Column("meeting_uid", exact_string(limits.UID), nullable=False),
    Column("remote_id", exact_string(512), nullable=True),
    Column("remote_etag", String(255), nullable=False, default="", server_default=""),
    Column("idempotency_key", String(128), nullable=False),
    Column("sent_hash", String(64), nullable=False),
    Column("sent_fields", long_text(), nullable=False),
    Column("recipients", Text, nullable=False),
    Column("sequence", Integer, nullable=False, default=0, server_default="0"),
    Column("state", String(16), nullable=False),
    Column("template", String(64), nullable=False, default="", server_default=""),
    Column("language", String(8), nullable=False, default="", server_default=""),
    Column("created_at", Timestamp, nullable=False),
    Column("sent_at", Timestamp, nullable=True),
    UniqueConstraint("binding_id", "meeting_uid"),
    UniqueConstraint("binding_id", "remote_id"),
    Index("ix_invites_meeting_uid", "meeting_uid"),
)
