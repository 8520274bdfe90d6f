"""From a complaint's history entry to a webhook: its event type, who gets it, and the body they get."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from app.auth.models import Role
from app.auth.principal import Principal
from app.complaints.models import Complaint, ComplaintEvent
from app.complaints.repository import Earlier
from app.complaints.schemas import ComplaintOut, RemedyOut
from app.config import Settings
from app.sla.policy import ClockKind
from app.types import local_times
from app.webhooks.models import WebhookEndpoint
from app.webhooks.schemas import (
    ComplaintMessage,
    DispatchedData,
    DispatchedMessage,
    EventData,
    EventType,
    ReopenedData,
    ReopenedMessage,
    ResolvedData,
    ResolvedMessage,
)

# History entries (the move, or what tousu itself wrote) and the event each one is. Notes are not sent.
TYPE_OF_MOVE: dict[str, EventType] = {
    "register": EventType.accepted,
    "reject": EventType.rejected,
    "investigate": EventType.dispatched,
    "store-feedback": EventType.store_feedback_received,
    "propose": EventType.submitted_for_approval,
    "send-back": EventType.sent_back,
    "resolve": EventType.resolved,
    "approve": EventType.resolved,
    "revisit": EventType.revisited,
    "reopen": EventType.reopened,
    "complaint.escalated": EventType.escalated,
    "sla.warning": EventType.sla_warning,
    "sla.breached": EventType.sla_breached,
}
CLOCK_EVENTS = frozenset({EventType.sla_warning, EventType.sla_breached, EventType.escalated})


def type_of(event: ComplaintEvent) -> EventType | None:
    return TYPE_OF_MOVE.get(event.move)


DISPATCHING_MOVES = ("investigate", "reopen")
# The earlier history entries a body may need: where the complaint was dispatched, what was proposed.
CONTEXT_MOVES = (*DISPATCHING_MOVES, "propose")


def store_after(context: list[ComplaintEvent], event: ComplaintEvent) -> str | None:
    """The store responsible for the complaint just after ``event``, from its context entries (oldest first): the
    complaint may have been dispatched elsewhere since, so the complaint row cannot tell."""
    store = None
    for entry in context:
        if entry.id > event.id:
            break
        if entry.move in DISPATCHING_MOVES and (entry.payload.get("store_id") or entry.payload.get("department")):
            store = entry.payload.get("store_id")
    return store


def resolution(context: list[ComplaintEvent], event: ComplaintEvent) -> tuple[str | None, RemedyOut | None]:
    """The reply and remedy that ``event`` (resolve, or approve of the last proposal before it) gave the customer,
    from the history: by the time the event is fanned out the complaint may carry a newer proposal."""
    proposals = [entry for entry in context if entry.move == "propose" and entry.id < event.id]
    source = event if event.move == "resolve" else (proposals[-1] if proposals else None)
    if source is None:
        return None, None
    remedy = source.payload.get("remedy")
    reply = event.payload.get("reply") or source.payload.get("reply")
    return reply, RemedyOut(**{"description": None, **remedy}) if remedy else None


def wants(endpoint: WebhookEndpoint, event_type: EventType, event: ComplaintEvent, store: str | None) -> bool:
    """Whether the endpoint subscribes to this event. A store's endpoint gets the events of the complaints
    dispatched to it (``store``: responsible just after the event) and the clock events of its own feedback."""
    if endpoint.event_types is not None and event_type not in endpoint.event_types:
        return False
    if endpoint.store_id is None:
        return True
    if event_type in CLOCK_EVENTS:
        return event.payload.get("clock") == ClockKind.store_feedback and event.payload.get("store_id") == (
            endpoint.store_id
        )
    return store == endpoint.store_id


def viewer(store_id: str | None) -> Principal:
    """Whom the complaint is shown to: an endpoint bound to a store sees it as that store's API key does (masked);
    any other as a reporter key does."""
    role = Role.store if store_id else Role.reporter
    return Principal(key_id=uuid.UUID(int=0), key_name="webhook", role=role, store_id=store_id, authority=None)


def body(
    event_type: EventType,
    event: ComplaintEvent,
    complaint: Complaint,
    context: list[ComplaintEvent],
    shown_to: Principal,
    earlier: Earlier,
    settings: Settings,
) -> str:
    """The exact body of the webhook: ``{type, timestamp, data}`` in compact JSON, kept for every attempt."""
    tz = settings.tz
    data: dict[str, Any] = {
        "event_id": event.id,
        "move": event.move,
        "actor": event.actor,
        "at": event.at.astimezone(tz),
        "from_state": event.from_state,
        "to_state": event.to_state,
        "detail": local_times(event.payload, tz),
        "complaint": ComplaintOut.build(complaint, shown_to, [], settings, earlier),
    }
    timestamp = event.at.astimezone(tz)
    message: BaseModel
    if event_type in (EventType.dispatched, EventType.reopened):
        data["store_feedback_due_at"] = _feedback_due(complaint, event, settings)
        if event_type is EventType.dispatched:
            message = DispatchedMessage(type=event_type, timestamp=timestamp, data=DispatchedData(**data))
        else:
            message = ReopenedMessage(type=event_type, timestamp=timestamp, data=ReopenedData(**data))
    elif event_type is EventType.resolved:
        data["reply"], data["remedy"] = resolution(context, event)
        message = ResolvedMessage(type=event_type, timestamp=timestamp, data=ResolvedData(**data))
    else:
        message = ComplaintMessage(type=event_type, timestamp=timestamp, data=EventData(**data))
    return dumps(message)


def _feedback_due(complaint: Complaint, event: ComplaintEvent, settings: Settings) -> datetime | None:
    """The deadline of the store-feedback clock this move started, if it dispatched to a store."""
    kind = ClockKind.store_feedback
    due = next((c.due_at for c in complaint.clocks if c.kind is kind and c.started_at == event.at), None)
    return due.astimezone(settings.tz) if due else None


def dumps(message: BaseModel) -> str:
    return json.dumps(message.model_dump(mode="json"), ensure_ascii=False, separators=(",", ":"))
