"""The audit of a person's access and erasure requests (PIPL Art. 45, 47); it holds nothing of the person."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime, str_enum, uuid7


class RequestKind(enum.StrEnum):
    export = "export"  # 查阅、复制 (Art. 45)
    erase = "erase"  # 删除 (Art. 47)


class DataSubjectRequest(Base):
    """Who asked for a person's complaints to be exported or erased, when, why, and which complaints it touched.
    Not the phone it was asked for, nor anything else of the person."""

    __tablename__ = "data_subject_requests"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    kind: Mapped[RequestKind] = mapped_column(str_enum(RequestKind))
    actor: Mapped[str] = mapped_column(String(100))
    api_key_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("api_keys.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    reason: Mapped[str | None] = mapped_column(String(500))
    complaint_count: Mapped[int] = mapped_column(Integer)
    complaint_ids: Mapped[list[str]] = mapped_column(JSON().with_variant(JSONB(), "postgresql"))

    __table_args__ = (Index("ix_data_subject_requests_at", "at"),)
