"""history entries keep the complaint as it was; deliveries know the target they were built for

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 21:00:00

A webhook shows the complaint as it was when the event happened, not as it is when the event is fanned out: each
history entry written by a change keeps the complaint as the change left it (``snapshot``, without the
complainant's contact details, which stay on the complaint alone). Entries written before this migration have no
snapshot; they are shown as the complaint is now, as before.

An endpoint's ``generation`` rises whenever its URL or store binding changes; a delivery keeps the generation it
was built for, and one built for an earlier generation is rebuilt for the endpoint as it is now (or dropped) before
it is sent, so nothing built for one target goes to another.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    json = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
    op.add_column("complaint_events", sa.Column("snapshot", json, nullable=True))
    op.add_column(
        "webhook_endpoints", sa.Column("generation", sa.Integer(), nullable=False, server_default=sa.text("1"))
    )
    op.add_column(
        "webhook_deliveries", sa.Column("generation", sa.Integer(), nullable=False, server_default=sa.text("1"))
    )


def downgrade() -> None:
    with op.batch_alter_table("webhook_deliveries") as batch:
        batch.drop_column("generation")
    with op.batch_alter_table("webhook_endpoints") as batch:
        batch.drop_column("generation")
    with op.batch_alter_table("complaint_events") as batch:
        batch.drop_column("snapshot")
