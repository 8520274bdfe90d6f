"""retention: complaints anonymised past their time, and the audit of data subjects' requests

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-04 17:05:00

A complaint closed longer ago than ``TOUSU_RETENTION_DAYS`` loses its complainant's personal data; ``anonymised_at``
says when (and that a rerun has nothing left to do there). ``data_subject_requests`` records each export and erasure
a person asked for: who, when, why, what and which complaints, never the person's phone.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

REQUEST_KINDS = ("export", "erase")


def upgrade() -> None:
    op.add_column("complaints", sa.Column("anonymised_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "data_subject_requests",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.Enum(*REQUEST_KINDS, name="requestkind", native_enum=False, length=32), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("api_key_id", sa.Uuid(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("complaint_count", sa.Integer(), nullable=False),
        sa.Column("complaint_ids", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.ForeignKeyConstraint(
            ["api_key_id"], ["api_keys.id"], name=op.f("fk_data_subject_requests_api_key_id_api_keys")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_data_subject_requests")),
    )
    op.create_index("ix_data_subject_requests_at", "data_subject_requests", ["at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_data_subject_requests_at", table_name="data_subject_requests")
    op.drop_table("data_subject_requests")
    op.drop_column("complaints", "anonymised_at")
