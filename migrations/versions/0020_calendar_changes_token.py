"""a change to the working-day calendar draws a new token, so that every process knows when its copy is stale

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-04 22:40:00

Each process keeps the calendar's overrides it has read (app/sla/calendar.py), under the token of calendar_changes
it read with them, and reads that one row again before it uses them. Triggers on calendar_days and calendar_years
draw a new random token on every insert, update and deletion (on PostgreSQL truncation too), through the API or by
hand: a process that did not make the change sees a token it has no copy for, and reads the calendar again. The
token is random, not a count, so that a rolled-back change, whose token no one else ever saw, cannot leave behind
a copy under a token that a later change would draw again.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("calendar_days", "calendar_years")
POSTGRESQL_TOKEN = "md5(random()::text || clock_timestamp()::text)"
SQLITE_TOKEN = "lower(hex(randomblob(16)))"

POSTGRESQL_FUNCTION = f"""
CREATE FUNCTION tousu_calendar_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE calendar_changes SET token = {POSTGRESQL_TOKEN};
    RETURN NULL;
END
$$
"""
POSTGRESQL_TRIGGERS = [
    f"CREATE TRIGGER {table}_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} "
    "FOR EACH STATEMENT EXECUTE FUNCTION tousu_calendar_changed()"
    for table in TABLES
]
SQLITE_EVENTS = {"INSERT": "inserted", "UPDATE": "updated", "DELETE": "deleted"}
SQLITE_TRIGGERS = [
    f"CREATE TRIGGER {table}_{done} AFTER {event} ON {table} "
    f"BEGIN UPDATE calendar_changes SET token = {SQLITE_TOKEN}; END"
    for table in TABLES
    for event, done in SQLITE_EVENTS.items()
]


def upgrade() -> None:
    op.create_table(
        "calendar_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calendar_changes")),
    )
    postgresql = op.get_bind().dialect.name == "postgresql"
    op.execute(
        f"INSERT INTO calendar_changes (id, token) VALUES (1, {POSTGRESQL_TOKEN if postgresql else SQLITE_TOKEN})"
    )
    if postgresql:
        op.execute(POSTGRESQL_FUNCTION)
        for trigger in POSTGRESQL_TRIGGERS:
            op.execute(trigger)
    else:
        for trigger in SQLITE_TRIGGERS:
            op.execute(trigger)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in TABLES:
            op.execute(f"DROP TRIGGER {table}_changed ON {table}")
        op.execute("DROP FUNCTION tousu_calendar_changed()")
    else:
        for table in TABLES:
            for done in SQLITE_EVENTS.values():
                op.execute(f"DROP TRIGGER {table}_{done}")
    op.drop_table("calendar_changes")
