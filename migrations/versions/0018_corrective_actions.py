"""corrective actions: what the company does about a recurring cause of complaints

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-04 17:20:00

A corrective action (改善对策) names a cause (a store, a category or both, and free text), the action, its owner and
due date, its state (open, done, verified, dropped) with the moments of each move, the complaints it answers (ids,
JSON) and a short history of who changed what.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CATEGORIES = (
    "service_attitude",
    "service_quality",
    "product_quality",
    "billing",
    "facilities",
    "delivery",
    "incident",
    "other",
)
STATES = ("open", "done", "verified", "dropped")


def _json() -> sa.types.TypeEngine[object]:
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "corrective_actions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("store_id", sa.String(length=64), nullable=True),
        sa.Column("category", sa.Enum(*CATEGORIES, name="category", native_enum=False, length=32), nullable=True),
        sa.Column("cause", sa.Text(), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("owner", sa.String(length=100), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("state", sa.Enum(*STATES, name="actionstate", native_enum=False, length=32), nullable=False),
        sa.Column("complaint_ids", _json(), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("dropped_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("dropped_reason", sa.Text(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("history", _json(), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=100), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_corrective_actions")),
    )
    op.create_index("ix_corrective_actions_store_id", "corrective_actions", ["store_id"], unique=False)
    op.create_index("ix_corrective_actions_state", "corrective_actions", ["state"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_corrective_actions_state", table_name="corrective_actions")
    op.drop_index("ix_corrective_actions_store_id", table_name="corrective_actions")
    op.drop_table("corrective_actions")
