"""What the progress link's operations and the progress page (as JSON) show."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from app.complaints.models import RemedyKind, State
from app.types import Money

LINK_URL = "https://tousu.example.com/p/q8Xr2bLkT0vYcN3wZs5JdA"
STATE_EXAMPLE = "调查中"


class ProgressLinkOut(BaseModel):
    """A progress link as issued: its URL is shown this once (only a hash of its token is kept)."""

    url: str = Field(description="The link to text the customer.", examples=[LINK_URL])
    sms_text: str = Field(
        description="A text message carrying the link, ready to send.",
        examples=[f"【投诉进度】您的投诉 TS-20261204-0001 已受理，处理进度请查看：{LINK_URL}"],
    )
    issued_at: datetime
    expires_at: datetime | None = Field(
        description="90 days after the complaint closed (rejected, or revisited after the reply); null while it is "
        "open, and again when it is reopened.",
    )


class Complainant(BaseModel):
    name: str = Field(description="Masked.", examples=["张*"])
    phone: str = Field(description="Masked.", examples=["138****8000"])


class Step(BaseModel):
    """A step of the complaint the customer may see."""

    step: str = Field(
        examples=["investigate"], description="register, investigate, resolve, approve, revisit, reopen or reject."
    )
    label: str = Field(examples=["已转交调查"])
    at: datetime


class Reply(BaseModel):
    """The written reply, or the explanation of a rejection, as sent to the customer."""

    text: str | None = Field(examples=["非常抱歉给您带来不便，我们将为您全额退款。"])
    sent_at: datetime


class Remedy(BaseModel):
    kind: RemedyKind
    label: str = Field(examples=["退款"])
    amount: Money | None = Field(None, examples=["300.00"])
    description: str | None = Field(None, examples=["退还货款300元"])
    to_be_carried_out: bool = Field(description="The remedy has a value: it is carried out after the reply.")
    fulfilled_at: datetime | None = Field(None, description="When it was carried out; null while it is owed.")


class ProgressOut(BaseModel):
    """Where a complaint stands, as its customer may see it."""

    number: str = Field(examples=["TS-20261204-0001"])
    state: State
    state_label: str = Field(examples=[STATE_EXAMPLE])
    complainant: Complainant
    reply_due_at: datetime | None = Field(
        description="The written reply is promised by then (while it is owed).",
    )
    reply: Reply | None
    remedy: Remedy | None
    timeline: list[Step]
    service_phone: str = Field(examples=["400-000-0000"])
