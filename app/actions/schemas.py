"""What the corrective-action API reads and writes."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.actions.models import ActionState
from app.complaints.models import Category
from app.complaints.schemas import StoreId
from app.types import date_rules, text_rules

FIRST_DUE, LAST_DUE = date(1970, 1, 1), date(2100, 12, 31)
MOST_COMPLAINTS = 100
DueDay = Annotated[date, *date_rules(FIRST_DUE, LAST_DUE)]
CauseText = Annotated[str, *text_rules(2000)]
ActionText = Annotated[str, *text_rules(4000)]
OwnerName = Annotated[str, *text_rules(100)]
CAUSE_EXAMPLE = "福田中心店收银员多收费，一个月内三起"
ACTION_EXAMPLE = "收银员重新培训找零与退款流程，店长每周抽查小票"


class CorrectiveActionIn(BaseModel):
    """A corrective action on a cause: a store, a category or both (at least one), with what was found."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    store_id: StoreId | None = Field(None, description="The store of the cause, as in the directory.")
    category: Category | None = Field(None, description="The category of the cause.", examples=["billing"])
    cause: CauseText = Field(description="What causes the complaints, in words.", examples=[CAUSE_EXAMPLE])
    action: ActionText = Field(description="What is done about it (改善对策).", examples=[ACTION_EXAMPLE])
    owner: OwnerName = Field(description="The person who sees it done.", examples=["王店长"])
    due_on: DueDay = Field(description="The local day it is due.", examples=["2026-11-15"])
    complaint_ids: list[uuid.UUID] = Field(
        default_factory=list,
        max_length=MOST_COMPLAINTS,
        description="The complaints that showed the cause (each must exist).",
        examples=[["01939d3c-7a4e-7c3f-9d2a-3b5c6d7e8f90"]],
    )

    @model_validator(mode="after")
    def _a_cause(self) -> Self:
        if self.store_id is None and self.category is None:
            raise ValueError("name the cause: a store_id, a category or both")
        return self


class CorrectiveActionPatch(BaseModel):
    """The members to change; those left out stay. A store key may change ``cause``, ``action``, ``owner`` and
    ``due_on`` only."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    store_id: StoreId | None = None
    category: Category | None = Field(None, examples=["billing"])
    cause: CauseText | None = Field(None, examples=[CAUSE_EXAMPLE])
    action: ActionText | None = Field(None, examples=[ACTION_EXAMPLE])
    owner: OwnerName | None = Field(None, examples=["王店长"])
    due_on: DueDay | None = Field(None, examples=["2026-11-30"])
    complaint_ids: list[uuid.UUID] | None = Field(None, max_length=MOST_COMPLAINTS)

    @model_validator(mode="after")
    def _no_nulls(self) -> Self:
        required = ("cause", "action", "owner", "due_on", "complaint_ids")
        nulled = [name for name in required if name in self.model_fields_set and getattr(self, name) is None]
        if nulled:
            raise ValueError(f"{', '.join(nulled)} may not be null")
        if not self.model_fields_set:
            raise ValueError("name at least one member to change")
        return self

    def changes(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in sorted(self.model_fields_set)}


class DropActionIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    reason: CauseText = Field(description="Why the action is given up.", examples=["门店已于11月关闭"])


class ActionChange(BaseModel):
    """One change of a corrective action: when, by whom (``X-Actor``), which move or edit, which members."""

    at: datetime
    by: str = Field(examples=["manager-01"])
    change: str = Field(description="create, edit, done, verify or drop.", examples=["done"])
    fields: list[str] = Field(default_factory=list, examples=[["action", "due_on"]])


class CorrectiveActionOut(BaseModel):
    """A corrective action. ``version`` is also its ``ETag``."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    store_id: str | None = Field(examples=["SZ-FT-012"])
    category: Category | None = Field(examples=["billing"])
    cause: str = Field(examples=[CAUSE_EXAMPLE])
    action: str = Field(examples=[ACTION_EXAMPLE])
    owner: str = Field(examples=["王店长"])
    due_on: date
    state: ActionState
    complaint_ids: list[uuid.UUID] = Field(
        description="The linked complaints; a store key sees those dispatched to its store only."
    )
    done_at: datetime | None
    verified_at: datetime | None
    dropped_at: datetime | None
    dropped_reason: str | None = Field(examples=["门店已于11月关闭"])
    version: int
    created_by: str
    created_at: datetime
    updated_by: str
    updated_at: datetime
    history: list[ActionChange]
