"""The registration's rows, written with prepared Core statements instead of the ORM's unit of work.

Registration is the hottest write: a complaint, its first history entries, its written-reply clock and that clock's
first event, and the day's number. On PostgreSQL all of it is one statement (data-modifying CTEs), its number
drawn from the day's sequence, which the caller may run in autocommit. On SQLite, which has one writer at a time
anyway, the day's counter row is bumped and the same inserts run one after another.

Each insert names the columns the caller set on the new row (the rest take their defaults or stay NULL), and the
ids a row shares with another are one parameter. That keeps a registration under psycopg's 50 parameters, so the
driver caches the statement's conversion instead of parsing 3 KB of SQL on every request.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime
from functools import cache, lru_cache
from typing import Any

from sqlalchemy import Connection, Dialect, Insert, Select, Text, bindparam, cast, func, select, text
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import Session

from app.complaints.models import Complaint, ComplaintEvent, DailyCounter, State
from app.complaints.schemas import Earlier, LastComplaint
from app.db import Base, DriverStatement
from app.sla.models import Clock, ClockEvent

NUMBER_DIGITS = 4  # TS-YYYYMMDD-0001; the 10,000th complaint of a day gets a fifth digit

# Columns whose value is another row's id: bound once, as that row's parameter.
SHARED = {"complaint_id": "c_id", "clock_id": "k_id"}


@lru_cache(maxsize=4)
def number_prefix(day: date) -> str:
    return f"TS-{day:%Y%m%d}-"


def number(day: date, last: int) -> str:
    return f"{number_prefix(day)}{last:0{NUMBER_DIGITS}d}"


def write_registration(
    connection: Connection,
    complaint: dict[str, Any],
    events: Sequence[ComplaintEvent],
    clock: Clock,
    clock_event: ClockEvent,
    day: date,
) -> tuple[str, Earlier]:
    """Insert the rows of a new complaint in the connection's transaction; returns the complaint's number and the
    complaints its phone made before.

    ``complaint`` is the complaint's columns, its number left out: it is drawn here, from the counter of ``day``.
    The events all set the same columns.
    """
    rows = _Rows.of(complaint, events, clock, clock_event)
    params = {"counter_day": day, **rows.params()}
    if connection.dialect.name == "postgresql":
        params["number_prefix"] = number_prefix(day)
        row = _registration(rows.shape, connection.dialect).first_row(connection, params)
        assert row is not None
        number_drawn, count, last_id, last_number, last_state, last_received_at = row
        # Straight from the driver: the state is a string, the time in the connection's time zone.
        last = (last_id, last_number, State(last_state), last_received_at.astimezone(UTC)) if last_id else (None,) * 4
        return number_drawn, _earlier_of((count, *last))
    last = connection.execute(_counter(sqlite.insert), params).scalar_one()
    params["c_number"] = number(day, last)
    complaint_columns, event_columns, event_count, clock_columns, clock_event_columns = rows.shape
    connection.execute(_insert(Complaint, ("c",), (*complaint_columns, "number")), params)
    connection.execute(_insert(ComplaintEvent, _event_prefixes(event_count), event_columns), params)
    connection.execute(_insert(Clock, ("k",), clock_columns), params)
    connection.execute(_insert(ClockEvent, ("ke",), clock_event_columns), params)
    return params["c_number"], earlier_complaints(connection, [complaint["id"]], None)[complaint["id"]]


class _Rows:
    """The new rows with the columns each sets; ``shape`` identifies the statement that inserts them."""

    def __init__(self, prefixed: list[tuple[str, dict[str, Any], frozenset[str]]], shape: tuple[Any, ...]) -> None:
        self.prefixed = prefixed
        self.shape = shape

    @classmethod
    def of(
        cls, complaint: dict[str, Any], events: Sequence[ComplaintEvent], clock: Clock, clock_event: ClockEvent
    ) -> _Rows:
        objects: list[tuple[str, Base]] = [("k", clock), ("ke", clock_event)]
        objects += zip(_event_prefixes(len(events)), events, strict=True)
        complaint_columns = frozenset(complaint.keys() & _insertable(Complaint))
        prefixed = [("c", complaint, complaint_columns)]
        prefixed += [(prefix, row.__dict__, _set_columns(row)) for prefix, row in objects]
        event_columns = prefixed[3][2]
        shape = (complaint_columns, event_columns, len(events), prefixed[1][2], prefixed[2][2])
        return cls(prefixed, shape)

    def params(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for prefix, row, columns in self.prefixed:
            for key, name in _parameter_names(prefix, columns):
                values[name] = row[key]
        return values


def _set_columns(row: Base) -> frozenset[str]:
    return frozenset(row.__dict__.keys() & _insertable(type(row)))


@cache
def _insertable(model: type[Base]) -> frozenset[str]:
    table = model.__table__
    return frozenset(c.key for c in table.columns if c is not table.autoincrement_column)


@cache
def _parameter_names(prefix: str, columns: frozenset[str]) -> tuple[tuple[str, str], ...]:
    """(column, parameter) pairs of one row; the ids a row shares with another are that row's parameter."""
    return tuple((key, SHARED.get(key, f"{prefix}_{key}")) for key in columns)


def _event_prefixes(count: int) -> tuple[str, ...]:
    return tuple(f"e{index}" for index in range(count))


@cache
def _insert(model: type[Base], prefixes: tuple[str, ...], columns: frozenset[str]) -> Insert:
    """An insert of one row per prefix (one statement: the rows get their autoincremented ids in this order)."""
    table = model.__table__
    rows = [
        {key: bindparam(name, type_=table.c[key].type) for key, name in sorted(_parameter_names(prefix, columns))}
        for prefix in prefixes
    ]
    return table.insert().values(rows if len(rows) > 1 else rows[0])


def drop_number_sequences(session: Session, before: date) -> int:
    """Drop the PostgreSQL sequences of the days before ``before`` (no registration draws from them any more);
    returns how many went. Their numbers stay on their complaints."""
    if session.get_bind().dialect.name != "postgresql":
        return 0
    names = session.scalars(
        text("SELECT relname FROM pg_class WHERE relkind = 'S' AND relname ~ '^complaint_numbers_[0-9]{8}$'")
    )
    old = [name for name in names if datetime.strptime(name[-8:], "%Y%m%d").date() < before]
    for name in old:
        session.execute(text(f'DROP SEQUENCE IF EXISTS "{name}"'))
    return len(old)


@cache
def _counter(dialect_insert: Any) -> Any:
    """SQLite's numbers: the day's counter row, bumped (one writer at a time there anyway)."""
    table = DailyCounter.__table__
    return (
        dialect_insert(table)
        .values(day=bindparam("counter_day", type_=table.c.day.type), last=1)
        .on_conflict_do_update(index_elements=[table.c.day], set_={"last": table.c.last + 1})
        .returning(table.c.last)
    )


@lru_cache(maxsize=32)  # per shape and engine: a handful in a process
def _registration(shape: tuple[Any, ...], dialect: Dialect) -> DriverStatement:
    """One PostgreSQL statement: the day's number, the complaint, its events, its clock and the clock's event.

    The number comes from the day's sequence (migration 0007), drawn once in a CTE: no row lock for concurrent
    registrations to queue on; a registration that fails after drawing leaves its number unused. Foreign keys are
    checked at the end of the statement, when every row is there.
    """
    complaint_columns, event_columns, event_count, clock_columns, clock_event_columns = shape
    day = bindparam("counter_day", type_=DailyCounter.__table__.c.day.type)
    counter = select(func.tousu_complaint_number(day).label("last")).cte("counter")
    last = cast(counter.c.last, Text)
    digits = func.lpad(last, func.greatest(NUMBER_DIGITS, func.length(last)), "0")
    drawn = select(func.concat(bindparam("number_prefix", type_=Text), digits)).scalar_subquery()
    complaint = _insert(Complaint, ("c",), complaint_columns).values(number=drawn)
    rows = [
        _insert(ComplaintEvent, _event_prefixes(event_count), event_columns).cte("history"),
        _insert(Clock, ("k",), clock_columns).cte("clock"),
        _insert(ClockEvent, ("ke",), clock_event_columns).cte("clock_event"),
    ]
    table = Complaint.__table__
    new = complaint.returning(table.c.number).cte("complaint")
    # The statement's reads see the table as it was before it: the new complaint is not among the earlier ones.
    count, last, on = _earlier(bindparam("c_complainant_phone"), bindparam("c_id"), None)
    columns = (new.c.number, count, last.c.id, last.c.number, last.c.state, last.c.received_at)
    return DriverStatement(select(*columns).select_from(new.outerjoin(last, on)).add_cte(*rows), dialect)


def earlier_complaints(
    session: Session | Connection, ids: Sequence[uuid.UUID], store_id: str | None
) -> dict[uuid.UUID, Earlier]:
    """For each complaint, the earlier complaints from its phone; a store sees only those dispatched to it.

    Two index range scans per complaint on (complainant_phone, id), whatever the size of the table.
    """
    if not ids:
        return {}
    query = earlier_query(store_id is not None)
    rows = session.execute(query, {"ids": list(ids), "store_id": store_id})
    return {row[0]: _earlier_of(row[1:]) for row in rows}


@cache
def earlier_query(by_store: bool) -> Select[Any]:
    """Built once: three aliases of a table of 35 columns cost a read more to build than to run. Parameters:
    ``ids`` and, when ``by_store``, ``store_id``."""
    this = Complaint.__table__.alias("this")
    store_id = bindparam("store_id", type_=Complaint.__table__.c.responsible_store_id.type) if by_store else None
    count, last, on = _earlier(this.c.complainant_phone, this.c.id, store_id)
    return (
        select(this.c.id, count, last.c.id, last.c.number, last.c.state, last.c.received_at)
        .select_from(this.outerjoin(last, on))
        .where(this.c.id.in_(bindparam("ids", expanding=True)))
    )


def _earlier(phone: Any, before: Any, store_id: Any) -> tuple[Any, Any, Any]:
    """The count of earlier complaints (a scalar subquery), the last one (an alias) and how to join it."""
    table = Complaint.__table__
    earlier = table.alias("earlier")
    last = table.alias("last")
    conditions = [earlier.c.complainant_phone == phone, earlier.c.id < before]
    if store_id is not None:
        conditions.append(earlier.c.responsible_store_id == store_id)
    count = select(func.count()).select_from(earlier).where(*conditions).scalar_subquery()
    last_id = select(earlier.c.id).where(*conditions).order_by(earlier.c.id.desc()).limit(1).scalar_subquery()
    return count, last, last.c.id == last_id


def _earlier_of(row: Sequence[Any]) -> Earlier:
    count, last_id, number, state, received_at = row
    return Earlier(count, LastComplaint(last_id, number, state, received_at) if last_id is not None else None)
