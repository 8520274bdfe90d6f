"""Clocks, their history, and the calendar's overrides."""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Date, ForeignKey, Index, Integer, String, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime, str_enum, uuid7
from app.sla.policy import Unit
from app.vocabulary import ClockKind


class ClockState(enum.StrEnum):
    running = "running"
    met = "met"
    breached = "breached"
    cancelled = "cancelled"  # stopped because it no longer applies (re-dispatched, resolved before the store fed back)


class Clock(Base):
    """One run of one clock of a complaint: started, due, warned, breached or met, stopped."""

    __tablename__ = "sla_clocks"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    complaint_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("complaints.id"))
    kind: Mapped[ClockKind] = mapped_column(str_enum(ClockKind))
    unit: Mapped[Unit] = mapped_column(str_enum(Unit))
    target: Mapped[int] = mapped_column(Integer)
    warn_after: Mapped[int] = mapped_column(Integer)
    store_id: Mapped[str | None] = mapped_column(String(64))
    department: Mapped[str | None] = mapped_column(String(100))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    warn_at: Mapped[datetime] = mapped_column(UTCDateTime)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    calendar_assumed: Mapped[bool] = mapped_column(Boolean, default=False)
    state: Mapped[ClockState] = mapped_column(str_enum(ClockState), default=ClockState.running)
    warned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    breached_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The next moment the sweeper must look at this clock (its warning, then its deadline); NULL when there is
    # nothing left to fire. The sweep reads this index only, so its cost follows the clocks that are due.
    next_check_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        # The summary report counts the clocks of a period's complaints from this index alone (PostgreSQL).
        Index(
            "ix_sla_clocks_complaint_id", "complaint_id", postgresql_include=["kind", "state", "due_at", "department"]
        ),
        Index(
            "ix_sla_clocks_next_check_at",
            "next_check_at",
            postgresql_where=text("next_check_at IS NOT NULL"),
            sqlite_where=text("next_check_at IS NOT NULL"),
        ),
    )

    @property
    def warned(self) -> bool:
        return self.warned_at is not None


class ClockEvent(Base):
    """What happened to a clock: started, warned, breached, met, stopped, recomputed; and why."""

    __tablename__ = "sla_clock_events"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    clock_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sla_clocks.id"))
    kind: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON().with_variant(JSONB(), "postgresql"), default=dict)

    __table_args__ = (Index("ix_sla_clock_events_clock_id_id", "clock_id", "id"),)


class CalendarDay(Base):
    """An administrator's word on one day: working or not, and why. It wins over the package."""

    __tablename__ = "calendar_days"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    working: Mapped[bool] = mapped_column(Boolean)
    name: Mapped[str | None] = mapped_column(String(100))
    set_by: Mapped[str] = mapped_column(String(100))
    set_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CalendarYear(Base):
    """A year whose official schedule was imported: its days are known, not assumed."""

    __tablename__ = "calendar_years"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    imported_by: Mapped[str] = mapped_column(String(100))
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CalendarChanges(Base):
    """One row whose token migration 0020's triggers draw anew at every change to ``calendar_days`` and
    ``calendar_years``. A process keeps the calendar it read under the token it read with it, and reads the token
    again before each use (app/sla/calendar.py): a change made by any process, or by hand, is seen at once."""

    __tablename__ = "calendar_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(32))
