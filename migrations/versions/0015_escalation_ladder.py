"""escalation that reaches people: contacts on the ladder, what a complaint reached, major complaints' reports

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04 17:00:00

Escalation contacts (``escalation_contacts``: a store manager of a store or a department's head, a region manager
of a region, the company's customer-service supervisor and general manager). A complaint records the positions of
the ladder it reached (``escalated_to``: NULL for every existing complaint, which so far reached no one by name)
and, when major, its written incident report (``incident_reported_at``, ``incident_report``). The priority
``major`` and the clock kind ``incident_report`` are new values of VARCHAR columns: nothing to migrate.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

POSITIONS = ("store_manager", "region_manager", "cs_supervisor", "general_manager")


def _columns() -> list[sa.Column[object]]:
    return [
        sa.Column("escalated_to", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=True),
        sa.Column("incident_reported_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("incident_report", sa.Text(), nullable=True),
    ]


def upgrade() -> None:
    op.create_table(
        "escalation_contacts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Enum(*POSITIONS, name="position", native_enum=False, length=32), nullable=False),
        sa.Column("store_id", sa.String(length=64), nullable=True),
        sa.Column("department", sa.String(length=100), nullable=True),
        sa.Column("region", sa.String(length=100), nullable=True),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("wecom_id", sa.String(length=64), nullable=True),
        sa.Column("dingtalk_id", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_escalation_contacts")),
    )
    op.create_index("ix_escalation_contacts_position", "escalation_contacts", ["position"])
    with op.batch_alter_table("complaints") as batch:
        for column in _columns():
            batch.add_column(column)


def downgrade() -> None:
    # What the earlier schema cannot name: incident-report clocks, and major complaints (the highest it knows).
    incident = "SELECT id FROM sla_clocks WHERE kind = 'incident_report'"
    op.execute(f"DELETE FROM sla_clock_events WHERE clock_id IN ({incident})")
    op.execute("DELETE FROM sla_clocks WHERE kind = 'incident_report'")
    op.execute("UPDATE complaints SET priority = 'media' WHERE priority = 'major'")
    with op.batch_alter_table("complaints") as batch:
        for column in reversed(_columns()):
            batch.drop_column(column.name)
    op.drop_index("ix_escalation_contacts_position", table_name="escalation_contacts")
    op.drop_table("escalation_contacts")
