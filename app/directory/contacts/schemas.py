"""What the escalation API reads and writes: a contact on the ladder, and the ladder itself."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.complaints.schemas import EMAIL_PATTERN, PHONE_PATTERN, Department, StoreId
from app.types import text_rules
from app.vocabulary import Position, Trigger

Handle = Annotated[str, *text_rules(64)]


class ContactIn(BaseModel):
    """A person an escalation to ``position`` reaches, and where: a store manager for a store (``store_id``), or a
    department's head for a department (``department``); a region manager for a ``region``; a customer-service
    supervisor or general manager for the whole company (none of the three)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    position: Position = Field(description="店长, 区域经理, 客服主管 or 总经理.", examples=["region_manager"])
    store_id: StoreId | None = None
    department: Department | None = None
    region: Annotated[str, *text_rules(100)] | None = Field(None, examples=["华南区"])
    name: Annotated[str, *text_rules(100)] = Field(examples=["陈立华"])
    phone: Annotated[str, *text_rules(32, min_length=5, pattern=PHONE_PATTERN)] | None = Field(
        None, examples=["139 2233 4455"]
    )
    email: Annotated[str, *text_rules(254, pattern=EMAIL_PATTERN)] | None = Field(None, examples=["chen.lh@example.cn"])
    wecom_id: Handle | None = Field(None, description="The WeCom (企业微信) user id.", examples=["ChenLiHua"])
    dingtalk_id: Handle | None = Field(None, description="The DingTalk (钉钉) user id.", examples=["manager4521"])

    @model_validator(mode="after")
    def _where(self) -> Self:
        named = {"store_id": self.store_id, "department": self.department, "region": self.region}
        given = sorted(field for field, value in named.items() if value is not None)
        expected: list[list[str]] = {
            Position.store_manager: [["department"], ["store_id"]],
            Position.region_manager: [["region"]],
        }.get(self.position, [[]])
        if given not in expected:
            words = {
                Position.store_manager: "a store manager belongs to one store_id or department",
                Position.region_manager: "a region manager belongs to a region",
            }.get(self.position, f"a {self.position} belongs to the company: no store_id, department or region")
            raise ValueError(words)
        if not (self.phone or self.email or self.wecom_id or self.dingtalk_id):
            raise ValueError("give a way to reach the contact: phone, email, wecom_id or dingtalk_id")
        return self


class ContactOut(ContactIn):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    created_at: datetime
    updated_at: datetime


class LadderOut(BaseModel):
    """Which positions each trigger reaches (from the SLA policy file's ``[ladder]``, or the defaults)."""

    rungs: dict[Trigger, list[Position]] = Field(
        examples=[{"feedback_warning": ["store_manager"], "feedback_breach": ["region_manager"]}]
    )
    positions: dict[Position, str] = Field(
        description="What the company calls each position.",
        examples=[{"store_manager": "店长", "region_manager": "区域经理", "cs_supervisor": "客服主管"}],
    )
