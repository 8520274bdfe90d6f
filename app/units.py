"""The directory's tables: stores, departments and the people escalations reach, and the one question the
complaints ask of them (``require_dispatchable``).

Rows every domain may read (a dispatch reads whether its unit is known and active; the clocks and escalations read
a store's region and the contacts of a position), so they sit below the domains; ``app.directory`` reads and writes
them over HTTP.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from functools import cache
from typing import NoReturn, cast

from sqlalchemy import Boolean, Index, Select, String, Table, bindparam, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from app.db import Base, UTCDateTime, str_enum, utcnow, uuid7
from app.errors import InvalidInput
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


def require_dispatchable(session: Session, store_id: str | None, department: str | None) -> None:
    """A complaint is dispatched only to units the directory knows and that are active: InvalidInput (422)
    otherwise. The store complained about at registration need not be known: the check bites at dispatch."""
    if store_id is not None:
        active = session.scalar(_active(Store), {"unit_id": store_id})
        if active is None:
            _refuse("store_id", f"no store {store_id} in the directory")
        if not active:
            _refuse("store_id", f"store {store_id} is closed")
    if department is not None:
        active = session.scalar(_active(Department), {"unit_id": department})
        if active is None:
            _refuse("department", f"no department {department} in the directory")
        if not active:
            _refuse("department", f"department {department} is closed")


@cache
def _active(model: type[Store | Department]) -> Select[bool]:
    """Whether the unit of the parameter ``unit_id`` is active (no row: the directory does not know it). Built
    once, of the table: every dispatch asks, and loading the ORM object by its key cost a dispatch more CPU than
    its clocks."""
    table = cast(Table, model.__table__)
    return select(table.c.active).where(table.c.id == bindparam("unit_id"))


def _refuse(field: str, detail: str) -> NoReturn:
    errors = [{"loc": ["body", field], "msg": detail, "type": "not_dispatchable"}]
    raise InvalidInput(detail, field=field, errors=errors)
