from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime, uuid7


class ProgressLink(Base):
    """A link a customer reads their complaint's progress by (进度查询链接). Only the SHA-256 of its token is kept; a
    complaint has at most one link not revoked (issuing another revokes it)."""

    __tablename__ = "progress_links"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    complaint_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("complaints.id"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime)
    issued_by: Mapped[str] = mapped_column(String(100))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_by: Mapped[str | None] = mapped_column(String(100))

    __table_args__ = (Index("ix_progress_links_complaint_id", "complaint_id"),)
