"""The outbox: history entries not yet fanned out become one delivery per subscribed endpoint.

Every move and clock event writes its history entry in the transaction of the change (the entry is the outbox
row: no change without its event, no event without its change). Fan-out reads the entries whose
``fanned_out_at`` is NULL (a partial index), in id order, writes their deliveries and marks them, in one
transaction. Only one dispatcher fans out at a time (a PostgreSQL advisory lock, tried not waited for; SQLite has
one writer anyway), so the deliveries of one complaint are made in the order of its history.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import datetime

from sqlalchemy import ColumnElement, Update, func, select, update
from sqlalchemy.orm import Session

from app.complaints import service as complaint_service
from app.complaints.models import Complaint, ComplaintEvent
from app.complaints.repository import Earlier
from app.config import Settings
from app.webhooks import events
from app.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from app.webhooks.schemas import EventType

BATCH = 500
FAN_OUT_LOCK = 0x7475_7375_0001  # pg_try_advisory_xact_lock key: "tusu" 1


def fan_out(session: Session, now: datetime, settings: Settings, *, batch: int = BATCH) -> int:
    """Fan out one batch in the caller's transaction; returns how many history entries it took."""
    if session.get_bind().dialect.name == "postgresql" and not session.scalar(
        select(func.pg_try_advisory_xact_lock(FAN_OUT_LOCK))
    ):
        return 0  # another dispatcher is fanning out
    endpoints = list(
        session.scalars(
            select(WebhookEndpoint).where(WebhookEndpoint.enabled.is_(True), WebhookEndpoint.deleted_at.is_(None))
        )
    )
    unfanned = ComplaintEvent.fanned_out_at.is_(None)
    if not endpoints:  # nobody to tell: mark the batch without loading it
        waiting = select(ComplaintEvent.id).where(unfanned).order_by(ComplaintEvent.id).limit(batch)
        return session.execute(_mark(ComplaintEvent.id.in_(waiting.scalar_subquery()), now)).rowcount
    entries = list(session.scalars(select(ComplaintEvent).where(unfanned).order_by(ComplaintEvent.id).limit(batch)))
    if not entries:
        return 0
    _deliveries(session, entries, endpoints, now, settings)
    session.execute(_mark(ComplaintEvent.id.in_([e.id for e in entries]), now))
    return len(entries)


def _mark(which: ColumnElement[bool], now: datetime) -> Update:
    return update(ComplaintEvent).where(which).values(fanned_out_at=now).execution_options(synchronize_session=False)


def _deliveries(
    session: Session, entries: list[ComplaintEvent], endpoints: list[WebhookEndpoint], now: datetime, settings: Settings
) -> None:
    typed = [(entry, events.type_of(entry)) for entry in entries]
    wanted = {entry.complaint_id for entry, event_type in typed if event_type is not None}
    complaints: dict[uuid.UUID, Complaint] = {
        c.id: c for c in session.scalars(select(Complaint).where(Complaint.id.in_(wanted)))
    }
    needs_context = any(e.store_id for e in endpoints) or any(t is EventType.resolved for _, t in typed)
    context = _context(session, wanted, entries[-1].id) if needs_context else defaultdict(list)
    earlier: dict[str | None, dict[uuid.UUID, Earlier]] = {}  # per store shown to: one query per batch
    for entry, event_type in typed:
        if event_type is None:
            continue
        complaint = complaints[entry.complaint_id]
        store = events.store_after(context[entry.complaint_id], entry)
        bodies: dict[str | None, str] = {}  # by the store it is shown to (None: unmasked), built once per entry
        for endpoint in endpoints:
            if not events.wants(endpoint, event_type, entry, store):
                continue
            if endpoint.store_id not in bodies:
                shown_to = events.viewer(endpoint.store_id)
                if endpoint.store_id not in earlier:
                    earlier[endpoint.store_id] = complaint_service.earlier_complaints(
                        session, list(complaints.values()), shown_to
                    )
                bodies[endpoint.store_id] = events.body(
                    event_type,
                    entry,
                    complaint,
                    context[entry.complaint_id],
                    shown_to,
                    earlier[endpoint.store_id][complaint.id],
                    settings,
                )
            session.add(
                WebhookDelivery(
                    endpoint_id=endpoint.id,
                    complaint_id=complaint.id,
                    event_id=entry.id,
                    event_type=event_type,
                    payload=bodies[endpoint.store_id],
                    status=DeliveryStatus.pending,
                    attempt_count=0,
                    next_attempt_at=now,
                    created_at=now,
                )
            )
    session.flush()


def _context(session: Session, complaint_ids: set[uuid.UUID], last: int) -> dict[uuid.UUID, list[ComplaintEvent]]:
    """The complaints' dispatches and proposals up to ``last``, oldest first."""
    query = select(ComplaintEvent).where(
        ComplaintEvent.complaint_id.in_(complaint_ids),
        ComplaintEvent.move.in_(events.CONTEXT_MOVES),
        ComplaintEvent.id <= last,
    )
    context: dict[uuid.UUID, list[ComplaintEvent]] = defaultdict(list)
    for entry in session.scalars(query.order_by(ComplaintEvent.id)):
        context[entry.complaint_id].append(entry)
    return context
