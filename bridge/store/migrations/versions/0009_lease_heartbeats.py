"""lease holders and heartbeats on bindings

A lease names its holder (host, pid, pid space), when it was taken and its last
heartbeat, so a dead holder's lease is taken over within seconds and `bridge status`
can tell a running round from a stale lease.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

COLUMNS = (
    ("lease_host", sa.String(length=255)),
    ("lease_pid", sa.Integer()),
    ("lease_space", sa.String(length=64)),
    # 8-byte doubles: MySQL's FLOAT would round an epoch to whole minutes (see 0003).
    ("lease_since", sa.Double()),
    ("lease_beat", sa.Double()),
)


def upgrade() -> None:
    with op.batch_alter_table("bindings", schema=None) as batch_op:
        for name, type_ in COLUMNS:
            batch_op.add_column(sa.Column(name, type_, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("bindings", schema=None) as batch_op:
        for name, _ in reversed(COLUMNS):
            batch_op.drop_column(name)
