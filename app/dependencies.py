"""Dependencies shared by the routers."""

from typing import Annotated

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
    otherwise return everything."""
    if not request.query_params:
        return
    route = request.scope.get("route")
    known = _declared_query(request, getattr(route, "path_format", ""), request.method.lower())
    unknown = sorted(set(request.query_params) - known)
    if unknown:
        # The same problem as an unknown field in a body: type extra_forbidden, located, the input not echoed.
        raise RequestValidationError(
            [
                {"type": "extra_forbidden", "loc": ("query", name), "msg": "Extra inputs are not permitted"}
                for name in unknown
            ]
        )


def _declared_query(request: Request, path: str, method: str) -> frozenset[str]:
    cache: dict[tuple[str, str], frozenset[str]] = request.app.state.__dict__.setdefault("declared_query", {})
    if (path, method) not in cache:
        operation = request.app.openapi()["paths"].get(path, {}).get(method, {})
        cache[path, method] = frozenset(p["name"] for p in operation.get("parameters", []) if p.get("in") == "query")
    return cache[path, method]
