import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from app.auth.models import Role
from app.types import text_rules


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: Annotated[str, *text_rules(100)] = Field(examples=["呼叫中心 CRM"])
    role: Role
    store_id: Annotated[str, *text_rules(64), Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")] | None = Field(
        None, description="Required for, and only for, a store key.", examples=["SZ-FT-012"]
    )
    department: Annotated[str, *text_rules(100)] | None = Field(
        None,
        description="Required for, and only for, a department key: the department's name exactly as complaints are "
        "dispatched to it (`department` of investigate or reopen).",
        examples=["品管部"],
    )


class ApiKeyOut(BaseModel):
    id: uuid.UUID
    name: str = Field(examples=["福田店门店系统"])
    role: Role
    store_id: str | None
    department: str | None = Field(examples=["品管部"])
    prefix: str = Field(description="The first characters of the key, to recognise it.", examples=["tsk_Xy3kP9aQ"])
    created_at: datetime
    created_by: str | None
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyOut):
    key: str = Field(description="The key itself. Shown only in this response: store it now.")
