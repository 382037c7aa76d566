"""columns that fit what the bridge accepts

The origin of a change is "caldav:" plus a login of up to 64 characters (the config
accepts that), which did not fit VARCHAR(64): such a user could never write. Texts a
client may make longer than 64 KiB (SUMMARY, LOCATION, thousands of EXDATEs, WebDAV
properties, ...) were TEXT on MySQL/MariaDB and are MEDIUMTEXT now, like the iCalendar
text they come from. SQLite enforces neither, so only MySQL/MariaDB change.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

ORIGINS = ["meetings", "changes"]
# (table, column, nullable)
TEXTS = [
    ("collections", "props", False),
    ("meetings", "subject", False),
    ("meetings", "location", False),
    ("meetings", "rrule", True),
    ("meetings", "exdates", False),
    ("meetings", "rdates", False),
    ("meetings", "overrides", False),
    ("meetings", "custom_fields", False),
    ("meetings", "crm_persons", False),
    ("meetings", "crm_organisations", False),
]


def _on_mysql() -> bool:
    return op.get_bind().dialect.name in ("mysql", "mariadb")


def _retype(origin: tuple[int, int], text: tuple[sa.types.TypeEngine, sa.types.TypeEngine]):
    old_length, new_length = origin
    for table in ORIGINS:
        op.alter_column(
            table,
            "origin",
            existing_type=sa.String(length=old_length),
            type_=sa.String(length=new_length),
            existing_nullable=False,
        )
    old_text, new_text = text
    for table, column, nullable in TEXTS:
        op.alter_column(
            table, column, existing_type=old_text, type_=new_text, existing_nullable=nullable
        )


def upgrade() -> None:
    if _on_mysql():
        _retype((64, 128), (sa.Text(), mysql.MEDIUMTEXT(charset="utf8mb4")))


def downgrade() -> None:
    if _on_mysql():
        _retype((128, 64), (mysql.MEDIUMTEXT(charset="utf8mb4"), sa.Text()))
