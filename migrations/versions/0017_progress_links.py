"""progress links: the customer's page of a complaint, read through an unguessable token

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-04 17:10:00

A complaint's progress link (``/p/<token>``) is kept as the SHA-256 of its token, with who issued it and when, and
who revoked it and when. It expires 90 days after the complaint closes: computed from the complaint, not stored.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "progress_links",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("complaint_id", sa.Uuid(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("issued_by", sa.String(length=100), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_by", sa.String(length=100), nullable=True),
        sa.ForeignKeyConstraint(
            ["complaint_id"], ["complaints.id"], name=op.f("fk_progress_links_complaint_id_complaints")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_progress_links")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_progress_links_token_hash")),
    )
    op.create_index("ix_progress_links_complaint_id", "progress_links", ["complaint_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_progress_links_complaint_id", table_name="progress_links")
    op.drop_table("progress_links")
