"""complaints, history and api keys

Revision ID: 0001
Revises:
Create Date: 2026-11-23 02:57:02.879440
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column(
            "role",
            sa.Enum(
                "intake",
                "handler",
                "supervisor",
                "manager",
                "store",
                "reporter",
                "admin",
                name="role",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("store_id", sa.String(length=64), nullable=True),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("secret_hash", name=op.f("uq_api_keys_secret_hash")),
    )
    op.create_table(
        "complaint_number_counters",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("last", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_complaint_number_counters")),
    )
    op.create_table(
        "complaints",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "accepted",
                "rejected",
                "investigating",
                "awaiting_approval",
                "resolved",
                "revisited",
                name="state",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("complainant_name", sa.String(length=200), nullable=False),
        sa.Column("complainant_phone", sa.String(length=32), nullable=False),
        sa.Column("complainant_email", sa.String(length=254), nullable=True),
        sa.Column("customer_ref", sa.String(length=100), nullable=True),
        sa.Column(
            "channel",
            sa.Enum(
                "phone",
                "email",
                "sms",
                "web",
                "in_person",
                "letter",
                "media",
                name="channel",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column(
            "category",
            sa.Enum(
                "service_attitude",
                "service_quality",
                "product_quality",
                "billing",
                "facilities",
                "delivery",
                "incident",
                "other",
                name="category",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column(
            "priority",
            sa.Enum("normal", "urgent", "media", name="priority", native_enum=False, length=32),
            nullable=False,
        ),
        sa.Column("store_id", sa.String(length=64), nullable=True),
        sa.Column("department", sa.String(length=100), nullable=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("customer_request", sa.Text(), nullable=True),
        sa.Column("external_ref", sa.String(length=100), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("owner", sa.String(length=100), nullable=False),
        sa.Column("responsible_store_id", sa.String(length=64), nullable=True),
        sa.Column("responsible_department", sa.String(length=100), nullable=True),
        sa.Column("dispatched_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "rejection_reason",
            sa.Enum(
                "misunderstanding",
                "outside_responsibility",
                "outside_contract",
                "duplicate",
                "other",
                name="rejectionreason",
                native_enum=False,
                length=32,
            ),
            nullable=True,
        ),
        sa.Column(
            "remedy_kind",
            sa.Enum(
                "apology",
                "refund",
                "exchange",
                "price_reduction",
                "free_repair",
                "compensation",
                "other",
                name="remedykind",
                native_enum=False,
                length=32,
            ),
            nullable=True,
        ),
        sa.Column("remedy_amount", sa.Numeric(precision=12, scale=2), nullable=True),
        sa.Column("remedy_description", sa.Text(), nullable=True),
        sa.Column("reply_text", sa.Text(), nullable=True),
        sa.Column("proposed_by", sa.String(length=100), nullable=True),
        sa.Column("approved_by", sa.String(length=100), nullable=True),
        sa.Column(
            "responsibility",
            sa.Enum(
                "company_fault",
                "staff_fault",
                "customer_misunderstanding",
                "third_party",
                "undetermined",
                name="responsibility",
                native_enum=False,
                length=32,
            ),
            nullable=True,
        ),
        sa.Column(
            "satisfaction",
            sa.Enum("satisfied", "neutral", "unsatisfied", name="satisfaction", native_enum=False, length=32),
            nullable=True,
        ),
        sa.Column("reopen_count", sa.Integer(), nullable=False),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rejected_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("investigating_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("awaiting_approval_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revisited_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reopened_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_complaints")),
        sa.UniqueConstraint("number", name=op.f("uq_complaints_number")),
    )
    with op.batch_alter_table("complaints", schema=None) as batch_op:
        batch_op.create_index("ix_complaints_complainant_phone", ["complainant_phone"], unique=False)
        batch_op.create_index("ix_complaints_received_at", ["received_at"], unique=False)
        batch_op.create_index("ix_complaints_responsible_store_id", ["responsible_store_id"], unique=False)
        batch_op.create_index("ix_complaints_state", ["state"], unique=False)
        batch_op.create_index("ix_complaints_store_id", ["store_id"], unique=False)

    op.create_table(
        "complaint_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("complaint_id", sa.Uuid(), nullable=False),
        sa.Column("move", sa.String(length=32), nullable=False),
        sa.Column(
            "from_state",
            sa.Enum(
                "accepted",
                "rejected",
                "investigating",
                "awaiting_approval",
                "resolved",
                "revisited",
                name="state",
                native_enum=False,
                length=32,
            ),
            nullable=True,
        ),
        sa.Column(
            "to_state",
            sa.Enum(
                "accepted",
                "rejected",
                "investigating",
                "awaiting_approval",
                "resolved",
                "revisited",
                name="state",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("api_key_id", sa.Uuid(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "payload", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.ForeignKeyConstraint(["api_key_id"], ["api_keys.id"], name=op.f("fk_complaint_events_api_key_id_api_keys")),
        sa.ForeignKeyConstraint(
            ["complaint_id"], ["complaints.id"], name=op.f("fk_complaint_events_complaint_id_complaints")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_complaint_events")),
    )
    with op.batch_alter_table("complaint_events", schema=None) as batch_op:
        batch_op.create_index("ix_complaint_events_complaint_id_id", ["complaint_id", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("complaint_events", schema=None) as batch_op:
        batch_op.drop_index("ix_complaint_events_complaint_id_id")

    op.drop_table("complaint_events")
    with op.batch_alter_table("complaints", schema=None) as batch_op:
        batch_op.drop_index("ix_complaints_store_id")
        batch_op.drop_index("ix_complaints_state")
        batch_op.drop_index("ix_complaints_responsible_store_id")
        batch_op.drop_index("ix_complaints_received_at")
        batch_op.drop_index("ix_complaints_complainant_phone")

    op.drop_table("complaints")
    op.drop_table("complaint_number_counters")
    op.drop_table("api_keys")
