"""re-render every meeting's view for non-participants, component by component

Colleague views used to show a meeting in full unless its series master was private, so
a CLASS:PRIVATE overridden occurrence of a public series showed in full. They now always
show the stored rendering for non-participants (``meetings.busy_ical``), in which each
private component is busy time only and public ones are whole. Rows written before held
the whole-object busy rendering there; this recomputes it for every meeting. No schema
change.

Downgrade leaves the rows as they are: the old code reads ``busy_ical`` only for meetings
whose master is private, and for those both renderings are the same.

Revision ID: 0008
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op
from radicale.item import get_etag

from bridge.ical.check import parse_calendar
from bridge.ical.errors import ICalError
from bridge.ical.redact import busy_only

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

meetings = sa.table(
    "meetings",
    sa.column("id", sa.Integer),
    sa.column("ical", sa.Text),
    sa.column("busy_ical", sa.Text),
    sa.column("busy_etag", sa.String),
)


BATCH = 500


def upgrade() -> None:
    conn = op.get_bind()
    ids = list(conn.execute(sa.select(meetings.c.id).order_by(meetings.c.id)).scalars())
    for start in range(0, len(ids), BATCH):  # a batch of texts in memory at a time
        batch = ids[start : start + BATCH]
        rows = conn.execute(
            sa.select(meetings.c.id, meetings.c.ical).where(meetings.c.id.in_(batch))
        ).all()
        for row in rows:
            try:
                busy = busy_only(parse_calendar(row.ical))
            except ICalError:
                continue  # unreadable: keep the whole-object busy rendering (it hides more)
            conn.execute(
                sa.update(meetings)
                .where(meetings.c.id == row.id)
                .values(busy_ical=busy, busy_etag=get_etag(busy))
            )


def downgrade() -> None:
    pass
