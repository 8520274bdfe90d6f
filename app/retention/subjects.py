"""A person's access and erasure requests (PIPL Art. 45, 47), found by their phone, and their audit. No HTTP."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.attachments import service as attachments
from app.attachments.models import Attachment
from app.attachments.storage import BlobStore
from app.auth.principal import Actor
from app.complaints import service as complaints
from app.complaints.contact import normalize_phone
from app.complaints.models import Complaint
from app.config import Settings
from app.db import utcnow
from app.errors import Conflict, InvalidInput, NotFound
from app.retention import service
from app.retention.models import DataSubjectRequest, RequestKind
from app.retention.schemas import DataSubjectExport, ErasureOut, SubjectComplaint

NONE_FOUND = "no complaint has this phone number"  # the same words whatever the number: they tell nothing


def normalised(phone: str) -> str:
    try:
        return normalize_phone(phone)
    except ValueError as exc:
        raise InvalidInput(str(exc), field="phone") from None


def _audit(
    session: Session, kind: RequestKind, actor: Actor, found: list[Complaint], reason: str | None = None
) -> DataSubjectRequest:
    entry = DataSubjectRequest(
        kind=kind,
        actor=actor.name,
        api_key_id=actor.principal.key_id,
        at=utcnow(),
        reason=reason,
        complaint_count=len(found),
        complaint_ids=[str(complaint.id) for complaint in found],
    )
    session.add(entry)
    session.flush()
    return entry


def _found(session: Session, phone: str, for_update: bool = False) -> list[Complaint]:
    found = service.of_phone(session, phone, for_update=for_update)
    if not found:
        raise NotFound(NONE_FOUND)
    return found


def export(
    session: Session, phone: str, actor: Actor, settings: Settings
) -> tuple[DataSubjectExport, dict[uuid.UUID, str]]:
    """The person's complaints as an administrator reads them, with history and attachments; and each attachment's
    blob (for the ZIP)."""
    found = _found(session, phone)
    principal = actor.principal
    shown = complaints.show(session, found, principal, settings)
    listed = [
        SubjectComplaint(
            complaint=out,
            history=complaints.history(session, complaint.id, principal, settings),
            attachments=attachments.listing(session, complaint.id, principal, settings),
        )
        for complaint, out in zip(found, shown, strict=True)
    ]
    ids = [complaint.id for complaint in found]
    blobs = {
        row.id: row.sha256
        for row in session.execute(select(Attachment.id, Attachment.sha256).where(Attachment.complaint_id.in_(ids)))
    }
    entry = _audit(session, RequestKind.export, actor, found)
    return DataSubjectExport(phone=phone, exported_at=entry.at.astimezone(settings.tz), complaints=listed), blobs


def erase(session: Session, phone: str, reason: str, actor: Actor, settings: Settings, store: BlobStore) -> ErasureOut:
    """Anonymise the person's complaints now; refused, with nothing changed, while any of them is open."""
    found = _found(session, phone, for_update=True)
    still_open = [complaint for complaint in found if service.is_open(complaint)]
    if still_open:
        raise Conflict(
            f"{len(still_open)} of the person's complaints are still open: close them first; nothing was erased",
            open_complaints=[{"id": str(c.id), "number": c.number, "state": c.state.value} for c in still_open],
        )
    entry = _audit(session, RequestKind.erase, actor, found, reason)
    service.anonymise_all(session, found, store, entry.at)
    return ErasureOut(
        erased_at=entry.at.astimezone(settings.tz),
        complaint_ids=[complaint.id for complaint in found],
        complaint_numbers=[complaint.number for complaint in found],
        request_id=entry.id,
    )
