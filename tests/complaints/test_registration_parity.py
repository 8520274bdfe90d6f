"""Registration's own write against the ORM's: the same body registered both ways, with the same ids and number
under a controlled clock, leaves the same rows, column by column, on SQLite and PostgreSQL.

The columns compared are the tables' own (``__table__.columns``): a column added later, with or without a default,
is compared without a change here.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import time_machine
from psycopg import _queries as psycopg_queries
from sqlalchemy import Table, delete, select

from app.auth import service as keys
from app.auth.models import Role
from app.auth.principal import Actor
from app.complaints import registration
from app.complaints.models import Complaint, ComplaintEvent
from app.complaints.schemas import ComplaintCreate
from app.config import Settings
from app.db import Database, utcnow
from app.sla import clocks
from app.sla.models import Clock, ClockEvent
from tests.conftest import complaint_body

AT = datetime(2026, 7, 1, 4, 0, 0, 123456, tzinfo=UTC)

BODIES = {
    "the fields a call centre sends": {},
    "only what is required": {"store_id": None, "department": "客服中心", "customer_request": None},
    "every field": {
        "complainant": {
            "name": "欧阳娜娜",
            "phone": "+86 139-1234-8000",
            "email": "nana@example.com",
            "customer_ref": "M-0042",
        },
        "priority": "urgent",
        "department": "售后服务部",
        "external_ref": "CRM-2026-889123",
        "received_at": "2026-07-01T10:15:00+08:00",
        "owner": "handler-07",
    },
    "through the media (escalated at once)": {"channel": "media"},
    "major (escalated at once, with its incident-report clock)": {"priority": "major", "category": "incident"},
    "the purchase identified": {
        "complainant": {"name": "王芳", "phone": "13912348000", "address": "广东省深圳市福田区福华路88号"},
        "category": "product_quality",
        "product": {
            "name": "全脂纯牛奶",
            "sku": "6901234567892",
            "batch": "B20261015-03",
            "production_date": "2026-06-15",
        },
        "order_number": "POS-012-20260630-0088",
        "purchase": {"date": "2026-06-30", "store_id": "SZ-FT-013", "amount": "59.90"},
        "incident_at": "2026-06-30T20:00:00+08:00",
        "claim": {"type": "compensation", "amount_claimed": "599.00"},
    },
    "part of the product only": {"product": {"batch": "B1"}, "claim": {"type": "appeal"}},
}

COMPLAINTS, EVENTS, CLOCKS, CLOCK_EVENTS = (model.__table__ for model in (Complaint, ComplaintEvent, Clock, ClockEvent))


@pytest.fixture
def database(settings: Settings) -> Iterator[Database]:
    handle = Database.from_settings(settings)
    yield handle
    handle.dispose()


@pytest.fixture
def actor(database: Database, settings: Settings) -> Actor:
    with database.writers.begin() as session:
        _, secret = keys.create_key(session, name="parity", role=Role.intake, store_id=None, created_by="tests")
        principal = keys.principal_for(session, secret, settings)
    assert principal is not None
    return Actor(principal, "agent-0042")


def rows(database: Database, complaint_id: uuid.UUID) -> dict[str, list[dict[str, Any]]]:
    """The complaint's rows in each table, oldest first, every column by name."""
    clock_ids = select(CLOCKS.c.id).where(CLOCKS.c.complaint_id == complaint_id)
    queries = {
        COMPLAINTS: select(COMPLAINTS).where(COMPLAINTS.c.id == complaint_id),
        EVENTS: select(EVENTS).where(EVENTS.c.complaint_id == complaint_id).order_by(EVENTS.c.id),
        CLOCKS: select(CLOCKS).where(CLOCKS.c.complaint_id == complaint_id).order_by(CLOCKS.c.started_at),
        CLOCK_EVENTS: select(CLOCK_EVENTS).where(CLOCK_EVENTS.c.clock_id.in_(clock_ids)).order_by(CLOCK_EVENTS.c.id),
    }
    with database.engine.connect() as connection:
        return {
            table.name: [
                {column.key: row._mapping[column] for column in table.columns} for row in connection.execute(query)
            ]
            for table, query in queries.items()
        }


def forget(database: Database, complaint_id: uuid.UUID) -> None:
    clock_ids = select(CLOCKS.c.id).where(CLOCKS.c.complaint_id == complaint_id).scalar_subquery()
    with database.write_engine.begin() as connection:
        connection.execute(delete(CLOCK_EVENTS).where(CLOCK_EVENTS.c.clock_id.in_(clock_ids)))
        connection.execute(delete(CLOCKS).where(CLOCKS.c.complaint_id == complaint_id))
        connection.execute(delete(EVENTS).where(EVENTS.c.complaint_id == complaint_id))
        connection.execute(delete(COMPLAINTS).where(COMPLAINTS.c.id == complaint_id))


def register_with_the_orm(
    database: Database, settings: Settings, body: ComplaintCreate, actor: Actor, complaint_id: uuid.UUID, number: str
) -> None:
    """The plain ORM registration: a ``Complaint`` with the columns registration sets, and its history entries and
    clock as registration builds them, all added to a session; its unit of work fills in the defaults."""
    with database.writers.begin() as session:
        columns = registration.complaint_columns(body, actor, utcnow(), settings)
        complaint = Complaint(id=complaint_id, number=number, **columns)
        session.add(complaint)
        session.flush()
        session.add_all(registration.first_rows(session.connection(), complaint, body, actor, settings).all())


def differences(table: Table, fast: list[dict[str, Any]], orm: list[dict[str, Any]]) -> list[str]:
    """Where the two writes differ, column by column; the ids the database counts up itself are left out."""
    assert len(fast) == len(orm) > 0, f"{table.name}: {len(fast)} rows written fast, {len(orm)} by the ORM"
    found = []
    for index, (fast_row, orm_row) in enumerate(zip(fast, orm, strict=True)):
        for column in table.columns:
            if column is table.autoincrement_column:
                assert fast_row[column.key] is not None and orm_row[column.key] is not None
            elif fast_row[column.key] != orm_row[column.key]:
                found.append(
                    f"{table.name}[{index}].{column.key}: {fast_row[column.key]!r} written fast, "
                    f"{orm_row[column.key]!r} by the ORM"
                )
    return found


@pytest.mark.parametrize("overrides", BODIES.values(), ids=BODIES.keys())
def test_registration_writes_the_rows_the_orm_writes(
    database: Database, settings: Settings, actor: Actor, monkeypatch: pytest.MonkeyPatch, overrides: dict[str, Any]
) -> None:
    body = ComplaintCreate.model_validate(complaint_body(**overrides))
    with time_machine.travel(AT, tick=False):
        registered = registration.register(database, settings, body, actor, None)
    assert registered.complaint_id is not None
    fast = rows(database, registered.complaint_id)
    forget(database, registered.complaint_id)

    ids = iter([clock["id"] for clock in fast[CLOCKS.name]])
    monkeypatch.setattr(clocks, "uuid7", lambda: next(ids))  # the same clock ids, as the complaint's is given
    with time_machine.travel(AT, tick=False):
        number = fast[COMPLAINTS.name][0]["number"]
        register_with_the_orm(database, settings, body, actor, registered.complaint_id, number)
    orm = rows(database, registered.complaint_id)

    tables = (COMPLAINTS, EVENTS, CLOCKS, CLOCK_EVENTS)
    found = [line for table in tables for line in differences(table, fast[table.name], orm[table.name])]
    assert not found, "\n".join(found)


@pytest.mark.postgresql_only
def test_the_usual_registration_is_a_statement_psycopg_keeps_converted(
    database: Database, settings: Settings, actor: Actor, monkeypatch: pytest.MonkeyPatch
) -> None:
    """psycopg converts a statement's named parameters to PostgreSQL's numbered ones on every execution, and keeps
    the conversion only for a statement of at most 50 parameters and 4,096 bytes: above either, a registration
    parses its 3 KB of SQL again each time (a tenth of its CPU, measured under the bench)."""
    sent: list[tuple[str, dict[str, Any]]] = []
    first_row = registration._DriverStatement.first_row

    def spied(statement: Any, connection: Any, params: dict[str, Any]) -> Any:
        sent.append((statement.sql, statement.literals | params))
        return first_row(statement, connection, params)

    monkeypatch.setattr(registration._DriverStatement, "first_row", spied)
    body = ComplaintCreate.model_validate(complaint_body(external_ref="CRM-2026-889123"))  # as a call centre sends it
    registration.register(database, settings, body, actor, None)
    ((sql, params),) = sent
    assert len(params) <= psycopg_queries.MAX_CACHED_STATEMENT_PARAMS == 50
    assert len(sql.encode()) <= psycopg_queries.MAX_CACHED_STATEMENT_LENGTH == 4096
