"""A corrective action (改善对策, 防止再发): a cause, what is done about it, by whom and by when, and how far it got."""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, Index, Integer, String, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.complaints.models import Category
from app.db import Base, UTCDateTime, str_enum, utcnow, uuid7


class ActionState(enum.StrEnum):
    open = "open"
    done = "done"  # carried out: its effect is measured from done_at
    verified = "verified"  # a manager checked that it was carried out
    dropped = "dropped"  # given up, with a reason


class CorrectiveAction(Base):
    """The cause is a store, a category or both (at least one), with free text; ``complaint_ids`` the complaints
    that showed it. ``history`` keeps who changed what, oldest first: ``{"at", "by", "change", "fields"}``."""

    __tablename__ = "corrective_actions"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    store_id: Mapped[str | None] = mapped_column(String(64))
    category: Mapped[Category | None] = mapped_column(str_enum(Category))
    cause: Mapped[str] = mapped_column(Text)
    action: Mapped[str] = mapped_column(Text)
    owner: Mapped[str] = mapped_column(String(100))
    due_on: Mapped[date] = mapped_column(Date)
    state: Mapped[ActionState] = mapped_column(str_enum(ActionState), default=ActionState.open)
    complaint_ids: Mapped[list[str]] = mapped_column(JSON().with_variant(JSONB(), "postgresql"), default=list)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    dropped_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    dropped_reason: Mapped[str | None] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer, default=1)
    history: Mapped[list[dict[str, Any]]] = mapped_column(JSON().with_variant(JSONB(), "postgresql"), default=list)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(100))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        Index("ix_corrective_actions_store_id", "store_id"),
        Index("ix_corrective_actions_state", "state"),
    )
