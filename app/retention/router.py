"""HTTP for a person's access and erasure requests (PIPL Art. 45, 47): admin keys only, each request audited."""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Path, Request, Response

from app import errors
from app.attachments.storage import BlobStore
from app.auth.dependencies import CurrentActor, require_role
from app.auth.models import Role
from app.dependencies import CurrentSettings, WriteSession
from app.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthorized
from app.retention import subjects
from app.retention.schemas import DataSubjectExport, ErasureIn, ErasureOut

router = APIRouter(prefix="/v1/data-subjects", tags=["data-subjects"], dependencies=[Depends(require_role(Role.admin))])

ZIP = "application/zip"
PhonePath = Annotated[
    str,
    Path(
        description="The person's phone number, in any spelling (`+86 138-1234-8000` finds `13812348000`).",
        examples=["13812348000"],
        max_length=40,
    ),
]


def _store(request: Request) -> BlobStore:
    store: BlobStore = request.app.state.attachments
    return store


@router.get(
    "/{phone}",
    operation_id="exportDataSubject",
    summary="Export a person's complaints (个人信息查阅、复制; admin)",
    description="Every complaint of the phone number, with its history and its attachments, as one JSON document: "
    "what tousu keeps of the person (PIPL Art. 45). Send `Accept: application/zip` for a ZIP archive of the same "
    "document (`complaints.json`) with the attachments' files (`attachments/<id>-<filename>`). Complaints already "
    "anonymised are no longer found by the phone. Each export is audited (who, when, which complaints; never the "
    "phone). 404 when no complaint has the phone.",
    responses={
        200: {
            "content": {ZIP: {"schema": {"type": "string", "format": "binary"}}},
            "description": "The export (JSON or ZIP).",
        },
        **errors.responses(Unauthorized, Forbidden, NotFound, InvalidInput, 503),
    },
)
def export_data_subject(
    phone: PhonePath,
    actor: CurrentActor,
    session: WriteSession,
    settings: CurrentSettings,
    request: Request,
    accept: Annotated[
        str | None, Header(description="`application/zip` for a ZIP with the files; JSON otherwise.")
    ] = None,
) -> DataSubjectExport:
    export, blobs = subjects.export(session, subjects.normalised(phone), actor, settings)
    if accept is not None and ZIP in accept.lower():
        # FastAPI sends a Response as it is; the declared model is what the JSON answer and its document show.
        return Response(  # type: ignore[return-value]
            _zipped(export, blobs, _store(request)),
            media_type=ZIP,
            headers={"Content-Disposition": 'attachment; filename="tousu-data-subject.zip"'},
        )
    return export


def _zipped(export: DataSubjectExport, blobs: dict[uuid.UUID, str], store: BlobStore) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("complaints.json", json.dumps(export.model_dump(mode="json"), ensure_ascii=False, indent=2))
        for each in export.complaints:
            for attachment in each.attachments:
                data = b"".join(store.chunks(blobs[attachment.id]))
                archive.writestr(f"attachments/{attachment.id}-{attachment.filename}", data)
    return out.getvalue()


@router.post(
    "/{phone}/erase",
    operation_id="eraseDataSubject",
    summary="Erase a person's data now (个人信息删除; admin)",
    description="Anonymises every complaint of the phone number now, as retention does after "
    "`TOUSU_RETENTION_DAYS` (PIPL Art. 47): the name, phone, e-mail, address and customer reference go, the "
    "attachments are deleted, and the contact is masked wherever the history, the webhook deliveries or stored "
    "answers quote it; numbers, dates, categories, clocks and amounts stay. All or nothing: while any of the "
    "person's complaints is still open the request is refused (409, the open ones listed in `open`) and nothing "
    "is erased. Audited with the reason (never the phone). 404 when no complaint has the phone.",
    responses=errors.responses(Unauthorized, Forbidden, NotFound, Conflict, 413, InvalidInput, 503),
)
def erase_data_subject(
    phone: PhonePath,
    body: ErasureIn,
    actor: CurrentActor,
    session: WriteSession,
    settings: CurrentSettings,
    request: Request,
) -> ErasureOut:
    return subjects.erase(session, subjects.normalised(phone), body.reason, actor, settings, _store(request))
