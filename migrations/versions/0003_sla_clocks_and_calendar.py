"""sla clocks and calendar

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 15:46:27.476060
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql


revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "calendar_days",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("working", sa.Boolean(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=True),
        sa.Column("set_by", sa.String(length=100), nullable=False),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_calendar_days")),
    )
    op.create_table(
        "calendar_years",
        sa.Column("year", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("imported_by", sa.String(length=100), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("year", name=op.f("pk_calendar_years")),
    )
    op.create_table(
        "sla_clocks",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("complaint_id", sa.Uuid(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum("store_feedback", "written_reply", "follow_up", name="clockkind", native_enum=False, length=32),
            nullable=False,
        ),
        sa.Column(
            "unit", sa.Enum("working_days", "days", "hours", name="unit", native_enum=False, length=32), nullable=False
        ),
        sa.Column("target", sa.Integer(), nullable=False),
        sa.Column("warn_after", sa.Integer(), nullable=False),
        sa.Column("store_id", sa.String(length=64), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("warn_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("calendar_assumed", sa.Boolean(), nullable=False),
        sa.Column(
            "state",
            sa.Enum("running", "met", "breached", "cancelled", name="clockstate", native_enum=False, length=32),
            nullable=False,
        ),
        sa.Column("warned_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("breached_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("stopped_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("next_check_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["complaint_id"], ["complaints.id"], name=op.f("fk_sla_clocks_complaint_id_complaints")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sla_clocks")),
    )
    with op.batch_alter_table("sla_clocks", schema=None) as batch_op:
        batch_op.create_index("ix_sla_clocks_complaint_id", ["complaint_id"], unique=False)
        batch_op.create_index(
            "ix_sla_clocks_next_check_at",
            ["next_check_at"],
            unique=False,
            postgresql_where=sa.text("next_check_at IS NOT NULL"),
            sqlite_where=sa.text("next_check_at IS NOT NULL"),
        )

    op.create_table(
        "sla_clock_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("clock_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "detail", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.ForeignKeyConstraint(["clock_id"], ["sla_clocks.id"], name=op.f("fk_sla_clock_events_clock_id_sla_clocks")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sla_clock_events")),
    )
    with op.batch_alter_table("sla_clock_events", schema=None) as batch_op:
        batch_op.create_index("ix_sla_clock_events_clock_id_id", ["clock_id", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("sla_clock_events", schema=None) as batch_op:
        batch_op.drop_index("ix_sla_clock_events_clock_id_id")

    op.drop_table("sla_clock_events")
    with op.batch_alter_table("sla_clocks", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_sla_clocks_next_check_at",
            postgresql_where=sa.text("next_check_at IS NOT NULL"),
            sqlite_where=sa.text("next_check_at IS NOT NULL"),
        )
        batch_op.drop_index("ix_sla_clocks_complaint_id")

    op.drop_table("sla_clocks")
    op.drop_table("calendar_years")
    op.drop_table("calendar_days")
