"""From a complaint's history entry to a webhook: its event type, who gets it, and the body they get."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from app.complaints import workflow
from app.complaints.models import CORRECTED, Complaint, ComplaintEvent
from app.complaints.schemas import ComplaintOut, Earlier
from app.config import Settings
from app.sla.models import ClockState
from app.types import local_times
from app.visibility import Viewer, contact_of
from app.vocabulary import ClockKind, ResponsibleUnit, dispatched_units, unit_named
from app.webhooks.models import WebhookEndpoint
from app.webhooks.schemas import EventType, model_of

# History entries (each move as its declaration says, or what tousu itself wrote) and the event each one is. Notes
# are not sent.
TYPE_OF_MOVE: dict[str, EventType] = {
    "register": EventType.accepted,
    **{move.name: EventType(move.event) for move in workflow.MOVES},
    "complaint.escalated": EventType.escalated,
    CORRECTED: EventType.corrected,
    "sla.warning": EventType.sla_warning,
    "sla.breached": EventType.sla_breached,
    "attachment.added": EventType.attachment_added,
    "attachment.visibility_changed": EventType.attachment_visibility_changed,
}
# The events of moves that may dispatch to a store or department: they carry the deadline of its feedback.
DISPATCHING_TYPES = frozenset(EventType(move.event) for move in workflow.MOVES if move.dispatches)
CLOCK_EVENTS = frozenset({EventType.sla_warning, EventType.sla_breached, EventType.escalated})


def type_of(event: ComplaintEvent) -> EventType | None:
    return TYPE_OF_MOVE.get(event.move)


def viewer_of(endpoint: WebhookEndpoint) -> Viewer:
    """Who the endpoint is to the visibility model: the store or department it is bound to, or company-wide."""
    return Viewer.bound_to(endpoint.store_id, endpoint.department)


def units_then(entry: ComplaintEvent, complaint: Complaint) -> list[ResponsibleUnit]:
    """The units responsible for the complaint just after ``entry`` (it may have been dispatched elsewhere since)."""
    if entry.snapshot is None:
        return dispatched_units(complaint.responsible_store_id, complaint.responsible_department)
    return dispatched_units(entry.snapshot["responsible_store_id"], entry.snapshot.get("responsible_department"))


def wants(
    endpoint: WebhookEndpoint, event_type: EventType, entry: ComplaintEvent, units: list[ResponsibleUnit]
) -> bool:
    """Whether the endpoint gets this event. One bound to a store or department gets what that unit's key may read
    of the complaints that were the unit's when the event happened (``units``: see ``units_then``), and the clock
    events of its own feedback."""
    if endpoint.event_types is not None and event_type not in endpoint.event_types:
        return False
    viewer = viewer_of(endpoint)
    if viewer.unit is None:
        return True
    if event_type in CLOCK_EVENTS:
        clock_unit = unit_named(entry.payload.get("store_id"), entry.payload.get("department"))
        return entry.payload.get("clock") == ClockKind.store_feedback and clock_unit == viewer.unit
    return viewer.unit in units and viewer.sees_entry(entry)


def as_it_was(entry: ComplaintEvent, complaint: Complaint, earlier: Earlier, settings: Settings) -> ComplaintOut:
    """The complaint as the change that wrote ``entry`` left it (entries from before migration 0009 keep no snapshot:
    the complaint as it is now)."""
    if entry.snapshot is None:
        return ComplaintOut.build(complaint, [], settings, earlier)
    return ComplaintOut.from_snapshot(entry.snapshot, complaint, earlier, settings.tz)


def body(
    event_type: EventType,
    entry: ComplaintEvent,
    complaint: Complaint,
    shown_to: Viewer,
    earlier: Earlier,
    settings: Settings,
) -> str:
    """The exact body of the webhook: ``{type, timestamp, data}`` in compact JSON, kept for every attempt. The
    complaint is as the event left it, shown as ``shown_to`` may see it."""
    tz = settings.tz
    shown = shown_to.complaint(as_it_was(entry, complaint, earlier, settings))
    data: dict[str, Any] = {
        "event_id": entry.id,
        "move": entry.move,
        "actor": entry.actor,
        "at": entry.at.astimezone(tz),
        "from_state": entry.from_state,
        "to_state": entry.to_state,
        "detail": shown_to.payload(local_times(entry.payload, tz), contact_of(complaint)),
        "complaint": shown,
    }
    timestamp = entry.at.astimezone(tz)
    if event_type in DISPATCHING_TYPES:
        data["store_feedback_due_at"] = _feedback_due(shown)
    elif event_type is EventType.resolved:
        data["reply"], data["remedy"] = shown.reply, shown.remedy
    return dumps(model_of(event_type).model_validate({"type": event_type, "timestamp": timestamp, "data": data}))


def _feedback_due(complaint: ComplaintOut) -> datetime | None:
    """The deadline of the feedback this move started, if it dispatched to a store or department (for a
    company-wide endpoint of a complaint dispatched to both, the store's)."""
    running = ClockKind.store_feedback, ClockState.running
    return next((clock.due_at for clock in complaint.clocks if (clock.kind, clock.state) == running), None)


def dumps(message: BaseModel) -> str:
    return json.dumps(message.model_dump(mode="json"), ensure_ascii=False, separators=(",", ":"))
