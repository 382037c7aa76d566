"""channel tokens stored as SHA-256 digests; the last message number of each channel

Revision ID: 0006
Revises: 0004

Binding credentials (bindings.secret, the client secret in bindings.settings) are
encrypted by the bridge at its next start (bridge.store.binding_secrets.seal_plaintext):
the key comes from the configuration, which a migration does not see.

Downgrade: a digest cannot give the token back, so the channels are forgotten; the
bridge opens new ones at its next start (the old ones expire at Google on their own).
"""

import hashlib

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("channels") as batch:
        batch.add_column(sa.Column("token_hash", sa.String(length=128), nullable=True))
        batch.add_column(
            sa.Column("last_message", sa.BigInteger(), nullable=False, server_default="0")
        )
    conn = op.get_bind()
    table = sa.table(
        "channels",
        sa.column("id", sa.Integer()),
        sa.column("token", sa.String()),
        sa.column("token_hash", sa.String()),
    )
    for row in conn.execute(sa.select(table.c.id, table.c.token)).all():
        digest = "sha256:" + hashlib.sha256(row.token.encode("utf-8")).hexdigest()
        conn.execute(sa.update(table).where(table.c.id == row.id).values(token_hash=digest))
    with op.batch_alter_table("channels") as batch:
        batch.alter_column("token_hash", existing_type=sa.String(length=128), nullable=False)
        batch.drop_column("token")


def downgrade() -> None:
    op.execute("DELETE FROM channels")
    with op.batch_alter_table("channels") as batch:
        batch.add_column(sa.Column("token", sa.String(length=128), nullable=False))
        batch.drop_column("last_message")
        batch.drop_column("token_hash")
