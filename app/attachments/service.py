"""Attachments: receive an upload (its size, type and location checked), keep its bytes once, describe it, and
say who may read it. No HTTP here; the caller's transaction is only flushed."""

from __future__ import annotations

import hashlib
import io
import unicodedata
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.attachments import content
from app.attachments.exceptions import AttachmentTooLarge, UncleanableImage, UnsupportedAttachmentType
from app.attachments.models import Attachment
from app.attachments.schemas import AttachmentOut, download_path
from app.attachments.storage import CHUNK, BlobStore
from app.auth.models import Role
from app.auth.principal import NOTE_ROLES, Actor, Principal
from app.complaints import service as complaints
from app.complaints.models import Complaint, ComplaintEvent
from app.config import Settings
from app.db import utcnow
from app.errors import Forbidden, NotFound
from app.visibility import Viewer, contact_of

# Company staff who handle a complaint upload, read and mark; a unit's key reads what is marked visible to its unit.
WRITE_ROLES = NOTE_ROLES
READ_ROLES = NOTE_ROLES | {Role.store, Role.department}
ADDED, VISIBILITY_CHANGED = "attachment.added", "attachment.visibility_changed"
FILENAME_MAX = 255


@dataclass(frozen=True)
class Received:
    """An upload checked and ready to keep: the bytes to keep (a photo's without its location), their hash."""

    source: BinaryIO
    media_type: str
    size: int
    sha256: str


def may_write(principal: Principal) -> None:
    if principal.role not in WRITE_ROLES:
        raise Forbidden(f"role {principal.role} may not add attachments", allowed_roles=sorted(WRITE_ROLES))


def may_read(principal: Principal) -> None:
    if principal.role not in READ_ROLES:
        raise Forbidden(f"role {principal.role} may not read attachments", allowed_roles=sorted(READ_ROLES))


def receive(upload: BinaryIO, limit: int) -> Received:
    """Read the upload in chunks: refused (413) the moment it passes ``limit`` bytes, so at most ``limit`` and one
    chunk are read; then its type from its first bytes (415), and a photo's location removed."""
    digest, size, head = hashlib.sha256(), 0, b""
    upload.seek(0)
    while chunk := upload.read(CHUNK):
        size += len(chunk)
        if size > limit:
            raise AttachmentTooLarge(f"an attachment may be at most {limit} bytes", limit=limit)
        if len(head) < content.HEAD:
            head += chunk[: content.HEAD - len(head)]
        digest.update(chunk)
    media_type = content.sniff(head)
    if media_type is None:
        raise UnsupportedAttachmentType(
            "the content is none of the kept types (its first bytes decide, not its name or Content-Type)",
            accepted=list(content.ACCEPTED),
        )
    upload.seek(0)
    try:
        cleaned = content.without_location(media_type, upload)
    except content.Unreadable as refused:
        raise UncleanableImage(str(refused), field="file") from None
    if cleaned is None:
        upload.seek(0)
        return Received(upload, media_type, size, digest.hexdigest())
    return Received(io.BytesIO(cleaned), media_type, len(cleaned), hashlib.sha256(cleaned).hexdigest())


def keep(store: BlobStore, received: Received) -> None:
    """The bytes in the store, once: a content already there is not written again."""
    if not store.has(received.sha256):
        store.put(received.sha256, received.source)


def clean_filename(given: str | None) -> str:
    """The name without its folders or control characters, at most 255 characters; ``attachment`` if none is left."""
    name = (given or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in unicodedata.normalize("NFC", name) if unicodedata.category(c)[0] != "C").strip()
    if len(name) > FILENAME_MAX:
        stem, dot, extension = name.rpartition(".")
        keeps_extension = dot and stem and len(extension) <= 10
        name = stem[: FILENAME_MAX - len(extension) - 1] + "." + extension if keeps_extension else name
    return name[:FILENAME_MAX] or "attachment"


def check_complaint(session: Session, complaint_id: uuid.UUID, principal: Principal) -> None:
    """404 before anything is read of the upload, when the key may not see the complaint."""
    complaints.get(session, complaint_id, principal)


def add(
    session: Session,
    complaint_id: uuid.UUID,
    actor: Actor,
    received: Received,
    filename: str | None,
    settings: Settings,
) -> Attachment:
    """The attachment's row and its history entry, in the caller's transaction."""
    complaint = complaints.get(session, complaint_id, actor.principal, for_update=True, with_clocks=True)
    attachment = Attachment(
        complaint_id=complaint.id,
        filename=clean_filename(filename),
        media_type=received.media_type,
        size=received.size,
        sha256=received.sha256,
        visible_to_unit=False,
        uploaded_by=actor.name,
        api_key_id=actor.principal.key_id,
        uploaded_at=utcnow(),
    )
    session.add(attachment)
    session.flush()
    _record(session, complaint, actor, ADDED, attachment, settings)
    return attachment


def set_visibility(
    session: Session,
    complaint_id: uuid.UUID,
    attachment_id: uuid.UUID,
    actor: Actor,
    visible_to_unit: bool,
    settings: Settings,
) -> Attachment:
    complaint = complaints.get(session, complaint_id, actor.principal, for_update=True, with_clocks=True)
    may_write(actor.principal)
    attachment = _one(session, complaint, attachment_id, actor.principal)
    if attachment.visible_to_unit != visible_to_unit:
        attachment.visible_to_unit = visible_to_unit
        session.flush()
        _record(session, complaint, actor, VISIBILITY_CHANGED, attachment, settings)
    return attachment


def _record(
    session: Session, complaint: Complaint, actor: Actor, move: str, attachment: Attachment, settings: Settings
) -> None:
    """The history entry: who, when and what, never the bytes; the webhook made of it carries the path to them."""
    now = utcnow()
    complaint.updated_at = now
    entry = ComplaintEvent(
        complaint_id=complaint.id,
        move=move,
        from_state=complaint.state,
        to_state=complaint.state,
        actor=actor.name,
        api_key_id=actor.principal.key_id,
        at=now,
        payload={
            "attachment_id": str(attachment.id),
            "filename": attachment.filename,
            "media_type": attachment.media_type,
            "size": attachment.size,
            "sha256": attachment.sha256,
            "visible_to_unit": attachment.visible_to_unit,
            "download": download_path(complaint.id, attachment.id),
        },
    )
    session.add(entry)
    session.flush()
    complaints.keep_snapshot(session, complaint, entry.id, settings)


def _one(session: Session, complaint: Complaint, attachment_id: uuid.UUID, principal: Principal) -> Attachment:
    query = select(Attachment).where(Attachment.complaint_id == complaint.id, Attachment.id == attachment_id)
    attachment = session.scalar(Viewer.of(principal).attachments(query, Attachment.visible_to_unit))
    if attachment is None:
        raise NotFound(f"no attachment {attachment_id} of complaint {complaint.id}")
    return attachment


def listing(session: Session, complaint_id: uuid.UUID, principal: Principal, settings: Settings) -> list[AttachmentOut]:
    """The complaint's attachments, oldest first, as this key may read them."""
    complaint = complaints.get(session, complaint_id, principal)
    may_read(principal)
    viewer = Viewer.of(principal)
    query = select(Attachment).where(Attachment.complaint_id == complaint.id).order_by(Attachment.id)
    contact = contact_of(complaint)
    return [
        viewer.attachment(AttachmentOut.build(a, settings.tz), contact)
        for a in session.scalars(viewer.attachments(query, Attachment.visible_to_unit))
    ]


def shown(session: Session, attachment: Attachment, principal: Principal, settings: Settings) -> AttachmentOut:
    complaint = complaints.get(session, attachment.complaint_id, principal)
    return Viewer.of(principal).attachment(AttachmentOut.build(attachment, settings.tz), contact_of(complaint))


@dataclass(frozen=True)
class Download:
    filename: str
    media_type: str
    size: int
    sha256: str


def find(
    session: Session, complaint_id: uuid.UUID, attachment_id: uuid.UUID, principal: Principal, settings: Settings
) -> Download:
    """What a download sends: 404 for an attachment this key may not read, as for one that does not exist."""
    complaint = complaints.get(session, complaint_id, principal)
    may_read(principal)
    attachment = _one(session, complaint, attachment_id, principal)
    out = Viewer.of(principal).attachment(AttachmentOut.build(attachment, settings.tz), contact_of(complaint))
    return Download(out.filename, attachment.media_type, attachment.size, attachment.sha256)


def chunks(store: BlobStore, download: Download) -> Iterator[bytes]:
    return store.chunks(download.sha256)
