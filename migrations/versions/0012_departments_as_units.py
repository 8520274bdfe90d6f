"""departments are responsible units like stores: keys, clocks and webhook endpoints bound to a department

Revision ID: 0012
Revises: 0009
Create Date: 2026-12-03 15:00:00

A department key (role ``department``) and a webhook endpoint can be bound to one department, by its name as
complaints are dispatched to it (``complaints.responsible_department``, read by an index now). A feedback clock
names the unit it waits for: a store (``store_id``, as before) or a department (``department``). Every existing
row keeps its meaning: no key or endpoint is bound to a department, no clock waits for one. The clocks' covering
index (0006) also covers ``department`` on PostgreSQL: the summary grouped by store or by department counts the
feedback clocks of that kind of unit, still from the index alone.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("api_keys", "sla_clocks", "webhook_endpoints")


def upgrade() -> None:
    for table in TABLES:
        op.add_column(table, sa.Column("department", sa.String(length=100), nullable=True))
    op.create_index("ix_complaints_responsible_department", "complaints", ["responsible_department"])
    _clocks_index(["kind", "state", "due_at", "department"])


def downgrade() -> None:
    _clocks_index(["kind", "state", "due_at"])
    op.drop_index("ix_complaints_responsible_department", table_name="complaints")
    # A plain DROP COLUMN (SQLite 3.35 and later has it): a batch would copy api_keys and lose its triggers (0008).
    for table in reversed(TABLES):
        op.drop_column(table, "department")


def _clocks_index(covered: list[str]) -> None:
    op.drop_index("ix_sla_clocks_complaint_id", table_name="sla_clocks")
    op.create_index("ix_sla_clocks_complaint_id", "sla_clocks", ["complaint_id"], postgresql_include=covered)
