"""The directory's tables: stores, departments and the people escalations reach.

Rows every domain may read (the clocks and escalations read a store's region and the contacts of a position), so
they sit below the domains; ``app.directory`` reads and writes them over HTTP.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime, str_enum, utcnow, uuid7
from app.vocabulary import Position


class Store(Base):
    """A store, by the id used everywhere (``SZ-FT-012``); its name and region may be unknown (NULL)."""

    __tablename__ = "stores"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str | None] = mapped_column(String(200))
    region: Mapped[str | None] = mapped_column(String(100))
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Department(Base):
    """A department, by its name as complaints are dispatched to it (``品管部``)."""

    __tablename__ = "departments"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    name: Mapped[str | None] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class EscalationContact(Base):
    """Whom an escalation to ``position`` reaches. A store manager belongs to a store (``store_id``) or is a
    department's head (``department``); a region manager to a ``region``; a supervisor or general manager to the
    company (none of the three). Personal data: read by admin and manager keys only."""

    __tablename__ = "escalation_contacts"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    position: Mapped[Position] = mapped_column(str_enum(Position))
    store_id: Mapped[str | None] = mapped_column(String(64))
    department: Mapped[str | None] = mapped_column(String(100))
    region: Mapped[str | None] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(100))
    phone: Mapped[str | None] = mapped_column(String(32))
    email: Mapped[str | None] = mapped_column(String(254))
    wecom_id: Mapped[str | None] = mapped_column(String(64))
    dingtalk_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (Index("ix_escalation_contacts_position", "position"),)
