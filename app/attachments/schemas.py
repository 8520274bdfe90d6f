"""API shapes of attachments."""

from __future__ import annotations

import uuid
from datetime import datetime
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field

from app.attachments.content import ACCEPTED
from app.attachments.models import Attachment
from app.types import Bool


def download_path(complaint_id: uuid.UUID, attachment_id: uuid.UUID) -> str:
    return f"/v1/complaints/{complaint_id}/attachments/{attachment_id}"


class AttachmentOut(BaseModel):
    id: uuid.UUID
    complaint_id: uuid.UUID
    filename: str = Field(examples=["小票.jpg"], description="The name it was uploaded with (no folders).")
    media_type: str = Field(
        examples=["image/jpeg"],
        description=f"Read from the content, not from the client's claim: one of {', '.join(ACCEPTED)}.",
    )
    size: int = Field(description="Bytes kept (a photo's, after its location was removed).", examples=[284133])
    sha256: str = Field(description="SHA-256 of the bytes kept, in hex.", pattern="^[0-9a-f]{64}$")
    visible_to_unit: bool = Field(
        description="false (the default): internal; true: the unit the complaint is dispatched to reads it too."
    )
    uploaded_by: str = Field(examples=["agent-0042"])
    uploaded_at: datetime
    download: str = Field(
        description="Path of the bytes (GET, with an API key).",
        examples=[
            "/v1/complaints/019ae0c4-95b4-7c43-9d55-1f1b5f0f0c51/attachments/019ae0c5-0a3e-7f2a-8f43-3d9c0e1e4f1a"
        ],
    )

    @classmethod
    def build(cls, a: Attachment, tz: ZoneInfo) -> AttachmentOut:
        return cls(
            id=a.id,
            complaint_id=a.complaint_id,
            filename=a.filename,
            media_type=a.media_type,
            size=a.size,
            sha256=a.sha256,
            visible_to_unit=a.visible_to_unit,
            uploaded_by=a.uploaded_by,
            uploaded_at=a.uploaded_at.astimezone(tz),
            download=download_path(a.complaint_id, a.id),
        )


class AttachmentVisibility(BaseModel):
    model_config = ConfigDict(extra="forbid")

    visible_to_unit: Bool = Field(
        description="true: the unit the complaint is dispatched to may list and download it; false: internal."
    )
