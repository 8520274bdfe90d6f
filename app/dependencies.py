"""Dependencies shared by the routers."""

from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy.orm import Session

from app.config import Settings
from app.db import read_session, write_session


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


CurrentSettings = Annotated[Settings, Depends(get_settings)]
ReadSession = Annotated[Session, Depends(read_session, scope="function")]
WriteSession = Annotated[Session, Depends(write_session, scope="function")]


async def reject_unknown_query(request: Request) -> None:
    """A query parameter no operation declares is refused (422), not silently ignored: a misspelt filter would
    otherwise return everything. An operation that takes no input at all (a health probe, the workflow) has
    nothing to misspell: it ignores the query string, and its document declares no 422."""
    if not request.query_params:
        return
    route = request.scope.get("route")
    known = _declared_query(request, getattr(route, "path_format", ""), request.method.lower())
    if known is None:
        return
    unknown = sorted(set(request.query_params) - known)
    if unknown:
        # The same problem as an unknown field in a body: type extra_forbidden, located, the input not echoed.
        raise RequestValidationError(
            [
                {"type": "extra_forbidden", "loc": ("query", name), "msg": "Extra inputs are not permitted"}
                for name in unknown
            ]
        )


def _declared_query(request: Request, path: str, method: str) -> frozenset[str] | None:
    """The query parameters the operation declares; None when it takes no input (no parameter, no body)."""
    cache: dict[tuple[str, str], frozenset[str] | None] = request.app.state.__dict__.setdefault("declared_query", {})
    if (path, method) not in cache:
        operation = request.app.openapi()["paths"].get(path, {}).get(method, {})
        parameters = operation.get("parameters", [])
        cache[path, method] = (
            frozenset(p["name"] for p in parameters if p.get("in") == "query") if takes_input(operation) else None
        )
    return cache[path, method]


def takes_input(operation: dict[str, Any]) -> bool:
    """Whether an operation of the OpenAPI document reads anything from the request but its API key."""
    return bool(operation.get("parameters")) or "requestBody" in operation
