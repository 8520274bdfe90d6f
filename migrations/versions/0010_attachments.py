"""attachments: evidence (photos, receipts, recordings) of a complaint

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 15:00:00

One row per upload; the bytes are not in the database but in the attachment store (a folder or S3-compatible
object storage), content-addressed by ``sha256``, kept once however many rows name them. ``visible_to_unit`` is
false (internal) until someone shows the attachment to the responsible unit.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "attachments",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("complaint_id", sa.Uuid(), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("media_type", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("visible_to_unit", sa.Boolean(), nullable=False),
        sa.Column("uploaded_by", sa.String(length=100), nullable=False),
        sa.Column("api_key_id", sa.Uuid(), nullable=True),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["api_key_id"], ["api_keys.id"], name=op.f("fk_attachments_api_key_id_api_keys")),
        sa.ForeignKeyConstraint(
            ["complaint_id"], ["complaints.id"], name=op.f("fk_attachments_complaint_id_complaints")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attachments")),
    )
    op.create_index("ix_attachments_complaint_id_id", "attachments", ["complaint_id", "id"], unique=False)
    op.create_index("ix_attachments_sha256", "attachments", ["sha256"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_attachments_sha256", table_name="attachments")
    op.drop_index("ix_attachments_complaint_id_id", table_name="attachments")
    op.drop_table("attachments")
