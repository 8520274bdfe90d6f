"""Corrections of what intake recorded (PATCH): the contact, the product and purchase, the claim, the category, the
store or department complained about, and the priority. No HTTP here; the caller's transaction is only flushed.

A correction that changes something is one history entry (``complaint.corrected``) with each changed field before
and after. The complainant's contact appears there masked, for every reader: it is kept on the complaint alone, so
that erasing it there erases it everywhere (as registration keeps it out of the history).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import Enum
from typing import Any

from pydantic import BaseModel
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from app.auth.models import Role
from app.auth.principal import REGISTER_ROLES, Actor, Principal
from app.complaints import contact, service
from app.complaints import schemas as s
from app.complaints.models import CORRECTED, Complaint, ComplaintEvent
from app.config import Settings
from app.db import utcnow
from app.errors import Forbidden, InvalidInput
from app.preconditions import IfMatch
from app.sla import clocks
from app.sla import service as sla
from app.vocabulary import Priority, Trigger

CORRECTING_ROLES = REGISTER_ROLES  # intake and every handling role; a store key never
RAISING_ROLES = frozenset({Role.supervisor, Role.manager, Role.admin})
LOWERING_ROLES = frozenset({Role.manager, Role.admin})
INCIDENT_SKEW = timedelta(minutes=5)

# Each field a correction may set, as the API names it, and its column.
TOP = {name: name for name in ("category", "priority", "store_id", "department", "order_number", "incident_at")}
COMPLAINANT = {
    "name": "complainant_name",
    "phone": "complainant_phone",
    "email": "complainant_email",
    "customer_ref": "customer_ref",
    "address": "complainant_address",
}
PARTS = {
    "complainant": COMPLAINANT,
    "product": s.PRODUCT_COLUMNS,
    "purchase": s.PURCHASE_COLUMNS,
    "claim": s.CLAIM_COLUMNS,
}
FORMER = ("name", "phone", "email", "address")
CONTACT_COLUMNS = frozenset(COMPLAINANT[field] for field in FORMER)
FIELD_OF = {column: name for name, column in TOP.items()} | {
    column: f"{part}.{name}" for part, columns in PARTS.items() for name, column in columns.items()
}


def _hidden(_: str) -> str:
    return contact.ADDRESS_MASK


MASKS: dict[str, Callable[[str], str]] = {
    "complainant_name": contact.mask_name,
    "complainant_phone": contact.mask_phone,
    "complainant_email": contact.mask_email,
    "complainant_address": contact.mask_address,
    "customer_ref": _hidden,  # a store never sees it, masked or not
}


def requested(body: s.ComplaintPatch) -> dict[str, Any]:
    """The columns the merge patch sets: a field given (null clears it), an object merged field by field, an object
    set to null clearing all of its fields."""
    columns = {TOP[name]: getattr(body, name) for name in TOP if name in body.model_fields_set}
    for part_name, part_columns in PARTS.items():
        if part_name not in body.model_fields_set:
            continue
        part: BaseModel | None = getattr(body, part_name)
        if part is None:
            columns |= dict.fromkeys(part_columns.values())
        else:
            columns |= {part_columns[name]: getattr(part, name) for name in part.model_fields_set}
    return columns


def correct(
    session: Session,
    complaint_id: uuid.UUID,
    actor: Actor,
    body: s.ComplaintPatch,
    settings: Settings,
    if_match: IfMatch,
) -> tuple[Complaint, s.ComplaintOut]:
    """Apply the correction to the complaint, locked; a correction that changes nothing writes nothing. The
    complaint, and how this key sees it after the correction."""
    principal = actor.principal
    complaint = service.get(session, complaint_id, principal, for_update=True)  # 404 first: ids do not leak
    if principal.role not in CORRECTING_ROLES:
        raise Forbidden(f"role {principal.role} may not correct complaints", allowed_roles=sorted(CORRECTING_ROLES))
    if_match.check(complaint.version)
    changed = {column: value for column, value in requested(body).items() if getattr(complaint, column) != value}
    if not changed:
        set_committed_value(complaint, "clocks", sla.clocks_of(session, complaint.id))
        (out,) = service.show(session, [complaint], principal, settings)
        return complaint, out
    after = {column: changed.get(column, getattr(complaint, column)) for column in FIELD_OF}
    _check(complaint, after)
    before_priority = complaint.priority
    if "priority" in changed:
        _may_change_priority(principal, before_priority, changed["priority"], body.reason)
    now = utcnow()
    payload: dict[str, Any] = {
        "before": {FIELD_OF[column]: _shown(column, getattr(complaint, column)) for column in changed},
        "after": {FIELD_OF[column]: _shown(column, value) for column, value in changed.items()},
    }
    if body.reason:
        payload["reason"] = body.reason
    if CONTACT_COLUMNS & changed.keys():
        # The contact as it was, for masking wherever a text still quotes it (app.visibility); not in the history.
        former = {field: getattr(complaint, column) for field, column in COMPLAINANT.items() if field in FORMER}
        complaint.former_contacts = [*(complaint.former_contacts or []), former]
    for column, value in changed.items():
        setattr(complaint, column, value)
    complaint.updated_at = now
    entry = ComplaintEvent(
        complaint_id=complaint.id,
        move=CORRECTED,
        from_state=complaint.state,
        to_state=complaint.state,
        actor=actor.name,
        api_key_id=principal.key_id,
        at=now,
        payload=payload,
    )
    session.add(entry)
    session.flush()
    if "priority" in changed:
        shown_at = now.astimezone(settings.tz).isoformat(timespec="seconds")
        why = f"restarted on a priority change from {before_priority} to {complaint.priority} at {shown_at}"
        clocks.restart_on_priority(session, complaint, now, settings, why=why)
        trigger = Trigger.of_priority(complaint.priority)
        if trigger is not None and complaint.priority.rank > before_priority.rank:
            # Raised: escalated as a complaint registered with that priority would have been (once per position).
            reason = f"priority corrected to {complaint.priority}"
            clocks.escalation_events(session, complaint, trigger, now, reason, settings, priority=complaint.priority)
        clocks.incident_report_clock(
            session, complaint, now, settings, why=f"priority corrected to {complaint.priority}"
        )
        session.flush()
    set_committed_value(complaint, "clocks", sla.clocks_of(session, complaint.id))
    return complaint, service.kept_and_shown(session, complaint, entry.id, principal, settings)


def _check(complaint: Complaint, after: dict[str, Any]) -> None:
    """What the complaint must still be after the correction (nothing is changed when it is not)."""
    if not after["store_id"] and not after["department"]:
        raise InvalidInput("the complaint must name the store_id or the department complained about", field="store_id")
    if after["claim_amount"] is not None and after["claim_type"] is None:
        raise InvalidInput("an amount claimed needs the claim's type", field="claim.type")
    incident = after["incident_at"]
    if incident is not None and incident > complaint.received_at + INCIDENT_SKEW:
        raise InvalidInput("incident_at is after the complaint was received", field="incident_at")


def _may_change_priority(principal: Principal, before: Priority, after: Priority, reason: str | None) -> None:
    lowered = after.rank < before.rank
    allowed = LOWERING_ROLES if lowered else RAISING_ROLES
    if principal.role not in allowed:
        what = "lower" if lowered else "raise"
        raise Forbidden(f"role {principal.role} may not {what} the priority", allowed_roles=sorted(allowed))
    if not reason:
        raise InvalidInput("a change of priority needs a reason", field="reason")


def _shown(column: str, value: Any) -> Any:
    """A value as the history keeps it (JSON); the complainant's contact masked."""
    if value is None:
        return None
    if column in MASKS:
        return MASKS[column](value)
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    return value
