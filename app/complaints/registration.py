"""Registration (受理), the hottest write, in one place: a retried request's replay, the new rows built from the
models and their defaults, written with prepared Core statements, and the answer as the caller may see it.

The rows are a complaint, its first history entries, its written-reply clock and that clock's first event, and the
day's number; for a repeat complaint (``repeats``: found by one indexed read before, so that it is registered
urgent and its clock runs on the urgent target), its escalation among the history entries and its links to the
complaints it repeats. On PostgreSQL all of it is one statement (data-modifying CTEs), its number drawn from the day's
sequence; without an Idempotency-Key to remember, that statement is its own transaction (autocommit, on the
database's single-statement engine). On SQLite, which has one writer at a time anyway, the day's counter row is
bumped and each table's rows are inserted by a statement of their own, one after another.

Each insert names the columns set on its new object and every column with a Python-side default, applied here as
the ORM's insert applies it; the other columns stay NULL, as the ORM leaves them. The ids a row shares with another
are one parameter, and constants are written into the SQL. That keeps a registration under psycopg's 50 parameters,
so the driver caches the statement's conversion instead of parsing 3 KB of SQL on every request (a test checks it).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache, lru_cache, partial
from typing import Any

from fastapi import status
from sqlalchemy import Connection, Dialect, Insert, Text, bindparam, cast, func, literal_column, select
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.schema import CallableColumnDefault, ScalarElementColumnDefault, Table

from app import idempotency
from app.auth.principal import Actor, Principal
from app.complaints import repeats, repository, workflow
from app.complaints.models import Complaint, ComplaintEvent, ComplaintLink, DailyCounter, State
from app.complaints.repeats import Repeat
from app.complaints.schemas import (
    NONE_EARLIER,
    ComplaintCreate,
    ComplaintOut,
    Earlier,
    EarlierComplaintsOut,
    RelatedComplaintOut,
)
from app.config import Settings
from app.db import Base, Database, transient, utcnow
from app.errors import InvalidInput
from app.sla import clocks
from app.sla.models import Clock, ClockEvent
from app.visibility import Viewer
from app.vocabulary import Trigger

CLOCK_SKEW = timedelta(minutes=5)
NUMBER_DIGITS = 4  # TS-YYYYMMDD-0001; the 10,000th complaint of a day gets a fifth digit

# Columns whose value is another row's id, bound once as that row's parameter: the complaint's, and a clock event's
# clock (the Nth clock event, ``keN``, is the Nth clock's, ``kN``).
CLOCK_EVENT = "ke"
# The other tables a registration writes, in order: their rows' parameter prefixes, and their CTEs' names.
MODELS: tuple[type[Base], ...] = (ComplaintEvent, Clock, ClockEvent, ComplaintLink)
PREFIXES = ("e", "k", CLOCK_EVENT, "l")
NAMES = ("history", "clocks", "clock_events", "links")


@dataclass(frozen=True)
class Registered:
    """A registration's answer: the complaint as the caller may see it (JSON), or the first answer replayed."""

    status_code: int
    body: bytes
    complaint_id: uuid.UUID | None
    version: int
    replayed: bool = False


def register(
    db: Database, settings: Settings, body: ComplaintCreate, actor: Actor, idempotency_key: str | None
) -> Registered:
    """Register a complaint in a transaction of its own; with an Idempotency-Key, replay the first answer to it
    instead if there was one, and remember this answer otherwise (in the same transaction)."""
    principal = actor.principal
    if idempotency_key is None:
        with db.single_statements.begin() as connection:
            written = write(connection, body, actor, settings)
            return _created(written.complaint, _shown(connection, written, principal, settings))
    request_fingerprint = idempotency.fingerprint(body.model_dump(mode="json", exclude_unset=True))
    with db.write_engine.begin() as connection:
        replay = idempotency.claim(connection, principal.key_id, idempotency_key, request_fingerprint)
        if replay is not None:
            replayed = json.dumps(replay.body, ensure_ascii=False, separators=(",", ":")).encode()
            return Registered(replay.status_code, replayed, replay.resource_id, replay.body["version"], replayed=True)
        written = write(connection, body, actor, settings)
        complaint, out = written.complaint, _shown(connection, written, principal, settings)
        idempotency.remember(
            connection,
            principal.key_id,
            idempotency_key,
            request_fingerprint,
            status_code=status.HTTP_201_CREATED,
            body=out.model_dump(mode="json"),
            resource_id=complaint.id,
            keep=timedelta(hours=settings.idempotency_keep_hours),
        )
    return _created(complaint, out)


def _shown(connection: Connection, written: Written, principal: Principal, settings: Settings) -> ComplaintOut:
    """The new complaint as the caller may see it, with the moves it may make now (and, a repeat, the complaints it
    repeats that the caller may read): the answer built with its rows, given what the write told."""
    complaint, viewer = written.complaint, Viewer.of(principal)
    related: list[RelatedComplaintOut] = []
    if written.repeat is not None:
        related = repeats.related(connection, [complaint.id], viewer, settings.tz)[complaint.id]
    told = {
        "number": complaint.number,
        "earlier_complaints": EarlierComplaintsOut.of(written.earlier, settings.tz),
        "related": related,
    }
    return viewer.complaint(written.shown.model_copy(update=told))


def _created(complaint: Complaint, out: ComplaintOut) -> Registered:
    return Registered(status.HTTP_201_CREATED, out.model_dump_json().encode(), complaint.id, complaint.version)


@dataclass(frozen=True)
class Written:
    """A new complaint, in no session (everything an answer shows is on it), with the complaints its phone made
    before, what made it a repeat if it is one, and its answer as built with its rows (``FirstRows.shown``)."""

    complaint: Complaint
    earlier: Earlier
    repeat: Repeat | None
    shown: ComplaintOut


def write(connection: Connection, body: ComplaintCreate, actor: Actor, settings: Settings) -> Written:
    """Write a new complaint with its first history entry and its written-reply clock in the connection's
    transaction."""
    now = utcnow()
    if body.received_at is not None and body.received_at > now + CLOCK_SKEW:
        raise InvalidInput("received_at is in the future", field="received_at")
    if body.incident_at is not None and body.incident_at > (body.received_at or now) + CLOCK_SKEW:
        raise InvalidInput("incident_at is after the complaint was received", field="incident_at")
    received_at = body.received_at or now
    repeat = repeats.find(connection, body.complainant.phone, body.order_number, received_at, settings)
    row = row_of(Complaint, complaint_columns(body, actor, now, settings, repeat))
    complaint = transient(Complaint, row)
    complaint.number = ""  # drawn by the write below; a snapshot leaves it out
    first = first_rows(connection, complaint, body, actor, settings, repeat)
    day = now.astimezone(settings.tz).date()
    write_rows = _write_postgresql if connection.dialect.name == "postgresql" else _write_sqlite
    complaint.number, earlier = write_rows(connection, _Rows.of(row, first), day)
    return Written(complaint, earlier, repeat, first.shown)


def complaint_columns(
    body: ComplaintCreate, actor: Actor, now: datetime, settings: Settings, repeat: Repeat | None = None
) -> dict[str, Any]:
    """The columns a registration sets on its new complaint (a repeat's priority raised); the model's defaults give
    the others."""
    priority = repeat.priority(body.priority) if repeat is not None else body.priority
    reached = clocks.reached_at_registration(priority, settings, repeat=repeat is not None)
    return {
        "complainant_name": body.complainant.name,
        "complainant_phone": body.complainant.phone,
        "complainant_email": body.complainant.email,
        "customer_ref": body.complainant.customer_ref,
        "channel": body.channel,
        "category": body.category,
        "priority": priority,
        "store_id": body.store_id,
        "department": body.department,
        "description": body.description,
        "customer_request": body.customer_request,
        "external_ref": body.external_ref,
        "received_at": body.received_at or now,
        "owner": body.owner or actor.name,
        "accepted_at": now,
        "updated_at": now,
        # Only those given: a registration without them keeps its statement (and its parameters) as it was.
        **body.intake_columns(),
        **({"escalated_to": reached} if reached else {}),
    }


@dataclass(frozen=True)
class FirstRows:
    """What comes with a new complaint: its history entries (the registration, and the escalations of a complaint
    that escalates at once or repeats others), its clocks (the written reply's, a major complaint's incident
    report's), each clock's first event, and its links to the complaints it repeats."""

    events: list[ComplaintEvent]
    clocks: list[Clock]
    clock_events: list[ClockEvent]
    links: list[ComplaintLink]
    # The complaint in full, with the moves the registering key may make: the events' snapshot, and the answer once
    # the write has drawn its number and found the phone's earlier complaints. Built once for both.
    shown: ComplaintOut

    def all(self) -> list[Base]:
        return [*self.events, *self.clocks, *self.clock_events, *self.links]


def first_rows(
    connection: Connection,
    complaint: Complaint,
    body: ComplaintCreate,
    actor: Actor,
    settings: Settings,
    repeat: Repeat | None = None,
) -> FirstRows:
    """The new complaint's other rows, not yet written, each event with the complaint as they leave it."""
    # The complainant's contact details stay out of the history: it is shown to stores and sent to webhooks.
    entry = ComplaintEvent(
        complaint_id=complaint.id,
        move="register",
        from_state=None,
        to_state=complaint.state,
        actor=actor.name,
        api_key_id=actor.principal.key_id,
        at=complaint.accepted_at,
        payload=body.model_dump(mode="json", exclude={"complainant"}, exclude_none=True),
    )
    started = clocks.at_registration(connection, complaint, settings)
    set_committed_value(complaint, "clocks", [clock for clock, _ in started.clocks])
    shown = ComplaintOut.build(complaint, workflow.moves_for(complaint, actor.principal), settings, NONE_EARLIER)
    snapshot = shown.snapshot()
    events = [entry, *started.events]
    links: list[ComplaintLink] = []
    if repeat is not None:
        detail = repeats.detail(complaint, repeat, raised_from=body.priority)
        at = complaint.accepted_at
        events += clocks.escalation_events(
            connection, complaint, Trigger.repeat, at, "repeat complaint", settings, registering=True, **detail
        )
        links = repeats.links(complaint, repeat)
    for event in events:
        event.snapshot = snapshot
    new_clocks, clock_events = [clock for clock, _ in started.clocks], [event for _, event in started.clocks]
    return FirstRows(events, new_clocks, clock_events, links, shown)


# The rows, from the models


def row_of(model: type[Base], values: dict[str, Any]) -> dict[str, Any]:
    """What an insert of a new ``model`` with ``values`` writes: those values and, for each column left out, its
    Python-side default (``default=``, scalar or callable; the mapper's first version), as the ORM's insert fills
    it in. Columns with neither are left out: NULL."""
    row = dict(values)
    for key, default in _defaults(model):
        if key not in row:
            row[key] = default()
    return row


@cache
def _defaults(model: type[Base]) -> tuple[tuple[str, Callable[[], Any]], ...]:
    mapper = model.__mapper__
    found: list[tuple[str, Callable[[], Any]]] = []
    for column in _table(model).columns:
        default = column.default
        if default is None:
            if column is mapper.version_id_col and callable(generator := mapper.version_id_generator):
                found.append((column.key, partial(generator, None)))
            continue
        if isinstance(default, ScalarElementColumnDefault):
            found.append((column.key, partial(_same, default.arg)))
        elif isinstance(default, CallableColumnDefault):
            # SQLAlchemy's wrapper takes an execution context; tousu's defaults read none, so none is given.
            found.append((column.key, partial(default.arg, None)))  # type: ignore[arg-type]
        else:
            raise TypeError(f"{column}: registration computes defaults in Python; this one is {default!r}")
    return tuple(found)


def _same(value: Any) -> Any:
    return value


@cache
def _table(model: type[Base]) -> Table:
    table = model.__table__  # typed as any FromClause; a declarative model's is its Table
    assert isinstance(table, Table)
    return table


def _row_of_new(instance: Base) -> dict[str, Any]:
    """The row of a new object the ORM built (its ``__dict__`` holds the attributes set on it)."""
    state = instance.__dict__
    return row_of(type(instance), {key: state[key] for key in _insertable(type(instance)) if key in state})


@cache
def _insertable(model: type[Base]) -> frozenset[str]:
    table = _table(model)
    return frozenset(c.key for c in table.columns if c is not table.autoincrement_column)


class _Rows:
    """The new rows with the columns each sets: the complaint's, and those of each of MODELS, in order."""

    def __init__(self, complaint: dict[str, Any], tables: tuple[list[dict[str, Any]], ...]) -> None:
        self.complaint = complaint
        self.tables = tables

    @classmethod
    def of(cls, complaint: dict[str, Any], first: FirstRows) -> _Rows:
        made = (first.events, first.clocks, first.clock_events, first.links)
        return cls(complaint, tuple(_same_columns([_row_of_new(row) for row in rows]) for rows in made))

    @property
    def shape(self) -> tuple[Any, ...]:
        """What identifies PostgreSQL's statement that inserts them: each table's columns and count of rows."""
        tables = ((frozenset(rows[0]) if rows else frozenset(), len(rows)) for rows in self.tables)
        return (frozenset(self.complaint), *tables)

    def params(self) -> dict[str, Any]:
        """PostgreSQL's statement's parameters: each row's values, named by its prefix (``c``, ``e0``, ``k0``...)."""
        prefixed: list[tuple[str, dict[str, Any]]] = [("c", self.complaint)]
        for prefix, rows in zip(PREFIXES, self.tables, strict=True):
            prefixed += zip(_prefixes(prefix, len(rows)), rows, strict=True)
        values: dict[str, Any] = {}
        for prefix, row in prefixed:
            for key, name in _parameter_names(prefix, frozenset(row)):
                values[name] = row[key]
        return values


@cache
def _parameter_names(prefix: str, columns: frozenset[str]) -> tuple[tuple[str, str], ...]:
    """(column, parameter) pairs of one row; the ids a row shares with another are that row's parameter."""
    shared = {"complaint_id": "c_id"}
    if prefix.startswith(CLOCK_EVENT):
        shared["clock_id"] = f"k{prefix.removeprefix(CLOCK_EVENT)}_id"
    return tuple((key, shared.get(key, f"{prefix}_{key}")) for key in columns)


def _same_columns(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if any(row.keys() != rows[0].keys() for row in rows):
        raise ValueError("a registration's rows of one table must set the same columns: they are one insert")
    return rows


@cache
def _prefixes(prefix: str, count: int) -> tuple[str, ...]:
    """The parameter prefixes of ``count`` rows of one table: ``e0``, ``e1``, ..."""
    return tuple(f"{prefix}{index}" for index in range(count))


# The writes, one per database


@lru_cache(maxsize=4)
def number_prefix(day: date) -> str:
    return f"TS-{day:%Y%m%d}-"


def number(day: date, last: int) -> str:
    return f"{number_prefix(day)}{last:0{NUMBER_DIGITS}d}"


def _write_postgresql(connection: Connection, rows: _Rows, day: date) -> tuple[str, Earlier]:
    """One statement; returns the number drawn and the complaints the phone made before."""
    params = {"counter_day": day, "number_prefix": number_prefix(day), **rows.params()}
    row = _registration(rows.shape, connection.dialect).first_row(connection, params)
    assert row is not None
    number_drawn, count, last_id, last_number, last_state, last_received_at = row
    # Straight from the driver: the state is a string, the time in the connection's time zone.
    last = (last_id, last_number, State(last_state), last_received_at.astimezone(UTC)) if last_id else (None,) * 4
    return number_drawn, repository.earlier_of((count, *last))


def _write_sqlite(connection: Connection, rows: _Rows, day: date) -> tuple[str, Earlier]:
    """The counter bumped, then an insert per table, each given its own rows only (``_plain_insert``)."""
    last = connection.execute(_counter(), {"counter_day": day}).scalar_one()
    drawn = number(day, last)
    connection.execute(_plain_insert(Complaint), {**rows.complaint, "number": drawn})
    for model, table_rows in zip(MODELS, rows.tables, strict=True):
        if table_rows:
            connection.execute(_plain_insert(model), table_rows)
    complaint_id = rows.complaint["id"]
    return drawn, repository.earlier_complaints(connection, [complaint_id], None)[complaint_id]


@cache
def _plain_insert(model: type[Base]) -> Insert:
    """SQLite's insert of a table's rows, the columns those rows set, several rows as one executemany (in order: the
    rows get their autoincremented ids in this order). Its compiled form is cached by the columns given: a multi-row
    VALUES insert has no cache key, and the statements of a repeat complaint, compiled anew on every registration,
    cost more CPU than running them."""
    return _table(model).insert()


@cache
def _insert(model: type[Base], prefixes: tuple[str, ...], columns: frozenset[str]) -> Insert:
    """An insert of one row per prefix (one statement: the rows get their autoincremented ids in this order)."""
    table = _table(model)
    rows = [
        {key: bindparam(name, type_=table.c[key].type) for key, name in sorted(_parameter_names(prefix, columns))}
        for prefix in prefixes
    ]
    return table.insert().values(rows if len(rows) > 1 else rows[0])


def _inserts(*shapes: tuple[frozenset[str], int]) -> list[tuple[str, Insert]]:
    """The inserts of the history entries, the clocks, the clocks' events and a repeat's links, each of its rows in
    one statement, by name; a table with no row has none."""
    return [
        (name, _insert(model, _prefixes(prefix, count), columns))
        for name, model, prefix, (columns, count) in zip(NAMES, MODELS, PREFIXES, shapes, strict=True)
        if count
    ]


@cache
def _counter() -> Insert:
    """SQLite's numbers: the day's counter row, bumped (one writer at a time there anyway)."""
    table = _table(DailyCounter)
    return (
        sqlite.insert(table)
        .values(day=bindparam("counter_day", type_=table.c.day.type), last=1)
        .on_conflict_do_update(index_elements=[table.c.day], set_={"last": table.c.last + 1})
        .returning(table.c.last)
    )


@lru_cache(maxsize=32)  # per shape and engine: a handful in a process
def _registration(shape: tuple[Any, ...], dialect: Dialect) -> _DriverStatement:
    """One PostgreSQL statement: the day's number, the complaint, its events, its clock and the clock's event (and a
    repeat's links).

    The number comes from the day's sequence (migration 0007), drawn once in a CTE: no row lock for concurrent
    registrations to queue on; a registration that fails after drawing leaves its number unused. Foreign keys are
    checked at the end of the statement, when every row is there.
    """
    complaint_columns, *others = shape
    day = bindparam("counter_day", type_=_table(DailyCounter).c.day.type)
    counter = select(func.tousu_complaint_number(day).label("last")).cte("counter")
    last = cast(counter.c.last, Text)
    # Constants written into the SQL, not sent as parameters: each parameter counts towards psycopg's 50.
    width = func.greatest(literal_column(str(NUMBER_DIGITS)), func.length(last))
    digits = func.lpad(last, width, literal_column("'0'"))
    drawn = select(func.concat(bindparam("number_prefix", type_=Text), digits)).scalar_subquery()
    complaint = _insert(Complaint, ("c",), complaint_columns).values(number=drawn)
    rows = [insert.cte(name) for name, insert in _inserts(*others)]
    table = _table(Complaint)
    new = complaint.returning(table.c.number).cte("complaint")
    # The statement's reads see the table as it was before it: the new complaint is not among the earlier ones.
    count, last, on = repository.earlier_parts(bindparam("c_complainant_phone"), bindparam("c_id"), None)
    columns = (new.c.number, count, last.c.id, last.c.number, last.c.state, last.c.received_at)
    return _DriverStatement(select(*columns).select_from(new.outerjoin(last, on)).add_cte(*rows), dialect)


class _DriverStatement:
    """A Core statement compiled once for one dialect and run on the DB-API cursor of a connection, in its
    transaction.

    The SQL, its literal values and the conversion of every parameter are SQLAlchemy's, but the Core's machinery
    around each execution (compiled-cache lookup, execution context, result object), which cost as much CPU as the
    rest of a registration's database work, is skipped; so are the Core's column defaults, which is why every row
    names its defaulted columns (``row_of``). The rows come back as the driver returns them. Errors are SQLAlchemy's
    all the same: wrapped (OperationalError and so on, without parameters), and a connection lost in the middle is
    invalidated.
    """

    def __init__(self, statement: ClauseElement, dialect: Dialect) -> None:
        compiled = statement.compile(dialect=dialect)
        assert isinstance(compiled, SQLCompiler)
        self.sql = compiled.string
        binds = compiled.binds.values()
        self.literals = {compiled.bind_names[b]: b.effective_value for b in binds if not b.required}
        self.processors = {
            compiled.bind_names[b]: processor
            for b in binds
            if (processor := b.type.dialect_impl(dialect).bind_processor(dialect)) is not None
        }

    def first_row(self, connection: Connection, params: dict[str, Any]) -> tuple[Any, ...] | None:
        values = self.literals | params
        for name, process in self.processors.items():
            values[name] = process(values[name])
        dbapi_connection = connection.connection.dbapi_connection
        assert dbapi_connection is not None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(self.sql, values)
            return cursor.fetchone()
        except connection.dialect.loaded_dbapi.Error as error:
            lost = connection.dialect.is_disconnect(error, dbapi_connection, cursor)
            if lost:
                connection.invalidate(error)
            raise sa_exc.DBAPIError.instance(
                self.sql,
                None,
                error,
                connection.dialect.loaded_dbapi.Error,
                hide_parameters=True,
                connection_invalidated=lost,
                dialect=connection.dialect,
            ) from error
        finally:
            cursor.close()
