"""HTTP for escalation: the contacts on the ladder (admin writes; admin and manager read: personal data) and the
ladder itself (every company-wide role reads it)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response

from app import errors
from app.auth.dependencies import require_role
from app.auth.models import Role
from app.config import Settings
from app.db import utcnow
from app.dependencies import CurrentSettings, ReadSession, WriteSession
from app.directory.contacts import service
from app.directory.contacts.schemas import ContactIn, ContactOut, LadderOut
from app.errors import Forbidden, InvalidInput, NotFound, Unauthorized
from app.sla.clocks import policy
from app.sla.escalation import POSITION_WORDS
from app.types import in_local_time
from app.visibility import CONTACT_ROLES
from app.vocabulary import Position, Trigger

router = APIRouter(prefix="/v1", tags=["escalation"])

ContactPath = Annotated[uuid.UUID, Path(description="The contact's id.")]
READERS = Depends(require_role(*CONTACT_ROLES))
ADMIN = Depends(require_role(Role.admin))
COMPANY_ROLES = [role for role in Role if role not in (Role.store, Role.department)]


def _out(row: object, settings: Settings) -> ContactOut:
    return in_local_time(ContactOut.model_validate(row), settings.tz)


@router.get(
    "/escalation-ladder",
    operation_id="getEscalationLadder",
    summary="Read the escalation ladder",
    description="Which positions each trigger reaches, as configured (`[ladder]` in the SLA policy file).",
    responses=errors.responses(Unauthorized, Forbidden, 503),
    dependencies=[Depends(require_role(*COMPANY_ROLES))],
)
def get_ladder(settings: CurrentSettings) -> LadderOut:
    return LadderOut(rungs=ladder_of(settings), positions=POSITION_WORDS)


def ladder_of(settings: Settings) -> dict[Trigger, list[Position]]:
    ladder = policy(settings).ladder
    return {trigger: list(ladder[trigger]) for trigger in Trigger}


@router.get(
    "/escalation-contacts",
    operation_id="listEscalationContacts",
    summary="List escalation contacts (admin, manager)",
    description="The people escalations reach, by position: personal data, read by admin and manager keys only.",
    responses=errors.responses(Unauthorized, Forbidden, InvalidInput, 503),
    dependencies=[READERS],
)
def list_contacts(
    session: ReadSession,
    settings: CurrentSettings,
    position: Annotated[Position | None, Query(description="Only this position.")] = None,
) -> list[ContactOut]:
    return [_out(row, settings) for row in service.list_contacts(session, position)]


@router.get(
    "/escalation-contacts/{contact_id}",
    operation_id="getEscalationContact",
    summary="Read an escalation contact (admin, manager)",
    description="A person on the ladder, with the position, where they belong and how to reach them.",
    responses=errors.responses(Unauthorized, Forbidden, NotFound, InvalidInput, 503),
    dependencies=[READERS],
)
def get_contact(contact_id: ContactPath, session: ReadSession, settings: CurrentSettings) -> ContactOut:
    return _out(service.read_contact(session, contact_id), settings)


@router.post(
    "/escalation-contacts",
    operation_id="addEscalationContact",
    summary="Add an escalation contact (admin)",
    description="A store manager for a store (or a department's head), a region manager for a region, or the "
    "company's customer-service supervisor or general manager, with at least one way to reach them.",
    status_code=201,
    responses=errors.responses(Unauthorized, Forbidden, 413, InvalidInput, 503),
    dependencies=[ADMIN],
)
def add_contact(body: ContactIn, session: WriteSession, settings: CurrentSettings) -> ContactOut:
    return _out(service.add_contact(session, body, utcnow()), settings)


@router.put(
    "/escalation-contacts/{contact_id}",
    operation_id="putEscalationContact",
    summary="Replace an escalation contact (admin)",
    description="Replaces everything known of the contact; escalations already sent keep what they said.",
    responses=errors.responses(Unauthorized, Forbidden, NotFound, 413, InvalidInput, 503),
    dependencies=[ADMIN],
)
def put_contact(
    contact_id: ContactPath, body: ContactIn, session: WriteSession, settings: CurrentSettings
) -> ContactOut:
    return _out(service.replace_contact(session, contact_id, body, utcnow()), settings)


@router.delete(
    "/escalation-contacts/{contact_id}",
    operation_id="deleteEscalationContact",
    summary="Remove an escalation contact (admin)",
    description="Escalations already sent keep naming the contact in the complaint's history.",
    status_code=204,
    responses=errors.responses(Unauthorized, Forbidden, NotFound, InvalidInput, 503),
    dependencies=[ADMIN],
)
def delete_contact(contact_id: ContactPath, session: WriteSession) -> Response:
    service.remove_contact(session, contact_id)
    return Response(status_code=204)
