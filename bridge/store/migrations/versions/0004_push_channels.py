"""push channels (Google events.watch) per binding

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "channels",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("binding_id", sa.Integer(), nullable=False),
        sa.Column(
            "channel_id",
            sa.String(length=64).with_variant(
                mysql.VARCHAR(charset="utf8mb4", collation="utf8mb4_bin", length=64),
                "mysql",
                "mariadb",
            ),
            nullable=False,
        ),
        sa.Column("resource_id", sa.String(length=255), nullable=False),
        sa.Column("token", sa.String(length=128), nullable=False),
        # 8-byte doubles: MySQL's FLOAT would round an epoch to whole minutes (see 0003).
        sa.Column("expiration", sa.Double(), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.ForeignKeyConstraint(
            ["binding_id"],
            ["bindings.id"],
            name=op.f("fk_channels_binding_id_bindings"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_channels")),
        sa.UniqueConstraint("binding_id", name=op.f("uq_channels_binding_id")),
        sa.UniqueConstraint("channel_id", name=op.f("uq_channels_channel_id")),
    )


def downgrade() -> None:
    op.drop_table("channels")
