"""Retention: a closed complaint's personal data removed for good once ``TOUSU_RETENTION_DAYS`` have passed (and
at once when the person asks), and a person's complaints exported. No HTTP here.

What goes: the complainant's name, phone, e-mail, address, customer reference and former contacts; the attachments
(rows and blobs, unless another complaint's attachment shares the content); and the contact quoted in free text
anywhere a complaint's data is kept (its texts, its history's payloads and snapshots, its clock events, its webhook
deliveries and their receivers' answers, the stored answers of idempotent requests): there it is masked as a store
sees it (``Contact.redact``). Numbers, dates, categories, clocks and amounts stay: the reports of the past add up to
the same totals.

One person (all their complaints due, with one placeholder phone) is one transaction: a run killed midway leaves
whole people done and the others untouched, and the next run takes up the rest (``anonymised_at`` marks what is done).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import String, cast, delete, func, select
from sqlalchemy.orm import Session, selectinload

from app.attachments.models import Attachment
from app.attachments.storage import BlobStore
from app.complaints.contact import Contact
from app.complaints.models import Complaint, ComplaintEvent, State
from app.config import Settings
from app.db import Database, utcnow
from app.idempotency import IdempotencyRecord
from app.sla.models import Clock, ClockEvent
from app.visibility import contact_of
from app.webhooks.models import WebhookAttempt, WebhookDelivery

CLOSED = (State.rejected, State.revisited)
ANONYMOUS_NAME = "（已匿名）"
PLACEHOLDER_PREFIX = "anon-"  # an anonymised phone: one per person and run, random, never a number anyone has
# Where an agent may have typed the contact: texts, and references (a payment reference made of the phone).
TEXT_FIELDS = (
    "description",
    "customer_request",
    "remedy_description",
    "reply_text",
    "improvement",
    "incident_report",
    "payment_reference",
    "order_number",
    "external_ref",
)
CONTACT_KEYS = {"complainant", "former_contacts"}

closed_at = func.coalesce(Complaint.revisited_at, Complaint.rejected_at)


def placeholder_phone() -> str:
    """What an anonymised complaint's phone becomes: random, shared by the complaints of one person anonymised
    together, so that a report counts them as one (repeat) complainant as before."""
    return PLACEHOLDER_PREFIX + secrets.token_hex(8)


def is_open(complaint: Complaint) -> bool:
    return complaint.state not in CLOSED


def _scrub(value: Any, contact: Contact) -> Any:
    """``value`` (JSON) with every text redacted and any contact object emptied."""
    if isinstance(value, str):
        return contact.redact(value)
    if isinstance(value, list):
        return [_scrub(item, contact) for item in value]
    if isinstance(value, dict):
        return {key: (None if key in CONTACT_KEYS and item else _scrub(item, contact)) for key, item in value.items()}
    return value


def _scrub_text(text: str, contact: Contact) -> str:
    """A stored body: JSON scrubbed as JSON (its escapes of non-ASCII too), anything else as text."""
    try:
        parsed = json.loads(text)
    except ValueError:
        return contact.redact(text)
    return json.dumps(_scrub(parsed, contact), ensure_ascii=False, separators=(",", ":"))


def anonymise(session: Session, complaint: Complaint, phone: str, now: datetime) -> set[str]:
    """Remove the complaint's personal data in the caller's transaction (flushed); the SHA-256 of the blobs its
    attachments held, for the caller to delete once it knows no other attachment keeps them."""
    contact = contact_of(complaint)
    for field in TEXT_FIELDS:
        text = getattr(complaint, field)
        if text:
            setattr(complaint, field, contact.redact(text))
    complaint.complainant_name = ANONYMOUS_NAME
    complaint.complainant_phone = phone
    complaint.complainant_email = None
    complaint.complainant_address = None
    complaint.customer_ref = None
    complaint.former_contacts = None
    complaint.anonymised_at = now
    for event in session.scalars(select(ComplaintEvent).where(ComplaintEvent.complaint_id == complaint.id)):
        event.payload = _scrub(event.payload, contact)
        if event.snapshot is not None:
            event.snapshot = _scrub(event.snapshot, contact)
    clocks = select(Clock.id).where(Clock.complaint_id == complaint.id)
    for clock_event in session.scalars(select(ClockEvent).where(ClockEvent.clock_id.in_(clocks))):
        clock_event.detail = _scrub(clock_event.detail, contact)
    deliveries = select(WebhookDelivery.id).where(WebhookDelivery.complaint_id == complaint.id)
    for delivery in session.scalars(select(WebhookDelivery).where(WebhookDelivery.complaint_id == complaint.id)):
        delivery.payload = _scrub_text(delivery.payload, contact)
    for attempt in session.scalars(
        select(WebhookAttempt).where(
            WebhookAttempt.delivery_id.in_(deliveries), WebhookAttempt.response_body.is_not(None)
        )
    ):
        attempt.response_body = _scrub_text(attempt.response_body or "", contact)
    # An idempotent request's stored answer (kept a day or so) may be this complaint as it was.
    quoting = cast(IdempotencyRecord.response, String).contains(str(complaint.id))
    for record in session.scalars(select(IdempotencyRecord).where(quoting)):
        record.response = _scrub(record.response, contact)
    blobs = set(session.scalars(select(Attachment.sha256).where(Attachment.complaint_id == complaint.id)))
    session.execute(delete(Attachment).where(Attachment.complaint_id == complaint.id))
    session.flush()
    return blobs


def unshared(session: Session, blobs: Iterable[str]) -> list[str]:
    """Those of ``blobs`` no attachment refers to any more (after the caller's deletions)."""
    wanted = sorted(set(blobs))
    if not wanted:
        return []
    kept = set(session.scalars(select(Attachment.sha256).where(Attachment.sha256.in_(wanted)).distinct()))
    return [sha for sha in wanted if sha not in kept]


def anonymise_all(session: Session, complaints: list[Complaint], store: BlobStore, now: datetime) -> None:
    """One person's complaints, with one placeholder phone, in the caller's transaction. Blobs no one else keeps
    are deleted before the caller commits: a failed commit leaves the rows to a rerun, which deletes again."""
    phone = placeholder_phone()
    blobs: set[str] = set()
    for complaint in complaints:
        blobs |= anonymise(session, complaint, phone, now)
    for sha in unshared(session, blobs):
        store.delete(sha)


@dataclass(frozen=True)
class Swept:
    people: int = 0
    complaints: int = 0


def due(settings: Settings, now: datetime) -> Any:
    """The condition of a complaint due for anonymising: closed longer than the retention period, not yet done."""
    cutoff = now - timedelta(days=settings.retention_days)
    return (Complaint.state.in_(CLOSED), Complaint.anonymised_at.is_(None), closed_at < cutoff)


BATCH = 50  # phones read at a time


def run(
    db: Database, settings: Settings, store: BlobStore, now: datetime | None = None, limit: int | None = None
) -> Swept:
    """Anonymise every complaint due, one person (phone) per transaction, in the phones' order; at most ``limit``
    people."""
    now = now or utcnow()
    swept, after = Swept(), ""
    while limit is None or swept.people < limit:
        with db.readers() as session:
            query = select(Complaint.complainant_phone).where(*due(settings, now), Complaint.complainant_phone > after)
            phones = list(session.scalars(query.distinct().order_by(Complaint.complainant_phone).limit(BATCH)))
        for phone in phones[: None if limit is None else limit - swept.people]:
            taken = _anonymise_person(db, settings, store, phone, now)  # none: another run was first
            if taken:
                swept = Swept(swept.people + 1, swept.complaints + taken)
        if len(phones) < BATCH:
            break
        after = phones[-1]
    return swept


def _anonymise_person(db: Database, settings: Settings, store: BlobStore, phone: str, now: datetime) -> int:
    """The person's complaints due, in one transaction: how many."""
    with db.writers.begin() as session:
        query = select(Complaint).where(*due(settings, now), Complaint.complainant_phone == phone)
        complaints = list(session.scalars(query.order_by(Complaint.id).with_for_update()))
        if complaints:
            anonymise_all(session, complaints, store, now)
    return len(complaints)


def of_phone(session: Session, phone: str, for_update: bool = False) -> list[Complaint]:
    """Every complaint of a (normalised) phone, oldest first; to show, with their clocks."""
    query = select(Complaint).where(Complaint.complainant_phone == phone).order_by(Complaint.received_at, Complaint.id)
    if for_update:
        return list(session.scalars(query.with_for_update()))
    return list(session.scalars(query.options(selectinload(Complaint.clocks))))
