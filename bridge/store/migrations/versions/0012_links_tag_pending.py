"""links.tag_pending: a pulled event whose CRM tag is still to be written back

Revision ID: 0012
Revises: 0011

A meeting made from a calendar event is linked in the pull's transaction with
``tag_pending`` set; the tag write (Backend.set_tag) clears it. A worker that died in
between leaves it set, and the next round writes the tag.
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("links") as batch:
        batch.add_column(
            sa.Column("tag_pending", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("links") as batch:
        batch.drop_column("tag_pending")
