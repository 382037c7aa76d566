"""the scheduler at scale: due bindings and new changes found by index; remote accounts

Revision ID: 0015
Revises: 0014

- ``ix_bindings_next_run`` (next_run_at): a scheduler pass reads the due bindings, longest
  waiting first, as a range of this index with a LIMIT, not a scan of every binding.
- ``ix_changes_seq`` (seq): the scheduler's look at the change log since its last position
  (local changes make bindings due) is a range of this index; before it, the only index
  with seq led with collection_id, so that look read the whole log.
- ``bindings.account`` with ``ix_bindings_account``: the remote account whose service
  limits the binding counts against (a Google user, a Graph tenant and app, an Exchange
  server and sign-in; set from the kind's settings when the configuration is adopted).
  Bindings of one account run at most ``[sync] rounds_per_account`` rounds at once, across
  every process sharing the database. NULL (until `bridge serve` or `bridge db upgrade`
  adopts the configuration): no limit.
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("bindings") as batch:
        batch.add_column(sa.Column("account", sa.String(length=255), nullable=True))
    op.create_index("ix_bindings_next_run", "bindings", ["next_run_at"])
    op.create_index("ix_bindings_account", "bindings", ["account"])
    op.create_index("ix_changes_seq", "changes", ["seq"])


def downgrade() -> None:
    op.drop_index("ix_changes_seq", table_name="changes")
    op.drop_index("ix_bindings_account", table_name="bindings")
    op.drop_index("ix_bindings_next_run", table_name="bindings")
    with op.batch_alter_table("bindings") as batch:
        batch.drop_column("account")
