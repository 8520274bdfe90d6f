"""The application factory."""

from __future__ import annotations

import gc
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import cache
from typing import Any

from fastapi import Depends, FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute

from app import api_docs, content_types, errors, migrate
from app.actions.router import router as actions_router
from app.attachments import storage as attachment_storage
from app.attachments.router import UPLOAD_PATH
from app.attachments.router import router as attachments_router
from app.auth.limiter import FailureLimiter
from app.auth.revocations import watch as watch_revocations
from app.auth.router import router as api_keys_router
from app.auth.service import KeyCache
from app.body_limit import BodyLimit
from app.complaints.router import clocks_router as complaint_clocks_router
from app.complaints.router import moves_router as complaint_moves_router
from app.complaints.router import router as complaints_router
from app.complaints.sweeper import Sweeper
from app.config import Settings
from app.db import Database
from app.dependencies import reject_unknown_query, takes_input
from app.directory.contacts.router import router as escalation_router
from app.directory.router import router as directory_router
from app.health.router import router as health_router
from app.housekeeping import Housekeeper
from app.logs import RequestContext
from app.metrics import exposition as metrics
from app.metrics.http import HttpMetrics
from app.progress import router as progress
from app.reports.router import router as reports_router
from app.retention.router import router as data_subjects_router
from app.retention.worker import Retainer
from app.sla import clocks
from app.sla.router import router as sla_router
from app.webhooks import openapi as webhooks_openapi
from app.webhooks.dispatcher import Dispatcher, warn_if_private_targets_allowed
from app.webhooks.router import router as webhooks_router

DESCRIPTION = """
tousu (投诉) runs the customer-complaint process of service businesses: registration, judgement, dispatch to the
responsible store or department, investigation, approval of the remedy, the written reply and the follow-up call.

Every request carries an API key (`Authorization: Bearer tsk_...`); every write names the person acting
(`X-Actor`). Errors are `application/problem+json` (RFC 9457).
"""


FORM_OVERHEAD_BYTES = 64 * 1024

TAGS = [
    {"name": "complaints", "description": "Register, find and read complaints; their history and notes."},
    {"name": "moves", "description": "One operation per move of the lifecycle, and the workflow that lists them."},
    {"name": "clocks", "description": "A complaint's deadlines (SLA clocks), explained day by day."},
    {"name": "calendar", "description": "Working days, holidays and an administrator's overrides."},
    {"name": "directory", "description": "Stores and departments: their names, a store's region, active or not."},
    {
        "name": "escalation",
        "description": "The escalation ladder (which positions each trigger reaches) and the people on it: store "
        "managers, region managers, the customer-service supervisor, the general manager.",
    },
    {"name": "webhooks", "description": "Endpoints that receive signed events, and their deliveries."},
    {"name": "reports", "description": "The summary analysis of a period, as JSON, CSV or a chart."},
    {"name": "actions", "description": "Corrective actions on recurring causes of complaints (改善对策)."},
    {"name": "keys", "description": "API keys (admin)."},
    {
        "name": "data-subjects",
        "description": "A person's access and erasure requests (PIPL): their complaints exported or anonymised now.",
    },
    {"name": "health", "description": "Liveness and readiness probes; no key needed."},
]


def camel_case_id(route: APIRoute) -> str:
    """An operation without an explicit ``operation_id`` is named after its function: ``read_day`` is ``readDay``."""
    first, *rest = route.name.split("_")
    return first + "".join(word.capitalize() for word in rest)


@cache
def freeze_what_start_up_made() -> None:
    """What start-up made (modules, routes, schemas: some 150,000 objects) lives as long as the process. Frozen, it
    is no longer walked by each full collection, which otherwise took 100-150 ms of whichever request set it off
    (every other summary by store). Once a process: asking gc whether it was done walks every frozen object (23 ms
    for a process that starts the app again and again, as the tests do)."""
    gc.freeze()


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.db = Database.from_settings(settings)
        metrics.watch(app.state.db)
        app.state.revocations = revocations = watch_revocations(app.state.keys, app.state.db.listening)
        # One process on the embedded SQLite file: it also sweeps and keeps house, unless a worker does.
        sweeper = Sweeper(app.state.db, settings) if settings.sweep_in_serve else None
        housekeeper = Housekeeper(app.state.db, settings) if settings.sweep_in_serve else None
        retainer = Retainer(app.state.db, settings) if settings.sweep_in_serve else None
        for job in (sweeper, housekeeper, retainer):
            if job is not None:
                job.start()
        dispatcher = Dispatcher(app.state.db, settings) if settings.dispatch_in_serve else None
        if dispatcher is not None:
            dispatcher.start()
        freeze_what_start_up_made()
        try:
            yield
        finally:
            if dispatcher is not None:
                dispatcher.stop()
            for job in (sweeper, housekeeper, retainer):
                if job is not None:
                    job.stop()
            if revocations is not None:
                revocations.stop()
            app.state.db.dispose()
            metrics.leave()

    app = FastAPI(
        title="tousu",
        version="1.0.0",
        summary="Complaint handling (投诉处理) for customer-service departments",
        description=DESCRIPTION,
        lifespan=lifespan,
        dependencies=[Depends(reject_unknown_query)],
        openapi_tags=TAGS,
        generate_unique_id_function=camel_case_id,
        docs_url=None,  # /docs and /redoc load nothing from a CDN: app.api_docs
        redoc_url=None,
    )
    app.add_middleware(content_types.JsonBodies)
    # An upload's body is the file and the form's own lines around it (boundaries, part headers).
    uploads = {UPLOAD_PATH: settings.max_attachment_bytes + FORM_OVERHEAD_BYTES}
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes, uploads=uploads)
    app.add_middleware(RequestContext)
    app.add_middleware(HttpMetrics)  # outermost: counts and times every answer, a 413 or 415 included
    clocks.policy(settings)  # a bad TOUSU_SLA_POLICY_FILE stops the start, not the first registration
    app.state.settings = settings
    app.state.attachments = attachment_storage.from_settings(settings)
    app.state.keys = KeyCache(settings.key_cache_seconds)
    app.state.auth_failures = FailureLimiter(settings.auth_failure_burst, settings.auth_failure_per_minute)
    app.state.migration_head = migrate.head(settings)
    errors.install(app)
    app.include_router(health_router)
    app.include_router(complaints_router)
    app.include_router(complaint_moves_router)
    app.include_router(complaint_clocks_router)
    app.include_router(attachments_router)
    app.include_router(sla_router)
    app.include_router(directory_router)
    app.include_router(escalation_router)
    app.include_router(api_keys_router)
    app.include_router(webhooks_router)
    webhooks_openapi.document(app)
    warn_if_private_targets_allowed(settings)
    app.include_router(reports_router)
    app.include_router(actions_router)
    progress.install(app, settings)
    app.include_router(data_subjects_router)
    api_docs.install(app)
    # FastAPI's way to shape the document is to replace the app's openapi method.
    app.openapi = lambda: openapi_document(app)  # type: ignore[method-assign]
    return app


def _forms_named_plainly(document: dict[str, Any]) -> dict[str, Any]:
    """FastAPI names a form's schema ``Body_<operation>``: here ``<Operation>Form``, a plain name for generators."""
    renamed = {
        name: name[5].upper() + name[6:] + "Form"
        for name in document["components"]["schemas"]
        if name.startswith("Body_")
    }
    if not renamed:
        return document
    text = json.dumps(document)
    for old, new in renamed.items():
        text = text.replace(f'"#/components/schemas/{old}"', f'"#/components/schemas/{new}"')
    document = json.loads(text)
    schemas = document["components"]["schemas"]
    for old, new in renamed.items():
        schemas[new] = {**schemas.pop(old), "title": new}
    return document


def openapi_document(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document, with every error described as problem+json (its own 422 included)."""
    if app.openapi_schema:
        return app.openapi_schema
    document = get_openapi(
        title=app.title,
        version=app.version,
        summary=app.summary,
        description=app.description,
        routes=app.routes,
        webhooks=app.webhooks.routes,
        tags=app.openapi_tags,
    )
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas.update(errors.problem_schemas("#/components/schemas/{model}"))
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    document = _forms_named_plainly(document)
    schemas = document["components"]["schemas"]
    for path in document["paths"].values():
        for operation in path.values():
            responses = operation["responses"]
            if takes_input(operation):
                # Any input can be invalid, and an unknown query parameter is refused (reject_unknown_query).
                responses.setdefault("422", {"description": "The request does not match the schema"})
            else:
                responses.pop("422", None)
            if "401" in responses:
                # A client that keeps failing to authenticate is stopped before its key is looked at.
                responses.setdefault("429", {"description": errors.TooManyFailures.title})
            if "requestBody" in operation:
                responses.setdefault("415", {"description": content_types.REFUSED})
            for status, response in responses.items():
                if status.startswith(("4", "5")):
                    response["content"] = {errors.PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}
                response.setdefault("headers", {}).update(errors.response_headers(status))
    for item in document.get("webhooks", {}).values():
        for operation in item.values():
            # A receiver's answer is read for its status alone (2xx, 410 or anything else: see the description).
            operation["responses"] = {"2XX": {"description": "Received"}}
    app.openapi_schema = document
    return document
