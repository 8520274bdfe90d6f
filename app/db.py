"""Engine, sessions and the one-request-one-transaction dependency."""

from __future__ import annotations

import enum
import secrets
import select
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import DateTime, Engine, Enum, MetaData, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import DeclarativeBase, Session, SessionTransaction, sessionmaker
from sqlalchemy.pool import NullPool
from sqlalchemy.types import TypeDecorator
from starlette.requests import Request

from app.config import Settings

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware datetime stored in UTC on every database (SQLite has no time zones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def str_enum(cls: type[enum.Enum]) -> Enum:
    """An enum column stored as its value in a VARCHAR (no database enum type to migrate when a value is added)."""
    return Enum(cls, native_enum=False, length=32, validate_strings=True)


M = TypeVar("M", bound="Base")


def transient(model: type[M], values: dict[str, Any]) -> M:
    """A new instance, never to be persisted by the ORM, with ``values`` for its columns and NULL for the others,
    put straight into its ``__dict__``.

    For rows that Core statements write (registration): no attribute events on the way in, and every column reads
    back as a plain value, where a new ORM object runs its default-value machinery for each column left unset.
    """
    instance: M = model.__mapper__.class_manager.new_instance()
    instance.__dict__.update(_unset(model), **values)
    return instance


@cache
def _unset(model: type[Base]) -> dict[str, None]:
    return dict.fromkeys(attribute.key for attribute in model.__mapper__.column_attrs)


def utcnow() -> datetime:
    return datetime.now(UTC)


_uuid7_lock = threading.Lock()
_uuid7_last = (0, 0)  # (milliseconds, counter) of the last id this process made


def uuid7() -> uuid.UUID:
    """A time-ordered UUID (RFC 9562 version 7): new rows land at the end of the index.

    Within one millisecond a 12-bit counter (RFC 9562 section 6.2, method 1) keeps the ids of this process
    increasing, so complaints registered in the same millisecond still list in the order they were registered.
    """
    global _uuid7_last
    with _uuid7_lock:
        ms = time.time_ns() // 1_000_000
        last_ms, last_counter = _uuid7_last
        if ms > last_ms:
            counter = secrets.randbits(11)  # a random start, with room to count up
        else:  # the same millisecond, or the clock stepped back: keep counting from the last id
            ms, counter = last_ms, last_counter + 1
            if counter > 0xFFF:
                ms, counter = ms + 1, 0
        _uuid7_last = (ms, counter)
    value = (ms & (2**48 - 1)) << 80 | 0x7 << 76 | counter << 64 | 0x2 << 62 | secrets.randbits(62)
    return uuid.UUID(int=value)


def build_engine(settings: Settings, **options: Any) -> Engine:
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite":
        return _sqlite_engine(settings)
    engine = create_engine(
        url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_pool_size,
        hide_parameters=True,  # error messages and logs never carry a complainant's details
        connect_args=connect_args(settings),
        **options,
    )
    event.listen(engine, "checkout", _ping_if_in_doubt)
    event.listen(engine, "checkin", _idle_from_now)
    return engine


# A pooled PostgreSQL connection is pinged (``SELECT 1``) before use only when it may have died: when its socket has
# something to read (a connection resting in the pool has nothing to read unless the server closed it: a restart,
# ``pg_terminate_backend``, a proxy cut), or when it rested longer than this (a peer gone without a word).
# ``pool_pre_ping`` pinged every one: a round trip more per request, about as much CPU as a read's smallest query.
PING_AFTER_IDLE_SECONDS = 30.0
_IDLE_SINCE = "tousu_idle_since"


def _idle_from_now(dbapi_connection: Any, record: Any) -> None:
    record.info[_IDLE_SINCE] = time.monotonic()


def _ping_if_in_doubt(dbapi_connection: Any, record: Any, proxy: Any) -> None:
    """A connection that fails its ping is dropped for a new one (``DisconnectionError``), as with pre-ping."""
    idle_since = record.info.get(_IDLE_SINCE)
    if idle_since is None:  # just connected
        return
    if time.monotonic() - idle_since < PING_AFTER_IDLE_SECONDS and not _has_word(dbapi_connection):
        return
    try:
        with dbapi_connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:
        raise DisconnectionError(f"pooled connection failed its ping: {exc}") from exc


def _has_word(dbapi_connection: Any) -> bool:
    """Whether the server wrote on (or closed) the connection while it rested in the pool."""
    if dbapi_connection.closed:
        return True
    poller = select.poll()
    poller.register(dbapi_connection.fileno(), select.POLLIN | select.POLLERR | select.POLLHUP)
    return bool(poller.poll(0))


def connect_args(settings: Settings) -> dict[str, Any]:
    """What psycopg is told when it connects to PostgreSQL.

    Behind PgBouncer in transaction pooling mode a connection's next transaction may run on another server
    connection, where a statement psycopg prepared (after its fifth execution, ``prepare_threshold``) does not
    exist, or where another client's statement of the same name does: no statement is prepared there.
    """
    return {"prepare_threshold": None} if settings.database_pooler == "pgbouncer" and not settings.is_sqlite else {}


def listening_engine(settings: Settings, engine: Engine) -> Engine | None:
    """Where a connection that keeps a session of its own (LISTEN for key revocations) connects: the direct URL
    when one is set, else ``engine``'s database, unless that is reached through PgBouncer (None: no such session)."""
    if engine.dialect.name != "postgresql":
        return engine
    if settings.database_direct_url is not None:
        return create_engine(settings.database_direct_url, poolclass=NullPool)
    return None if settings.database_pooler == "pgbouncer" else engine


def ensure_sqlite_directory(database_url: str) -> None:
    """The embedded database's folder (./var) is made on first use."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)


def _sqlite_engine(settings: Settings) -> Engine:
    url = make_url(settings.database_url)
    ensure_sqlite_directory(settings.database_url)
    engine = create_engine(url, connect_args={"check_same_thread": False}, pool_pre_ping=True, hide_parameters=True)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control from the driver so "begin" below decides how a transaction starts.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={settings.sqlite_busy_timeout_ms}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # A writer takes the write lock up front and waits for it (busy timeout); a deferred transaction that
        # upgrades from read to write would fail at once with SQLITE_BUSY when another writer got there first.
        writes = connection.get_execution_options().get("tousu_writes", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if writes else "BEGIN")

    return engine


@dataclass(frozen=True)
class Database:
    engine: Engine
    readers: sessionmaker[Session]
    writers: sessionmaker[Session]
    write_engine: Engine
    # For a write that is one statement (an unkeyed registration), on Core connections: on PostgreSQL a pool of its
    # own in autocommit, so the statement is its own transaction and the row locks it takes are released when it
    # ends, not one round trip later at COMMIT; its connections never leave autocommit, so handing one out costs
    # no switching back and forth, and one returned has no transaction to roll back. SQLite needs its BEGIN
    # IMMEDIATE: there this is the write engine.
    single_statements: Engine
    settings: Settings
    # PostgreSQL for a session of its own (the LISTEN for key revocations), None when only a pooler that shares
    # server connections between transactions is known (listening_engine).
    listening: Engine | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> Database:
        engine = build_engine(settings)
        write_engine = engine.execution_options(tousu_writes=True)
        single_statements: Engine = write_engine
        if engine.dialect.name == "postgresql":
            single_statements = build_engine(settings, isolation_level="AUTOCOMMIT", pool_reset_on_return=None)
        return cls(
            engine=engine,
            readers=sessionmaker(engine, expire_on_commit=False),
            writers=sessionmaker(write_engine, expire_on_commit=False),
            write_engine=write_engine,
            single_statements=single_statements,
            settings=settings,
            listening=listening_engine(settings, engine),
        )

    def dispose(self) -> None:
        self.engine.dispose()
        self.single_statements.dispose()
        if self.listening is not None:
            self.listening.dispose()


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session whose transaction commits when the block ends and rolls back when it raises."""
    with factory() as session:
        try:
            yield session
        except BaseException:
            session.rollback()
            raise
        session.commit()


_ON_COMMIT = "tousu_on_commit"


def on_commit(session: Session, action: Callable[[], None]) -> None:
    """Do ``action`` once the session's transaction has committed, and never if it ends otherwise: for what counts
    a fact the transaction writes (a metric), so that a rolled-back write is not counted, nor counted twice when it
    is done again."""
    session.info.setdefault(_ON_COMMIT, []).append(action)


@event.listens_for(Session, "after_commit")
def _committed(session: Session) -> None:
    if session.in_nested_transaction():  # a savepoint released: the transaction it is in may still roll back
        return
    for action in session.info.pop(_ON_COMMIT, ()):
        action()


@event.listens_for(Session, "after_transaction_end")
def _ended(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # rolled back or closed: what waited for its commit is dropped
        session.info.pop(_ON_COMMIT, None)


def read_session(request: Request) -> Iterator[Session]:
    """A session for a request that only reads."""
    with transaction(request.app.state.db.readers) as session:
        yield session


def write_session(request: Request) -> Iterator[Session]:
    """A session for a request that writes: committed when the handler returns, rolled back when it raises."""
    with transaction(request.app.state.db.writers) as session:
        yield session
