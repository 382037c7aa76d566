"""invites: the Invite action's external copies, what was sent and their state

Revision ID: 0013
Revises: 0012

One row per (binding, meeting): the external copy in the organiser's own calendar (remote
id and etag), what it carried when last sent (the external-facing fields as JSON, their
hash, the recipients, the iCalendar SEQUENCE), its state (pending: written before the
remote call, so a crash leaves the idempotency key to retry with; sent; held: created
unsent for the organiser to send; cancelled) and when.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def _exact(length: int) -> sa.types.TypeEngine:
    return sa.String(length=length).with_variant(
        mysql.VARCHAR(charset="utf8mb4", collation="utf8mb4_bin", length=length),
        "mysql",
        "mariadb",
    )


def _long_text() -> sa.types.TypeEngine:
    return sa.Text().with_variant(mysql.MEDIUMTEXT(charset="utf8mb4"), "mysql", "mariadb")


def upgrade() -> None:
    op.create_table(
        "invites",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("binding_id", sa.Integer(), nullable=False),
        sa.Column("meeting_uid", _exact(255), nullable=False),
        sa.Column("remote_id", _exact(512), nullable=True),
        sa.Column("remote_etag", sa.String(length=255), nullable=False, server_default=""),
        sa.Column("idempotency_key", sa.String(length=128), nullable=False),
        sa.Column("sent_hash", sa.String(length=64), nullable=False),
        sa.Column("sent_fields", _long_text(), nullable=False),
        sa.Column("recipients", sa.Text(), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("template", sa.String(length=64), nullable=False, server_default=""),
        sa.Column("language", sa.String(length=8), nullable=False, server_default=""),
        # 8-byte doubles: MySQL's FLOAT would round an epoch to whole minutes (see 0003).
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("sent_at", sa.Double(), nullable=True),
        sa.ForeignKeyConstraint(
            ["binding_id"],
            ["bindings.id"],
            name=op.f("fk_invites_binding_id_bindings"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invites")),
        sa.UniqueConstraint(
            "binding_id", "meeting_uid", name=op.f("uq_invites_binding_id_meeting_uid")
        ),
        sa.UniqueConstraint(
            "binding_id", "remote_id", name=op.f("uq_invites_binding_id_remote_id")
        ),
    )
    op.create_index("ix_invites_meeting_uid", "invites", ["meeting_uid"])


def downgrade() -> None:
    op.drop_index("ix_invites_meeting_uid", table_name="invites")
    op.drop_table("invites")
