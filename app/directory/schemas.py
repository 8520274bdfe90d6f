"""What the directory reads and writes: a store or department with its name (and a store's region)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from app.complaints.schemas import Department, StoreId
from app.types import Bool, text_rules

Name = Annotated[str, *text_rules(200), Field(examples=["福田中心店"])]
Region = Annotated[str, *text_rules(100), Field(examples=["华南区"])]


class StoreIn(BaseModel):
    """A store's name, region and whether it is active, replacing what was known."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: Name | None = Field(None, description="The store's name; null: not known.")
    region: Region | None = Field(None, description="The region (区域) it belongs to, as the company names it.")
    active: Bool = Field(True, description="False: the store no longer takes complaints (closed, merged).")


class StoreOut(BaseModel):
    id: StoreId = Field(description="The store id used everywhere (complaints, keys, clocks).")
    name: str | None = Field(examples=["福田中心店"])
    region: str | None = Field(examples=["华南区"])
    active: bool


class StoreRow(StoreIn):
    """A line of an imported CSV file."""

    id: StoreId


class DepartmentIn(BaseModel):
    """A department's name and whether it is active, replacing what was known."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: Name | None = Field(None, description="The department's full name; null: the id says it.")
    active: Bool = Field(True, description="False: complaints are no longer dispatched to it.")


class DepartmentOut(BaseModel):
    id: Department = Field(description="The department's name as complaints are dispatched to it.")
    name: str | None = Field(examples=["品质管理部"])
    active: bool
