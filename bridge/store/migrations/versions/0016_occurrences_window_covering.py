"""the time index answers a window from the index alone

Revision ID: 0016
Revises: 0015

``ix_occurrences_window`` was (collection_id, start_utc): a time-range read
(``items.in_range``) found the occurrences near its window by the index, then looked up
each occurrence's row for ``end_utc`` and ``item_id`` - about half of that read at a
month of a 10,000-event calendar. It becomes (collection_id, start_utc, end_utc, item_id),
which holds every column that read needs; the old index is a prefix of the new one and goes.
"""

from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_occurrences_window", table_name="occurrences")
    op.create_index(
        "ix_occurrences_window",
        "occurrences",
        ["collection_id", "start_utc", "end_utc", "item_id"],
    )


def downgrade() -> None:
    op.drop_index("ix_occurrences_window", table_name="occurrences")
    op.create_index("ix_occurrences_window", "occurrences", ["collection_id", "start_utc"])
