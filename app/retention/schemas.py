"""API shapes of a person's access and erasure requests."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field

from app.attachments.schemas import AttachmentOut
from app.complaints.schemas import ComplaintOut, EventOut
from app.types import text_rules


class SubjectComplaint(BaseModel):
    """One of the person's complaints, as an administrator reads it, with its history and its attachments."""

    complaint: ComplaintOut
    history: list[EventOut]
    attachments: list[AttachmentOut] = Field(
        description="The files themselves come with `Accept: application/zip`, at `attachments/<id>-<filename>`."
    )


class DataSubjectExport(BaseModel):
    """Everything kept of the person a phone number names (PIPL Art. 45: 查阅、复制)."""

    phone: str = Field(examples=["13812348000"], description="The phone number, normalised.")
    exported_at: datetime
    complaints: list[SubjectComplaint] = Field(description="Oldest first.")


class ErasureIn(BaseModel):
    """Why the person's data is erased (PIPL Art. 47: 删除); kept in the audit."""

    reason: Annotated[str, *text_rules(500)] = Field(
        examples=["客户来电要求删除其个人信息（个人信息保护法第四十七条）"]
    )


class ErasureOut(BaseModel):
    erased_at: datetime
    complaint_ids: list[uuid.UUID] = Field(description="The complaints anonymised, oldest first.")
    complaint_numbers: list[str] = Field(examples=[["TS-20261204-0001"]])
    request_id: uuid.UUID = Field(description="The audit entry of this request.")
