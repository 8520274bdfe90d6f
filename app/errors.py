"""Problem details (RFC 9457): every error this service returns is ``application/problem+json``."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import compile_path

from app.logs import REQUEST_ID

if TYPE_CHECKING:
    from fastapi import FastAPI

log = logging.getLogger("tousu.errors")

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "https://tousu.dev/problems/"


class FieldError(BaseModel):
    """One way the request does not match the schema (the input itself is not echoed)."""

    loc: list[str | int] = Field(description="Where: `body`, `query`, `path` or `header`, then the field's path.")
    msg: str
    type: str = Field(examples=["missing", "extra_forbidden", "string_too_long"])


class Problem(BaseModel):
    """An error, as RFC 9457 describes it. The extension members after `instance` are sent by the problem types
    that name them, and absent otherwise."""

    model_config = ConfigDict(extra="allow")

    type: str = Field("about:blank", examples=[PROBLEM_BASE + "illegal-move"])
    title: str = Field(examples=["Move not allowed"])
    status: int = Field(examples=[409])
    detail: str | None = Field(None, examples=["reject is not allowed in state investigating"])
    instance: str | None = None
    state: str | None = Field(None, description="illegal-move: the complaint's current state.")
    allowed_moves: list[str] | None = Field(
        None, description="illegal-move, guard-refused: the moves this API key may make now.", examples=[["propose"]]
    )
    guard: str | None = Field(None, description="guard-refused: the guard that refused the move.")
    allowed_roles: list[str] | None = Field(None, description="forbidden: the roles that may do this.")
    current_version: int | None = Field(None, description="precondition-failed: the complaint's version now.")
    etag: str | None = Field(None, description="precondition-failed: the complaint's ETag now.")
    field: str | None = Field(None, description="invalid-input, not-own-unit: the input refused.")
    idempotency_key: str | None = Field(None, description="conflict: the Idempotency-Key still being processed.")
    open_complaints: list[dict[str, str]] | None = Field(
        None, description="conflict (an erasure refused): the person's complaints still open (id, number, state)."
    )
    retry_after: int | None = Field(None, description="too-many-failures: seconds to wait (also in Retry-After).")
    errors: list[FieldError] | None = Field(None, description="validation: each way the request does not match.")
    error_id: str | None = Field(None, description="internal: quote it to the operator; the log has the cause.")


def problem_schemas(ref_template: str) -> dict[str, Any]:
    """The Problem schema and those it refers to, for the document's components."""
    schema = Problem.model_json_schema(ref_template=ref_template)
    return {"Problem": schema, **schema.pop("$defs", {})}


_HEADERS: dict[str, dict[str, Any]] = {
    "X-Request-ID": {
        "description": "The request's id in tousu's logs: the caller's own X-Request-ID if it sent a valid one.",
        "required": True,
        "schema": {"type": "string"},
    },
    "Retry-After": {"description": "Seconds to wait before retrying.", "required": True, "schema": {"type": "integer"}},
    "ETag": {
        "description": "The complaint's current version, for If-Match.",
        "required": True,
        "schema": {"type": "string", "examples": ['"3"']},
    },
    "Location": {"description": "The new complaint's URL.", "required": True, "schema": {"type": "string"}},
    "Idempotent-Replayed": {
        "description": "`true` when this answer replays the first request with the same Idempotency-Key.",
        "required": False,
        "schema": {"type": "string", "enum": ["true"]},
    },
}


def response_headers(status: str, *names: str) -> dict[str, dict[str, Any]]:
    """The headers a response with this status always carries (X-Request-ID; Retry-After on 429 and 503; ETag on
    412), and the named ones."""
    names = ("X-Request-ID", *names)
    if status in ("429", "503"):
        names += ("Retry-After",)
    if status == "412":
        names += ("ETag",)
    return {name: _HEADERS[name] for name in names}


class TousuError(Exception):
    """A domain error the client sees: its status, a problem type and any extension members."""

    status: int = 400
    slug: str = "bad-request"
    title: str = "Bad request"

    def __init__(self, detail: str, **extensions: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extensions = extensions

    def headers(self) -> dict[str, str] | None:
        return None


class Unauthorized(TousuError):
    status, slug, title = 401, "unauthorized", "Missing or invalid API key"

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": 'Bearer realm="tousu"'}


class Forbidden(TousuError):
    status, slug, title = 403, "forbidden", "This API key's role may not do this"


class NotOwnUnit(Forbidden):
    slug, title = "not-own-unit", "A store key speaks for its own store only"


class NotFound(TousuError):
    status, slug, title = 404, "not-found", "Not found"


class IllegalMove(TousuError):
    status, slug, title = 409, "illegal-move", "Move not allowed in the complaint's current state"


class GuardRefused(TousuError):
    status, slug, title = 409, "guard-refused", "A guard of this move refused it"


class Conflict(TousuError):
    status, slug, title = 409, "conflict", "Conflict"


class PreconditionFailed(TousuError):
    status, slug, title = 412, "precondition-failed", "The complaint changed since the version in If-Match"

    def headers(self) -> dict[str, str]:
        return {"ETag": self.extensions["etag"]}


class PreconditionRequired(TousuError):
    status, slug, title = 428, "precondition-required", "Send If-Match with the complaint's ETag"


class InvalidInput(TousuError):
    status, slug, title = 422, "invalid-input", "Invalid input"


class TooManyFailures(TousuError):
    status, slug, title = 429, "too-many-failures", "Too many failed authentications from this address"

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.extensions["retry_after"])}


def problem_response(
    status: int,
    title: str,
    *,
    type_: str = "about:blank",
    detail: str | None = None,
    headers: dict[str, str] | None = None,
    **extensions: Any,
) -> JSONResponse:
    body: dict[str, Any] = {"type": type_, "title": title, "status": status}
    if detail is not None:
        body["detail"] = detail
    body.update(extensions)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _validation_errors(errors: Sequence[Any]) -> list[dict[str, Any]]:
    # The offending input is not echoed: it may hold a complainant's phone number or name.
    return [{"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")} for e in errors]


async def _tousu_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, TousuError)
    return problem_response(
        exc.status,
        exc.title,
        type_=PROBLEM_BASE + exc.slug,
        detail=exc.detail,
        headers=exc.headers(),
        **exc.extensions,
    )


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    from fastapi.exceptions import RequestValidationError  # imported with the app; a tousu command needs neither

    assert isinstance(exc, RequestValidationError)
    if exc.errors() and all(_if_match_missing(error) for error in exc.errors()):
        # A write that requires If-Match (a correction) sent without it: 428, as RFC 6585 says, not a schema error.
        refused = PreconditionRequired("send If-Match with the ETag of the complaint as last read", field="If-Match")
        return await _tousu_error(_request, refused)
    return problem_response(
        422,
        "Invalid request",
        type_=PROBLEM_BASE + "validation",
        detail="The request does not match the schema.",
        errors=_validation_errors(exc.errors()),
    )


def _if_match_missing(error: Any) -> bool:
    return error.get("type") == "missing" and tuple(error.get("loc", ())) == ("header", "If-Match")


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400:
        # FastAPI's only 400: a body it could not decode (not UTF-8). Malformed JSON is 422, so is this.
        return problem_response(
            422,
            "Invalid request",
            type_=PROBLEM_BASE + "validation",
            detail="The request body is not JSON in UTF-8.",
            errors=[{"loc": ["body"], "msg": "the body could not be decoded", "type": "json_invalid"}],
        )
    title = HTTPStatus(exc.status_code).phrase
    detail = exc.detail if isinstance(exc.detail, str) and exc.detail != title else None
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = ", ".join(_allowed_methods(request))
    return problem_response(exc.status_code, title, detail=detail, headers=headers or None)


def _allowed_methods(request: Request) -> list[str]:
    """Every method of every operation at this path (Starlette names only the first route's)."""
    methods: set[str] = set()
    for path, operations in request.app.openapi()["paths"].items():
        if compile_path(path)[0].match(request.url.path):
            methods.update(method.upper() for method in operations)
    if "GET" in methods:
        methods.add("HEAD")
    return sorted(methods)


async def _database_unavailable(request: Request, exc: Exception) -> JSONResponse:
    unavailable = isinstance(exc, sa_exc.OperationalError | sa_exc.InterfaceError | sa_exc.TimeoutError)
    if not unavailable and not (isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated):
        return await _unhandled(request, exc)
    # The message names the failure (connection refused, database is locked), never a statement's parameters.
    log.warning("database unavailable: %s", type(exc.__cause__ or exc).__name__)
    retry_after = request.app.state.settings.retry_after_seconds
    return problem_response(
        503,
        "Database unavailable",
        type_=PROBLEM_BASE + "database-unavailable",
        detail="The database is unreachable or busy. Nothing was changed; retry after Retry-After seconds.",
        headers={"Retry-After": str(retry_after)},
    )


async def _concurrent_change(_request: Request, _exc: Exception) -> JSONResponse:
    # A uniqueness or version check at commit: another request changed the same thing first.
    return problem_response(
        409,
        "Conflict",
        type_=PROBLEM_BASE + "conflict",
        detail="Another request changed this at the same moment. Nothing was changed; read it again and retry.",
    )


async def _unhandled(_request: Request, exc: Exception) -> JSONResponse:
    error_id = uuid.uuid4().hex
    log.error("unhandled error", exc_info=exc, extra={"error_id": error_id})
    request_id = REQUEST_ID.get()
    return problem_response(
        500,
        "Internal Server Error",
        type_=PROBLEM_BASE + "internal",
        headers={"X-Request-ID": request_id} if request_id else None,
        error_id=error_id,
    )


def install(app: FastAPI) -> None:
    from fastapi.exceptions import RequestValidationError  # see _validation_error

    app.add_exception_handler(TousuError, _tousu_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(sa_exc.IntegrityError, _concurrent_change)
    app.add_exception_handler(StaleDataError, _concurrent_change)
    app.add_exception_handler(sa_exc.DBAPIError, _database_unavailable)
    app.add_exception_handler(sa_exc.TimeoutError, _database_unavailable)
    app.add_exception_handler(Exception, _unhandled)


def responses(*errors: type[TousuError] | int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for a route: each error status it can answer with, as problem+json."""
    described: dict[int, list[str]] = {}
    for err in errors:
        if isinstance(err, int):
            described.setdefault(err, []).append(_GENERIC.get(err, "Error"))
        else:
            described.setdefault(err.status, []).append(err.title)
    return {
        status: {
            "description": "; ".join(dict.fromkeys(titles)),
            "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for status, titles in sorted(described.items())
    }


_GENERIC = {
    412: "The complaint changed since the version in If-Match",
    413: "Request body too large",
    422: "The request does not match the schema",
    503: "The database is unavailable; retry later",
}
