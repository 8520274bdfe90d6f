"""Idempotent writes (``Idempotency-Key``, IETF httpapi draft semantics, as Stripe does it).

A client that retries a POST with the same key gets the first response again instead of a second complaint. The
record of a key is written in the same transaction as what the request created, so either both exist or neither
does. On PostgreSQL a transaction-scoped advisory lock on (API key, Idempotency-Key) tells a retry that arrives
while the first request is still running apart from one that arrives after it: the first gets 409, the second the
replay. On SQLite every write transaction already holds the database's write lock (BEGIN IMMEDIATE), so a retry
simply waits for the first to commit and then replays it.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    JSON,
    Connection,
    CursorResult,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    delete,
    func,
    insert,
    select,
    text,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from app.db import Base, UTCDateTime, utcnow
from app.errors import Conflict, InvalidInput

KEY_MAX = 255


class IdempotencyRecord(Base):
    """The first response to a request that carried an Idempotency-Key."""

    __tablename__ = "idempotency_keys"

    api_key_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("api_keys.id", ondelete="CASCADE"), primary_key=True)
    key: Mapped[str] = mapped_column(String(KEY_MAX), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    response: Mapped[dict[str, Any]] = mapped_column(JSON)
    resource_id: Mapped[uuid.UUID | None]
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_idempotency_keys_expires_at", "expires_at"),)


# Declarative types a class's __table__ as any FromClause; this one is a Table, the one that Core statements take.
RECORDS = cast(Table, IdempotencyRecord.__table__)


@dataclass(frozen=True)
class Replay:
    status_code: int
    body: dict[str, Any]
    resource_id: uuid.UUID | None


def parse_key(header: str) -> str:
    """The key as sent: a structured-field string (``"abc"``) or, as most clients send it, bare."""
    key = header.strip()
    if len(key) >= 2 and key[0] == key[-1] == '"':
        key = key[1:-1]
    if not key or len(key) > KEY_MAX or any(not (0x20 < ord(c) < 0x7F) for c in key):
        raise InvalidInput(f"Idempotency-Key must be 1 to {KEY_MAX} visible ASCII characters", field="Idempotency-Key")
    return key


def fingerprint(payload: Any) -> str:
    """The request's identity: its parsed body, so key order and whitespace do not matter."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def claim(connection: Connection, api_key_id: uuid.UUID, key: str, request_fingerprint: str) -> Replay | None:
    """The stored response if this key was used before with the same request; None if the request should run.

    Raises Conflict while another request with the key is running, InvalidInput when the key was used for a
    different request.
    """
    if connection.dialect.name == "postgresql":
        locked = connection.scalar(
            select(func.pg_try_advisory_xact_lock(text("hashtextextended(:lock, 0)"))),
            {"lock": f"idempotency:{api_key_id}:{key}"},
        )
        if not locked:
            raise Conflict(
                "a request with this Idempotency-Key is still being processed; retry later",
                idempotency_key=key,
            )
    table = RECORDS
    this_key = (table.c.api_key_id == api_key_id) & (table.c.key == key)
    record = connection.execute(select(table).where(this_key)).one_or_none()
    if record is not None and record.expires_at <= utcnow():
        connection.execute(delete(table).where(this_key))
        record = None
    if record is None:
        return None
    if record.fingerprint != request_fingerprint:
        raise InvalidInput(
            "this Idempotency-Key was used with a different request body; use a new key for a new request",
            field="Idempotency-Key",
        )
    return Replay(record.status_code, record.response, record.resource_id)


def remember(
    connection: Connection,
    api_key_id: uuid.UUID,
    key: str,
    request_fingerprint: str,
    *,
    status_code: int,
    body: dict[str, Any],
    resource_id: uuid.UUID | None,
    keep: timedelta,
) -> None:
    """Keep the response, in the caller's transaction."""
    now = utcnow()
    connection.execute(
        insert(RECORDS).values(
            api_key_id=api_key_id,
            key=key,
            fingerprint=request_fingerprint,
            status_code=status_code,
            response=body,
            resource_id=resource_id,
            created_at=now,
            expires_at=now + keep,
        )
    )


def purge_expired(session: Session, now: datetime) -> int:
    """Forget keys past their time at ``now`` (the expiry index makes this cheap); returns how many went."""
    result = session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.expires_at <= now))
    # A DML statement's result is a CursorResult; Session.execute is typed to return the general Result.
    return cast(CursorResult[Any], result).rowcount
