"""timestamps as 8-byte doubles

MySQL/MariaDB store SQLAlchemy's Float as a 4-byte FLOAT, which rounds an epoch time to
whole minutes: leases, link times and change times lost their precision. SQLite's REAL
was a double already.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

COLUMNS = {
    "collections": [("created_at", False), ("modified_at", False)],
    "meetings": [("created_at", False), ("modified_at", False)],
    "items": [("last_modified", False)],
    "changes": [("at", False)],
    "bindings": [
        ("last_success_at", True),
        ("last_error_at", True),
        ("next_run_at", False),
        ("lease_until", True),
    ],
    "links": [("synced_at", False)],
}


def _retype(old: sa.types.TypeEngine, new: sa.types.TypeEngine) -> None:
    for table, columns in COLUMNS.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for name, nullable in columns:
                batch_op.alter_column(
                    name, existing_type=old, type_=new, existing_nullable=nullable
                )


def upgrade() -> None:
    _retype(sa.Float(), sa.Double())


def downgrade() -> None:
    _retype(sa.Double(), sa.Float())
