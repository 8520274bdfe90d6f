"""The sweep: clocks whose warning or deadline has passed are marked, and the complaint's history says so.

It lives with the complaints because it writes their history; the clocks themselves are app.sla's.

A sweep reads ``ix_sla_clocks_next_check_at`` only (clocks with something left to fire, by when), takes a batch
with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL so that several workers share the work without firing one warning
twice, and commits each batch with its events. A worker killed mid-batch commits nothing of it: the next sweep
finds the same clocks still due.
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import Table, select
from sqlalchemy.orm import Session, selectinload

from app.complaints.models import Complaint, ComplaintEvent
from app.complaints.schemas import NONE_EARLIER, ComplaintOut
from app.config import Settings
from app.db import Database, utcnow
from app.periodic import Periodic
from app.sla import escalation
from app.sla.clocks import breach_events, record_event, warning_events
from app.sla.models import Clock, ClockState

log = logging.getLogger("tousu.sweeper")

BATCH = 500


@dataclass
class Swept:
    warned: int = 0
    breached: int = 0

    def __iadd__(self, other: Swept) -> Swept:
        self.warned += other.warned
        self.breached += other.breached
        return self


def sweep_batch(session: Session, now: datetime, settings: Settings, *, batch: int = BATCH) -> Swept:
    """Fire what is due in one batch of clocks, in the caller's transaction."""
    query = select(Clock).where(Clock.next_check_at <= now).order_by(Clock.next_check_at).limit(batch)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    due = list(session.scalars(query))
    complaints = _lock_complaints(session, {clock.complaint_id for clock in due})
    swept = Swept()
    written: dict[uuid.UUID, list[ComplaintEvent]] = defaultdict(list)
    # The positions the batch's escalations reach are written in one statement, as its events are.
    with escalation.marks_together(session, cast(Table, Complaint.__table__)):
        for clock in due:
            complaint = complaints.get(clock.complaint_id)
            if complaint is None:
                continue
            if clock.due_at <= now:
                clock.state = ClockState.breached
                clock.breached_at = clock.due_at  # when it was breached; the event's time says when it was noticed
                clock.next_check_at = None
                record_event(session, clock, "breached", now, due_at=clock.due_at)
                written[complaint.id] += breach_events(session, complaint, clock, now, settings)
                swept.breached += 1
            else:
                clock.warned_at = now
                clock.next_check_at = clock.due_at
                record_event(session, clock, "warned", now, due_at=clock.due_at)
                written[complaint.id] += warning_events(session, complaint, clock, now, settings)
                swept.warned += 1
    for complaint_id, entries in written.items():
        # The clocks loaded with the complaint are the ones changed above (one identity map): as the sweep left them.
        snapshot = ComplaintOut.build(complaints[complaint_id], [], settings, NONE_EARLIER).snapshot()
        for entry in entries:
            entry.snapshot = snapshot
    session.flush()
    return swept


def _lock_complaints(session: Session, ids: set[uuid.UUID]) -> dict[uuid.UUID, Complaint]:
    """The complaints, with their clocks, locked on PostgreSQL like a move locks its complaint, so that a complaint's
    history has one writer at a time and its entries' order is their commit order (its webhooks go out in that
    order). A complaint a move holds is skipped, not waited for: the move may be waiting for one of our clocks."""
    query = select(Complaint).where(Complaint.id.in_(ids)).options(selectinload(Complaint.clocks))
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return {complaint.id: complaint for complaint in session.scalars(query)}


def sweep(db: Database, now: datetime | None = None, *, batch: int = BATCH) -> Swept:
    """Sweep until nothing is due, one committed transaction per batch."""
    total = Swept()
    while True:
        with db.writers.begin() as session:
            swept = sweep_batch(session, now or utcnow(), db.settings, batch=batch)
        total += swept
        if swept.warned + swept.breached < batch:
            break
    return total


class Sweeper(Periodic[Swept]):
    """Sweeps every ``TOUSU_SWEEP_INTERVAL`` seconds in a thread until stopped."""

    name = "sweep"

    def __init__(self, db: Database, settings: Settings) -> None:
        super().__init__(settings.sweep_interval, log)
        self.db = db

    def work(self) -> Swept:
        return sweep(self.db)

    def done(self, swept: Swept) -> None:
        if swept.warned or swept.breached:
            log.info("swept", extra={"warned": swept.warned, "breached": swept.breached})
