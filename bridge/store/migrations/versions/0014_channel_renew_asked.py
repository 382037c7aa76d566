"""channels.renew_asked_at: a notice asked to renew the channel now

Revision ID: 0014
Revises: 0013

A lifecycle notice (Graph's reauthorizationRequired, subscriptionRemoved) may reach a
process that does not keep the channels (another ``bridge serve``, a WSGI server): it is
stored on the channel's row, and whichever process keeps the channels takes it
(bridge.store.channels.take_renew_requests) and renews.

(Parallel work adds revision 0013; at merge this one is rechained after it.)
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("channels") as batch:
        batch.add_column(sa.Column("renew_asked_at", sa.Double(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("channels") as batch:
        batch.drop_column("renew_asked_at")
