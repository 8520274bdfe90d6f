"""API shapes of webhook endpoints and deliveries, and the payloads tousu sends."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.complaints.models import State
from app.complaints.schemas import ComplaintOut, Department, RemedyOut, StoreId
from app.types import Bool, text_rules
from app.webhooks import urls
from app.webhooks.models import DeliveryStatus


class EventType(enum.StrEnum):
    accepted = "complaint.accepted"
    rejected = "complaint.rejected"
    dispatched = "complaint.dispatched"
    store_feedback_received = "complaint.store_feedback_received"
    submitted_for_approval = "complaint.submitted_for_approval"
    sent_back = "complaint.sent_back"
    resolved = "complaint.resolved"
    fulfilled = "complaint.fulfilled"
    call_attempted = "complaint.call_attempted"
    revisited = "complaint.revisited"
    reopened = "complaint.reopened"
    reassigned = "complaint.reassigned"
    corrected = "complaint.corrected"
    escalated = "complaint.escalated"
    priority_raised = "complaint.priority_raised"
    incident_reported = "complaint.incident_reported"
    attachment_added = "complaint.attachment_added"
    attachment_visibility_changed = "complaint.attachment_visibility_changed"
    sla_warning = "sla.warning"
    sla_breached = "sla.breached"


PING = "ping"

# What urls.check_url takes, shown in the document (it checks, so that a refusal names the URL's fault).
Url = Annotated[
    str, *text_rules(2000), Field(json_schema_extra={"format": "uri", "pattern": f"^https://{urls.URI_CHARACTERS}$"})
]
Description = Annotated[str, *text_rules(200)]
EventTypes = list[EventType] | None


class EndpointCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    url: Url = Field(description="https, on a public address.", examples=["https://crm.example.com/tousu/webhooks"])
    description: Description | None = Field(None, examples=["福田店门店系统"])
    event_types: EventTypes = Field(
        None, description="The event types to send; null or absent: all of them.", min_length=1
    )
    store_id: StoreId | None = Field(
        None, description="Bind to one store: only its complaints, with the complainant masked as for store keys."
    )
    department: Department | None = Field(
        None,
        description="Bind to one department (its name as complaints are dispatched to it): only the complaints "
        "dispatched to it, masked as for department keys. Not with `store_id`.",
    )
    enabled: Bool = True

    @model_validator(mode="after")
    def _one_unit(self) -> EndpointCreate:
        if self.store_id is not None and self.department is not None:
            raise ValueError("an endpoint is bound to one store or one department, not both")
        return self


class EndpointUpdate(BaseModel):
    """Only the fields sent change; `enabled: true` also clears an automatic disabling."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    # A default that is not a valid value: absent means unchanged, and null is refused like any other non-string.
    url: Url = Field(None, examples=["https://crm.example.com/tousu/webhooks"])  # type: ignore[assignment]  # see above
    description: Description | None = Field(None, examples=["呼叫中心 CRM"])
    event_types: EventTypes = Field(None, min_length=1)
    store_id: StoreId | None = None
    department: Department | None = Field(None, description="Bind to this department (null: to none).")
    enabled: Bool = Field(None)  # type: ignore[assignment]  # absent: unchanged, as above


class EndpointOut(BaseModel):
    id: uuid.UUID
    url: str = Field(examples=["https://crm.example.com/tousu/webhooks"])
    description: str | None = Field(examples=["福田店门店系统"])
    event_types: list[EventType] | None = Field(description="null: every event type.")
    store_id: str | None = Field(examples=["SZ-FT-012"])
    department: str | None = Field(examples=["品管部"])
    enabled: bool
    disabled_reason: str | None = Field(
        description="Why tousu disabled it (410 Gone, or failing for too long), or `disabled by <actor>`.",
        examples=["answered 410 Gone"],
    )
    disabled_at: datetime | None
    failing_since: datetime | None = Field(description="The first failed attempt since the last success.")
    previous_secret_expires_at: datetime | None = Field(
        description="After a rotation, the previous secret also signs until this time."
    )
    created_at: datetime
    created_by: str
    updated_at: datetime


class EndpointWithSecret(EndpointOut):
    secret: str = Field(
        description="The signing secret. Shown only in this response (creation or rotation): store it now.",
        examples=["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
    )


class AttemptOut(BaseModel):
    attempted_at: datetime
    status_code: int | None = Field(description="null: no HTTP answer (see error).", examples=[200])
    latency_ms: int
    response_body: str | None = Field(description="The first 2 KB of the answer.", examples=["已收到"])
    error: str | None = Field(examples=["timed out after 15 s"])


class DeliveryOut(BaseModel):
    id: uuid.UUID
    message_id: str = Field(description="The `webhook-id` header, the same on every attempt.")
    endpoint_id: uuid.UUID
    event_type: str = Field(examples=["complaint.dispatched"])
    complaint_id: uuid.UUID | None
    event_id: int | None = Field(description="The complaint's history entry that caused it.")
    status: DeliveryStatus
    attempt_count: int = Field(description="Attempts since it was created or last redelivered.")
    next_attempt_at: datetime | None
    created_at: datetime
    delivered_at: datetime | None
    failed_at: datetime | None
    payload: dict[str, Any] = Field(
        description="The body sent.",
        examples=[{"type": "complaint.dispatched", "timestamp": "2026-11-22T10:20:00+08:00", "data": {}}],
    )
    attempts: list[AttemptOut] = Field(description="Oldest first.")


class DeliveryPage(BaseModel):
    items: list[DeliveryOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")


# The payloads (documented in the OpenAPI document's webhooks).


class EventData(BaseModel):
    event_id: int = Field(description="The entry in the complaint's history (GET /v1/complaints/{id}/events).")
    move: str = Field(examples=["investigate"], description="The move, or the clock event, that caused it.")
    actor: str = Field(examples=["agent-0042"])
    at: datetime
    from_state: State | None
    to_state: State
    detail: dict[str, Any] = Field(
        description="What was sent with the move (or the clock's details for sla.* and escalations).",
        examples=[{"store_id": "SZ-FT-012", "note": "请门店经理核实当班店员情况"}],
    )
    complaint: ComplaintOut = Field(
        description="The complaint as the event left it (as GET /v1/complaints/{id} showed it right after the "
        "change), masked for an endpoint bound to a store or department as for that unit's key. `allowed_moves` "
        "is empty; `earlier_complaints` is counted when the event is sent out."
    )


class DispatchedData(EventData):
    store_feedback_due_at: datetime | None = Field(
        description="When the feedback of the unit dispatched to (store or department) is due."
    )


class ReopenedData(EventData):
    store_feedback_due_at: datetime | None = Field(
        description="When the feedback is due, if the reopen dispatched the complaint to a store or department "
        "(again); null otherwise."
    )


class ResolvedData(EventData):
    reply: str | None = Field(
        description="The written reply this resolution approved, for the CRM to send (as the event left it: a "
        "later proposal does not change it).",
        examples=["非常抱歉给您带来不便，我们将为您全额退款并向您致歉。"],
    )
    remedy: RemedyOut | None


class PingData(BaseModel):
    endpoint_id: uuid.UUID
    message: str = Field(examples=["tousu 测试消息 (ping)"])


class Message(BaseModel):
    type: str = Field(examples=["complaint.accepted"])
    timestamp: datetime = Field(description="When the event happened.")


class ComplaintMessage(Message):
    data: EventData


class DispatchedMessage(Message):
    data: DispatchedData


class ReopenedMessage(Message):
    data: ReopenedData


class ResolvedMessage(Message):
    data: ResolvedData


class PingMessage(Message):
    data: PingData


# The event types whose message is not a ComplaintMessage (the model of their body), and the ping.
MODELS: dict[str, type[Message]] = {
    EventType.dispatched: DispatchedMessage,
    EventType.reopened: ReopenedMessage,
    EventType.resolved: ResolvedMessage,
    PING: PingMessage,
}


def model_of(event_type: str) -> type[Message]:
    """The body a webhook of this type carries."""
    return MODELS.get(event_type, ComplaintMessage)
