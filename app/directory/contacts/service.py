"""Reading and writing the escalation contacts (admin writes, admin and manager read)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.directory.contacts.schemas import ContactIn
from app.errors import NotFound
from app.sla.escalation import Addressbook
from app.units import EscalationContact
from app.vocabulary import Position


def list_contacts(session: Session, position: Position | None = None) -> Sequence[EscalationContact]:
    query = select(EscalationContact)
    if position is not None:
        query = query.where(EscalationContact.position == position)
    return session.scalars(query.order_by(EscalationContact.position, EscalationContact.name)).all()


def read_contact(session: Session, contact_id: uuid.UUID) -> EscalationContact:
    contact = session.get(EscalationContact, contact_id)
    if contact is None:
        raise NotFound(f"no escalation contact {contact_id}")
    return contact


def add_contact(session: Session, body: ContactIn, now: datetime) -> EscalationContact:
    contact = EscalationContact(**body.model_dump(), created_at=now, updated_at=now)
    session.add(contact)
    session.flush()
    Addressbook.forget(session)
    return contact


def replace_contact(session: Session, contact_id: uuid.UUID, body: ContactIn, now: datetime) -> EscalationContact:
    contact = read_contact(session, contact_id)
    for field, value in body.model_dump().items():
        setattr(contact, field, value)
    contact.updated_at = now
    session.flush()
    Addressbook.forget(session)
    return contact


def remove_contact(session: Session, contact_id: uuid.UUID) -> None:
    session.delete(read_contact(session, contact_id))
    session.flush()
    Addressbook.forget(session)
