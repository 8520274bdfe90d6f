from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import BigInteger, Enum, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime, utcnow, uuid7


class Role(enum.StrEnum):
    intake = "intake"
    handler = "handler"
    supervisor = "supervisor"
    manager = "manager"
    store = "store"
    department = "department"
    reporter = "reporter"
    admin = "admin"


class ApiKey(Base):
    """An API key of a calling system. Only the SHA-256 of the secret is kept."""

    __tablename__ = "api_keys"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    name: Mapped[str] = mapped_column(String(100))
    role: Mapped[Role] = mapped_column(Enum(Role, native_enum=False, length=20))
    store_id: Mapped[str | None] = mapped_column(String(64))
    department: Mapped[str | None] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16))
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(100))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ApiKeyChanges(Base):
    """One row counting every update (a revocation) and deletion of a key row, kept by migration 0008's triggers.

    A process on SQLite reads it before it trusts its key cache, and drops the cache when it moved
    (app/auth/revocations.py); PostgreSQL's trigger also announces each change with NOTIFY.
    """

    __tablename__ = "api_key_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    changes: Mapped[int] = mapped_column(BigInteger)
