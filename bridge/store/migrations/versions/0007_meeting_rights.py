"""meeting rights: booking rights, per-calendar meeting hrefs, attendees' personal parts

- ``booking_rights``: who may book meetings on whose behalf (config ``can_book_for``).
- ``meetings.href`` is no longer unique store-wide: a meeting's entry in each member's
  calendar has its own href (``items`` is unique per collection and href), so one user's
  meeting never blocks or reveals an href to another.
- ``items.personal``: an attendee's own alarms, TRANSP and X- properties of a meeting.

Revision ID: 0007
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "booking_rights",
        sa.Column("booker_id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["booker_id"],
            ["users.id"],
            name=op.f("fk_booking_rights_booker_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["users.id"],
            name=op.f("fk_booking_rights_owner_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("booker_id", "owner_id", name=op.f("pk_booking_rights")),
    )
    with op.batch_alter_table("meetings", schema=None) as batch_op:
        batch_op.drop_constraint("uq_meetings_href", type_="unique")
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "personal",
                sa.Text().with_variant(mysql.MEDIUMTEXT(charset="utf8mb4"), "mysql", "mariadb"),
                nullable=True,
            )
        )


def downgrade() -> None:
    # The meeting's default href becomes unique again: this fails first, before anything
    # else is undone, if two meetings share one.
    with op.batch_alter_table("meetings", schema=None) as batch_op:
        batch_op.create_unique_constraint("uq_meetings_href", ["href"])
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.drop_column("personal")
    op.drop_table("booking_rights")
