"""related complaints: repeat complaints linked, and the order number found case-insensitively

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-04 16:40:00

A complaint registered as the Nth from its phone within the repeat window, or as a second on an order or receipt
whose first complaint is open, is linked to those complaints (``complaint_links``: one row, read from both ends).
The open complaints of an order or receipt number are found by its lower-cased value (an expression index).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LINK_REASONS = ("same_phone", "same_order_number")


def upgrade() -> None:
    op.create_table(
        "complaint_links",
        sa.Column("complaint_id", sa.Uuid(), nullable=False),
        sa.Column("related_id", sa.Uuid(), nullable=False),
        sa.Column("reason", sa.Enum(*LINK_REASONS, name="linkreason", native_enum=False, length=32), nullable=False),
        sa.Column("linked_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["complaint_id"], ["complaints.id"], name=op.f("fk_complaint_links_complaint_id_complaints")
        ),
        sa.ForeignKeyConstraint(["related_id"], ["complaints.id"], name=op.f("fk_complaint_links_related_id_complaints")),
        sa.PrimaryKeyConstraint("complaint_id", "related_id", "reason", name=op.f("pk_complaint_links")),
    )
    op.create_index("ix_complaint_links_related_id", "complaint_links", ["related_id"], unique=False)
    op.create_index("ix_complaints_order_number_folded", "complaints", [sa.text("lower(order_number)")], unique=False)


def downgrade() -> None:
    op.drop_index("ix_complaints_order_number_folded", table_name="complaints")
    op.drop_index("ix_complaint_links_related_id", table_name="complaint_links")
    op.drop_table("complaint_links")
