"""bindings follow the configuration: the adopted rules, retired bindings

Revision ID: 0010
Revises: 0008

- ``bindings.rules``: the sync rules (canonical JSON) of the configuration last adopted by
  `bridge serve` or `bridge db upgrade`; a process whose own configuration disagrees
  refuses to run the binding. NULL (bindings made before this revision): the next
  process that loads a configuration stores its rules.
- ``bindings.retired_at``: when the binding left the configuration; it no longer syncs
  and `bridge bindings prune` deletes it with its links.
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("bindings") as batch:
        batch.add_column(sa.Column("rules", sa.Text(), nullable=True))
        batch.add_column(sa.Column("retired_at", sa.Double(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("bindings") as batch:
        batch.drop_column("retired_at")
        batch.drop_column("rules")
