"""quarantine: events one binding could not sync, retried with back-off; changes by uid

The index on changes (collection_id, uid) finds when a meeting left a calendar: sync dates
a CRM deletion by it.

Revision ID: 0011
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def _exact(length: int) -> sa.types.TypeEngine:
    return sa.String(length=length).with_variant(
        mysql.VARCHAR(charset="utf8mb4", collation="utf8mb4_bin", length=length),
        "mysql",
        "mariadb",
    )


def upgrade() -> None:
    op.create_table(
        "quarantine",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("binding_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("item_key", _exact(512), nullable=False),
        sa.Column("remote_id", _exact(512), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("held", sa.String(length=8), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        # 8-byte doubles: MySQL's FLOAT would round an epoch to whole minutes (see 0003).
        sa.Column("first_failed_at", sa.Double(), nullable=False),
        sa.Column("last_failed_at", sa.Double(), nullable=False),
        sa.Column("next_try_at", sa.Double(), nullable=False),
        sa.ForeignKeyConstraint(
            ["binding_id"],
            ["bindings.id"],
            name=op.f("fk_quarantine_binding_id_bindings"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quarantine")),
        sa.UniqueConstraint(
            "binding_id", "kind", "item_key", name=op.f("uq_quarantine_binding_id_kind_item_key")
        ),
    )

    op.create_index("ix_changes_collection_uid", "changes", ["collection_id", "uid"])


def downgrade() -> None:
    op.drop_index("ix_changes_collection_uid", table_name="changes")
    op.drop_table("quarantine")
