"""HTTP for attachments: upload, list, download, and mark internal or visible to the responsible unit."""

from __future__ import annotations

import uuid
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, File, Request, UploadFile, status
from fastapi.responses import StreamingResponse
from pydantic import Field

from app import errors
from app.attachments import content, service
from app.attachments.exceptions import AttachmentTooLarge, UncleanableImage, UnsupportedAttachmentType
from app.attachments.schemas import AttachmentOut, AttachmentVisibility
from app.attachments.storage import BlobStore
from app.auth.dependencies import CurrentActor, CurrentPrincipal
from app.dependencies import CurrentSettings, ReadSession, WriteSession
from app.errors import Forbidden, NotFound, Unauthorized

router = APIRouter(prefix="/v1", tags=["complaints"])

ComplaintId = Annotated[uuid.UUID, Field(description="The complaint's stable id.")]
AttachmentId = Annotated[uuid.UUID, Field(description="The attachment's id.")]
UPLOAD_PATH = "/v1/complaints/{complaint_id}/attachments"


def _store(request: Request) -> BlobStore:
    store: BlobStore = request.app.state.attachments
    return store


@router.post(
    "/complaints/{complaint_id}/attachments",
    operation_id="addComplaintAttachment",
    status_code=status.HTTP_201_CREATED,
    summary="Attach evidence: a photo, a receipt, a recording",
    description="Upload one file as `multipart/form-data`, field `file` (`curl -F file=@receipt.jpg`). Its type is "
    f"read from its first bytes, never from its name or Content-Type: {', '.join(content.ACCEPTED)}; anything "
    "else is 415. Larger than the limit (`TOUSU_MAX_ATTACHMENT_BYTES`, default 10 MiB) is 413, stopped as soon as "
    "the limit is passed. A photo's location (EXIF GPS, and any XMP packet) is removed before it is kept; a HEIC "
    "photo that carries EXIF is refused (422): send it as JPEG. The bytes are kept once however often they are "
    "uploaded (by their SHA-256); each upload is an attachment of its own, and an entry `attachment.added` of the "
    "history. A new attachment is internal: `PATCH` it with `visible_to_unit: true` to show it to the unit "
    "(store or department) the complaint is dispatched to.",
    response_model=AttachmentOut,
    responses=errors.responses(
        Unauthorized, Forbidden, NotFound, AttachmentTooLarge, UnsupportedAttachmentType, UncleanableImage, 503
    ),
)
def add_attachment(
    complaint_id: ComplaintId,
    file: Annotated[UploadFile, File(description="The file: JPEG, PNG, WebP, HEIC, PDF, MP3, M4A or WAV.")],
    actor: CurrentActor,
    reading: ReadSession,
    session: WriteSession,
    settings: CurrentSettings,
    request: Request,
) -> AttachmentOut:
    service.may_write(actor.principal)
    service.check_complaint(reading, complaint_id, actor.principal)
    received = service.receive(file.file, settings.max_attachment_bytes)
    service.keep(_store(request), received)
    attachment = service.add(session, complaint_id, actor, received, file.filename, settings)
    return AttachmentOut.build(attachment, settings.tz)


@router.get(
    "/complaints/{complaint_id}/attachments",
    operation_id="listComplaintAttachments",
    summary="List a complaint's attachments",
    description="Oldest first: name, type, size, SHA-256, whether it is visible to the responsible unit, who "
    "uploaded it and when, and the path of its bytes. A store or department key lists only those "
    "marked visible to its unit, of complaints dispatched to it, with the complainant's details masked in file names.",
    response_model=list[AttachmentOut],
    responses=errors.responses(Unauthorized, Forbidden, NotFound, 422, 503),
)
def list_attachments(
    complaint_id: ComplaintId, principal: CurrentPrincipal, session: ReadSession, settings: CurrentSettings
) -> list[AttachmentOut]:
    return service.listing(session, complaint_id, principal, settings)


BINARY = {"schema": {"type": "string", "format": "binary"}}
DOWNLOAD_HEADERS = {
    "Content-Disposition": {
        "description": "`attachment`, with the name it was uploaded with (RFC 6266; the UTF-8 name in `filename*`).",
        "required": True,
        "schema": {
            "type": "string",
            "examples": ["attachment; filename=\"__.jpg\"; filename*=UTF-8''%E5%B0%8F%E7%A5%A8.jpg"],
        },
    },
    "X-Content-Type-Options": {
        "description": "`nosniff`: the type is the one tousu read from the content.",
        "required": True,
        "schema": {"type": "string", "enum": ["nosniff"]},
    },
    "ETag": {
        "description": "The SHA-256 of the bytes, quoted.",
        "required": True,
        "schema": {"type": "string"},
    },
}


@router.get(
    "/complaints/{complaint_id}/attachments/{attachment_id}",
    operation_id="downloadComplaintAttachment",
    summary="Download an attachment's bytes",
    description="The bytes as kept (a photo without its location), with the type read from them, as a download "
    "(`Content-Disposition: attachment`, `X-Content-Type-Options: nosniff`). An attachment a store or department "
    "key may not read is 404, as one that does not exist.",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "The attachment's bytes, with the type tousu read from them as `Content-Type` (a client "
            "that does not look at it reads them as `application/octet-stream`)",
            "content": {"application/octet-stream": BINARY, **dict.fromkeys(content.ACCEPTED, BINARY)},
            "headers": {**errors.response_headers("200"), **DOWNLOAD_HEADERS},
        },
        **errors.responses(Unauthorized, Forbidden, NotFound, 422, 503),
    },
)
def download_attachment(
    complaint_id: ComplaintId,
    attachment_id: AttachmentId,
    principal: CurrentPrincipal,
    session: ReadSession,
    settings: CurrentSettings,
    request: Request,
) -> StreamingResponse:
    found = service.find(session, complaint_id, attachment_id, principal, settings)
    headers = {
        "Content-Disposition": _disposition(found.filename),
        "Content-Length": str(found.size),
        "X-Content-Type-Options": "nosniff",
        "ETag": f'"{found.sha256}"',
        "Cache-Control": "private, no-store",
    }
    return StreamingResponse(_store(request).chunks(found.sha256), media_type=found.media_type, headers=headers)


def _disposition(filename: str) -> str:
    """RFC 6266: an ASCII name for old clients, the UTF-8 name (RFC 8187) for the others."""
    fallback = "".join(c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in filename)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


@router.patch(
    "/complaints/{complaint_id}/attachments/{attachment_id}",
    operation_id="setComplaintAttachmentVisibility",
    summary="Mark an attachment internal or visible to the responsible unit",
    description="`visible_to_unit: true` lets the unit the complaint is dispatched to list and download it; "
    "`false` makes it internal again. A change is an entry `attachment.visibility_changed` of the history.",
    response_model=AttachmentOut,
    responses=errors.responses(Unauthorized, Forbidden, NotFound, 413, 422, 503),
)
def set_attachment_visibility(
    complaint_id: ComplaintId,
    attachment_id: AttachmentId,
    body: AttachmentVisibility,
    actor: CurrentActor,
    session: WriteSession,
    settings: CurrentSettings,
) -> AttachmentOut:
    attachment = service.set_visibility(session, complaint_id, attachment_id, actor, body.visible_to_unit, settings)
    return service.shown(session, attachment, actor.principal, settings)
