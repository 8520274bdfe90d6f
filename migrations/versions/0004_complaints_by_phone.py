"""complaints by phone, in time order

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 18:10:00

A customer's earlier complaints are counted and the last one found on every read: the index covers the phone and
the time-ordered id, so both are answered from the index alone.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_complaints_complainant_phone", table_name="complaints")
    op.create_index("ix_complaints_complainant_phone_id", "complaints", ["complainant_phone", "id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_complaints_complainant_phone_id", table_name="complaints")
    op.create_index("ix_complaints_complainant_phone", "complaints", ["complainant_phone"], unique=False)
