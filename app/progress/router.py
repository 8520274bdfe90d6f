"""HTTP for progress links: a handler issues and revokes them (/v1); the customer reads the page (/p/{token}, no
key, outside the OpenAPI document: docs/integrators.md describes it)."""

from __future__ import annotations

import base64
import hashlib
import uuid
from collections.abc import Callable
from datetime import datetime
from pathlib import Path as FilePath
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Path, Request, Response
from fastapi.responses import JSONResponse
from fastapi.templating import Jinja2Templates

from app import errors
from app.auth.dependencies import CurrentActor, require_role
from app.auth.limiter import FailureLimiter
from app.auth.principal import HANDLING_ROLES
from app.config import Settings
from app.db import utcnow
from app.dependencies import CurrentSettings, ReadSession, WriteSession
from app.errors import Forbidden, InvalidInput, NotFound, Unauthorized
from app.progress import service
from app.progress.schemas import ProgressLinkOut
from app.types import in_local_time

api_router = APIRouter(prefix="/v1", tags=["complaints"])
page_router = APIRouter(include_in_schema=False)

TEMPLATES = FilePath(__file__).with_name("templates")
templates = Jinja2Templates(directory=TEMPLATES)
CSS = (TEMPLATES / "progress.css").read_text(encoding="utf-8")
# The page's one style block is allowed by its hash: no script, image, frame or other origin is.
CSS_HASH = "sha256-" + base64.b64encode(hashlib.sha256(CSS.encode()).digest()).decode()
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": f"default-src 'none'; style-src '{CSS_HASH}'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'",
    "Vary": "Accept",
}
NOT_FOUND = "no such progress link, or it was revoked or has expired"

ComplaintPath = Annotated[uuid.UUID, Path(description="The complaint's stable id.")]
HANDLERS = Depends(require_role(*HANDLING_ROLES))


@api_router.post(
    "/complaints/{complaint_id}/progress-link",
    operation_id="issueProgressLink",
    summary="Issue the customer's progress link (handler and above)",
    description="A new link (`<TOUSU_PUBLIC_BASE_URL>/p/<token>`, 128 random bits) to text the customer, shown this "
    "once; the complaint's link before, if any, stops working. It works until 90 days after the complaint closes.",
    status_code=201,
    responses=errors.responses(Unauthorized, Forbidden, NotFound, InvalidInput, 503),
    dependencies=[HANDLERS],
)
def issue_link(
    complaint_id: ComplaintPath, actor: CurrentActor, session: WriteSession, settings: CurrentSettings
) -> ProgressLinkOut:
    return in_local_time(service.issue(session, complaint_id, actor, utcnow(), settings), settings.tz)


@api_router.delete(
    "/complaints/{complaint_id}/progress-link",
    operation_id="revokeProgressLink",
    summary="Revoke the customer's progress link (handler and above)",
    description="The complaint's link stops working at once (its page answers 404 as for a link never issued); "
    "issue another to give the customer a new one.",
    status_code=204,
    responses=errors.responses(Unauthorized, Forbidden, NotFound, InvalidInput, 503),
    dependencies=[HANDLERS],
)
def revoke_link(complaint_id: ComplaintPath, actor: CurrentActor, session: WriteSession) -> Response:
    service.revoke(session, complaint_id, actor, utcnow())
    return Response(status_code=204)


def _local(settings: Settings) -> Callable[[datetime], str]:
    def shown(moment: datetime) -> str:
        return moment.astimezone(settings.tz).strftime("%Y-%m-%d %H:%M")

    return shown


def _wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "")


def _page(request: Request, settings: Settings, name: str, status: int, **context: Any) -> Response:
    return templates.TemplateResponse(
        request,
        name,
        {"css": CSS, "service_phone": settings.service_phone, "local": _local(settings), **context},
        status_code=status,
        headers=PAGE_HEADERS,
    )


@page_router.get("/p/{token}")
def progress_page(token: str, request: Request, session: ReadSession, settings: CurrentSettings) -> Response:
    """The customer's page of their complaint; JSON for ``Accept: application/json``."""
    limiter: FailureLimiter = request.app.state.progress_requests
    host = request.client.host if request.client else None
    if (retry_after := limiter.retry_after(host)) is not None:
        headers = {**PAGE_HEADERS, "Retry-After": str(retry_after)}
        if _wants_json(request):
            detail = f"too many requests from this address; retry after {retry_after} s"
            return errors.problem_response(429, "Too Many Requests", detail=detail, headers=headers)
        response = _page(request, settings, "busy.html", 429, retry_after=retry_after)
        response.headers["Retry-After"] = str(retry_after)
        return response
    limiter.failed(host)  # every request spends from the address's bucket, a found page too
    progress = service.read(session, token, utcnow(), settings)
    if progress is None:
        if _wants_json(request):
            return errors.problem_response(404, NotFound.title, detail=NOT_FOUND, headers=PAGE_HEADERS)
        return _page(request, settings, "not_found.html", 404)
    if _wants_json(request):
        shown = in_local_time(progress, settings.tz)
        return JSONResponse(shown.model_dump(mode="json"), headers=PAGE_HEADERS)
    return _page(request, settings, "progress.html", 200, p=progress)


def install(app: FastAPI, settings: Settings) -> None:
    app.state.progress_requests = FailureLimiter(
        settings.progress_requests_burst, settings.progress_requests_per_minute
    )
    app.include_router(api_router)
    app.include_router(page_router)
