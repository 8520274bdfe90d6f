"""stores and departments as data: every unit already named, with a name and region to fill in

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03 16:40:00

The stores (``stores``, by the id used everywhere) and departments (``departments``, by their name as complaints
are dispatched to them) become rows with a name, a store's region, and whether the unit is active. Every unit
already named by a complaint (its store, its responsible store or department, the department it is about), a
clock, an API key or a webhook endpoint becomes an active unit without a name.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STORE_COLUMNS = (
    ("complaints", "store_id"),
    ("complaints", "purchase_store_id"),
    ("complaints", "responsible_store_id"),
    ("sla_clocks", "store_id"),
    ("api_keys", "store_id"),
    ("webhook_endpoints", "store_id"),
)
DEPARTMENT_COLUMNS = (
    ("complaints", "department"),
    ("complaints", "responsible_department"),
    ("sla_clocks", "department"),
    ("api_keys", "department"),
    ("webhook_endpoints", "department"),
)


def upgrade() -> None:
    op.create_table(
        "stores",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("region", sa.String(length=100), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stores")),
    )
    op.create_table(
        "departments",
        sa.Column("id", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_departments")),
    )
    _fill("stores", STORE_COLUMNS)
    _fill("departments", DEPARTMENT_COLUMNS)


def downgrade() -> None:
    op.drop_table("departments")
    op.drop_table("stores")


def _fill(table: str, columns: Sequence[tuple[str, str]]) -> None:
    named = " UNION ".join(
        f"SELECT {column} AS id FROM {source} WHERE {column} IS NOT NULL AND {column} <> ''"
        for source, column in columns
    )
    op.execute(f"INSERT INTO {table} (id, active) SELECT named.id, TRUE FROM ({named}) AS named")
