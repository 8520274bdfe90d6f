"""Migration 0013 (the reply as sent, the remedy carried out, follow-up calls) on a database filled by the schema
before it, and back: on both databases."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, create_engine, text

from app import migrate
from app.config import Settings

BEFORE = "0012"  # the schema before this migration
AT = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


def key(engine: Engine, value: uuid.UUID) -> Any:
    return value.hex if engine.dialect.name == "sqlite" else value


def insert_resolved_refund(engine: Engine) -> uuid.UUID:
    """A complaint resolved with a refund of 300 yuan, as the schema before 0013 holds it."""
    complaint = uuid.uuid4()
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO complaints (id, number, state, version, complainant_name, complainant_phone, channel, "
                "category, priority, description, received_at, owner, reopen_count, accepted_at, updated_at, "
                "remedy_kind, remedy_amount, reply_text, resolved_at, satisfaction) VALUES (:id, 'TS-20261123-0001', "
                "'resolved', 3, '张三', '13812348000', 'phone', 'billing', 'normal', '多收了钱', :at, 'agent-0042', 0, "
                ":at, :at, 'refund', 300, '退款', :at, NULL)"
            ),
            {"id": key(engine, complaint), "at": AT},
        )
    return complaint


def test_0013_upgrades_a_filled_database_and_downgrades(empty_database: str) -> None:
    settings = Settings(database_url=empty_database)
    migrate.upgrade(settings, BEFORE)
    engine = create_engine(empty_database)
    try:
        complaint = insert_resolved_refund(engine)
        migrate.upgrade(settings, "0013")
        with engine.begin() as connection:
            row = connection.execute(
                text(
                    "SELECT call_attempts, call_attempt_days, reply_channel, replied_at, fulfilled_at, improvement "
                    "FROM complaints"
                )
            ).one()
            assert tuple(row) == (0, 0, None, None, None, None)
            # What only 0013 can hold: a fulfilment clock, and a customer never reached.
            clock = uuid.uuid4()
            connection.execute(
                text(
                    "INSERT INTO sla_clocks (id, complaint_id, kind, unit, target, warn_after, started_at, warn_at, "
                    "due_at, calendar_assumed, state) VALUES (:id, :complaint, 'fulfilment', 'working_days', 3, 2, "
                    ":at, :at, :at, false, 'running')"
                ),
                {"id": key(engine, clock), "complaint": key(engine, complaint), "at": AT},
            )
            connection.execute(
                text("INSERT INTO sla_clock_events (clock_id, kind, at, detail) VALUES (:id, 'started', :at, '{}')"),
                {"id": key(engine, clock), "at": AT},
            )
            connection.execute(text("UPDATE complaints SET satisfaction = 'unreachable', call_attempts = 3"))
        migrate.downgrade(settings, BEFORE)
        with engine.begin() as connection:
            assert connection.scalar(text("SELECT count(*) FROM sla_clocks")) == 0
            assert connection.scalar(text("SELECT count(*) FROM sla_clock_events")) == 0
            assert connection.scalar(text("SELECT satisfaction FROM complaints")) is None
            assert connection.scalar(text("SELECT remedy_kind FROM complaints")) == "refund"
        migrate.upgrade(settings)
    finally:
        engine.dispose()
