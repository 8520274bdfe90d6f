"""The outbox: history entries not yet fanned out become one delivery per subscribed endpoint.

Every move and clock event writes its history entry in the transaction of the change (the entry is the outbox
row: no change without its event, no event without its change). Fan-out reads the entries whose
``fanned_out_at`` is NULL (a partial index), in id order, writes their deliveries and marks them, in one
transaction. Only one dispatcher fans out at a time (a PostgreSQL advisory lock, tried not waited for; SQLite has
one writer anyway), so the deliveries of one complaint are made in the order of its history.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, CursorResult, Update, func, select, update
from sqlalchemy.orm import Session, selectinload

from app.complaints import service as complaint_service
from app.complaints.models import Complaint, ComplaintEvent
from app.complaints.schemas import Earlier
from app.config import Settings
from app.visibility import Viewer
from app.webhooks import events
from app.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint

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
        marked = session.execute(_mark(ComplaintEvent.id.in_(waiting.scalar_subquery()), now))
        return cast(CursorResult[Any], marked).rowcount  # an UPDATE's result is a CursorResult
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
    query = select(Complaint).where(Complaint.id.in_(wanted))
    if any(entry.snapshot is None for entry, _ in typed):
        query = query.options(selectinload(Complaint.clocks))  # shown as they are now: see events.as_it_was
    complaints: dict[uuid.UUID, Complaint] = {c.id: c for c in session.scalars(query)}
    earlier: dict[Viewer, dict[uuid.UUID, Earlier]] = {}  # per viewer: one query per batch
    for entry, event_type in typed:
        if event_type is None:
            continue
        complaint = complaints[entry.complaint_id]
        units = events.units_then(entry, complaint)
        bodies: dict[Viewer, str] = {}  # built once per viewer and entry
        for endpoint in endpoints:
            if not events.wants(endpoint, event_type, entry, units):
                continue
            viewer = events.viewer_of(endpoint)
            if viewer not in bodies:
                if viewer not in earlier:
                    earlier[viewer] = complaint_service.earlier_complaints(session, list(complaints.values()), viewer)
                bodies[viewer] = events.body(
                    event_type, entry, complaint, viewer, earlier[viewer][complaint.id], settings
                )
            session.add(
                WebhookDelivery(
                    endpoint_id=endpoint.id,
                    complaint_id=complaint.id,
                    event_id=entry.id,
                    event_type=event_type,
                    payload=bodies[viewer],
                    status=DeliveryStatus.pending,
                    attempt_count=0,
                    next_attempt_at=now,
                    created_at=now,
                    generation=endpoint.generation,
                )
            )
    session.flush()


def rebuild(session: Session, delivery: WebhookDelivery, endpoint: WebhookEndpoint, settings: Settings) -> bool:
    """A delivery built for an earlier generation of its endpoint (another URL or unit binding), made again for the
    endpoint as it is now: nothing built for one target goes to another. False when the endpoint as it is now does
    not get this event at all."""
    delivery.generation = endpoint.generation
    if delivery.event_id is None:  # a ping: nothing in it depends on the target
        return True
    entry = session.get(ComplaintEvent, delivery.event_id)
    assert entry is not None
    clocks = [selectinload(Complaint.clocks)] if entry.snapshot is None else []  # see events.as_it_was
    complaint = session.get(Complaint, delivery.complaint_id, options=clocks)
    assert complaint is not None
    event_type = events.type_of(entry)
    if event_type is None or not events.wants(endpoint, event_type, entry, events.units_then(entry, complaint)):
        return False
    viewer = events.viewer_of(endpoint)
    earlier = complaint_service.earlier_complaints(session, [complaint], viewer)[complaint.id]
    delivery.payload = events.body(event_type, entry, complaint, viewer, earlier, settings)
    return True
