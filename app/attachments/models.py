"""An attachment (evidence: a photo, a receipt, a recording) of a complaint; its bytes are a blob in the store."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime, utcnow, uuid7


class Attachment(Base):
    """One upload. The same bytes uploaded twice are two attachments (each with its own name, who and when) of one
    blob: the store keeps content by its SHA-256, once."""

    __tablename__ = "attachments"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    complaint_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("complaints.id"))
    filename: Mapped[str] = mapped_column(String(255))
    media_type: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    # Internal (False) until someone marks it visible to the responsible unit the complaint is dispatched to.
    visible_to_unit: Mapped[bool] = mapped_column(Boolean, default=False)
    uploaded_by: Mapped[str] = mapped_column(String(100))
    api_key_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("api_keys.id"))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        Index("ix_attachments_complaint_id_id", "complaint_id", "id"),
        Index("ix_attachments_sha256", "sha256"),
    )
