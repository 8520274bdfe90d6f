"""intake identifies the purchase; complaints found by reference and by owner

Revision ID: 0011
Revises: 0009
Create Date: 2026-12-03 15:00:00

Optional columns on complaints for what identifies the purchase (the product, its batch and production date, the
order or receipt number, the purchase's date, store and amount, when the incident happened), the customer's
address and the claim (its type and the amount claimed). All NULL on the complaints registered before. And the
complainant's contact as it was before each correction of it (``former_contacts``), to mask it where older texts
quote it.

The list is searched by order number, external reference, customer reference and owner, newest first: each has an
index with the time-ordered id after it, as the phone has (migration 0004).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = (
    ("complainant_address", sa.String(length=500)),
    ("former_contacts", sa.JSON().with_variant(postgresql.JSONB(), "postgresql")),
    ("product_name", sa.String(length=200)),
    ("product_sku", sa.String(length=64)),
    ("product_specification", sa.String(length=200)),
    ("product_batch", sa.String(length=64)),
    ("product_production_date", sa.Date()),
    ("order_number", sa.String(length=64)),
    ("purchase_date", sa.Date()),
    ("purchase_store_id", sa.String(length=64)),
    ("purchase_amount", sa.Numeric(precision=12, scale=2)),
    ("incident_at", sa.DateTime(timezone=True)),
    (
        "claim_type",
        sa.Enum("appeal", "compensation", "non_quality", name="claimtype", native_enum=False, length=32),
    ),
    ("claim_amount", sa.Numeric(precision=12, scale=2)),
)
INDEXES = (
    ("ix_complaints_order_number_id", "order_number"),
    ("ix_complaints_external_ref_id", "external_ref"),
    ("ix_complaints_customer_ref_id", "customer_ref"),
    ("ix_complaints_owner_id", "owner"),
)


def upgrade() -> None:
    with op.batch_alter_table("complaints") as batch:
        for name, type_ in COLUMNS:
            batch.add_column(sa.Column(name, type_, nullable=True))
    for index, column in INDEXES:
        op.create_index(index, "complaints", [column, "id"], unique=False)


def downgrade() -> None:
    for index, _ in INDEXES:
        op.drop_index(index, table_name="complaints")
    with op.batch_alter_table("complaints") as batch:
        for name, _ in reversed(COLUMNS):
            batch.drop_column(name)
