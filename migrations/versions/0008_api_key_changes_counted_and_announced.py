"""a change to an API key (its revocation) is counted, and announced on PostgreSQL

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 09:00:00

Each process caches the keys it has checked (app/auth/service.py, KeyCache) and must hear at once of a revocation
made by another process (app/auth/revocations.py). Triggers on api_keys count every update (a revocation) and
deletion of a key row, whether through the API or by hand, in the one row of api_key_changes: a process on SQLite
reads that row before it trusts its cache. On PostgreSQL the trigger also sends NOTIFY tousu_api_keys with the key's
id, which PostgreSQL delivers when the transaction commits, to every process listening.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

POSTGRESQL_FUNCTION = """
CREATE FUNCTION tousu_api_key_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE api_key_changes SET changes = changes + 1;
    PERFORM pg_notify('tousu_api_keys', OLD.id::text);
    RETURN NULL;
END
$$
"""
POSTGRESQL_TRIGGER = (
    "CREATE TRIGGER api_keys_changed AFTER UPDATE OR DELETE ON api_keys "
    "FOR EACH ROW EXECUTE FUNCTION tousu_api_key_changed()"
)

SQLITE_TRIGGERS = [
    f"CREATE TRIGGER api_keys_{event.lower()}d AFTER {event} ON api_keys "
    "BEGIN UPDATE api_key_changes SET changes = changes + 1; END"
    for event in ("UPDATE", "DELETE")
]


def upgrade() -> None:
    op.create_table(
        "api_key_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("changes", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_key_changes")),
    )
    op.execute("INSERT INTO api_key_changes (id, changes) VALUES (1, 0)")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(POSTGRESQL_FUNCTION)
        op.execute(POSTGRESQL_TRIGGER)
    else:
        for trigger in SQLITE_TRIGGERS:
            op.execute(trigger)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER api_keys_changed ON api_keys")
        op.execute("DROP FUNCTION tousu_api_key_changed()")
    else:
        op.execute("DROP TRIGGER api_keys_updated")
        op.execute("DROP TRIGGER api_keys_deleted")
    op.drop_table("api_key_changes")
