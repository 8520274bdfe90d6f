"""the clocks' complaint index covers what the summary report counts

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 19:45:00

The summary counts every clock run of a period's complaints by kind and state and compares the running ones'
deadlines with now. With kind, state and due_at in the index (PostgreSQL's INCLUDE), that is an index-only scan
instead of a read of the whole clocks table. SQLite has no INCLUDE: there the index stays as it was.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_sla_clocks_complaint_id", table_name="sla_clocks")
    op.create_index(
        "ix_sla_clocks_complaint_id",
        "sla_clocks",
        ["complaint_id"],
        unique=False,
        postgresql_include=["kind", "state", "due_at"],
    )


def downgrade() -> None:
    op.drop_index("ix_sla_clocks_complaint_id", table_name="sla_clocks")
    op.create_index("ix_sla_clocks_complaint_id", "sla_clocks", ["complaint_id"], unique=False)
