"""the reply as sent, the remedy carried out, follow-up calls that did not get through

Revision ID: 0013
Revises: 0009
Create Date: 2026-12-03 15:20:00

A resolved complaint records how and when the customer was told (``reply_channel``, ``replied_at``), whether its
remedy was carried out (``fulfilled_at``, ``fulfilled_by``, ``payment_reference``), the unanswered follow-up calls
since its resolution (``call_attempts`` on ``call_attempt_days`` different days, the last one and a call-back time)
and a neutral customer's answer to what should improve (``improvement``). Complaints resolved before this migration
have no reply channel, no fulfilment and no calls: they read as before, and their remedy, if it has a value, is
owed until someone records it carried out.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

REPLY_CHANNELS = ("letter", "sms", "email", "phone", "in_person", "wechat")
CALL_OUTCOMES = ("no_answer", "busy", "wrong_number", "call_back")


def _columns() -> list[sa.Column[object]]:
    return [
        sa.Column(
            "reply_channel", sa.Enum(*REPLY_CHANNELS, name="replychannel", native_enum=False, length=32), nullable=True
        ),
        sa.Column("replied_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("fulfilled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("fulfilled_by", sa.String(length=100), nullable=True),
        sa.Column("payment_reference", sa.String(length=100), nullable=True),
        sa.Column("improvement", sa.Text(), nullable=True),
        sa.Column("call_attempts", sa.Integer(), nullable=False, server_default=sa.text("0")),
        sa.Column("call_attempt_days", sa.Integer(), nullable=False, server_default=sa.text("0")),
        sa.Column("last_call_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "last_call_outcome", sa.Enum(*CALL_OUTCOMES, name="calloutcome", native_enum=False, length=32), nullable=True
        ),
        sa.Column("call_back_at", sa.DateTime(timezone=True), nullable=True),
    ]


def upgrade() -> None:
    # The counts default to 0 in the database too: existing rows, and rows written by hand or by a bulk load.
    with op.batch_alter_table("complaints") as batch:
        for column in _columns():
            batch.add_column(column)


def downgrade() -> None:
    # What the earlier schema cannot name: fulfilment clocks, and the satisfaction of a customer never reached.
    fulfilment = "SELECT id FROM sla_clocks WHERE kind = 'fulfilment'"
    op.execute(f"DELETE FROM sla_clock_events WHERE clock_id IN ({fulfilment})")
    op.execute("DELETE FROM sla_clocks WHERE kind = 'fulfilment'")
    op.execute("UPDATE complaints SET satisfaction = NULL WHERE satisfaction = 'unreachable'")
    with op.batch_alter_table("complaints") as batch:
        for column in reversed(_columns()):
            batch.drop_column(column.name)
