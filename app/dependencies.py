"""Dependencies shared by the routers, and the one hand-off of a request's transaction to the thread pool."""

from collections.abc import Callable, Mapping
from typing import Annotated, Any, Concatenate, ParamSpec, TypeVar

from fastapi import Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, TypeAdapter
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.db import read_session, transaction, write_session
from app.threads import in_thread

P = ParamSpec("P")
T = TypeVar("T")


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


CurrentSettings = Annotated[Settings, Depends(get_settings)]
ReadSession = Annotated[Session, Depends(read_session, scope="function")]
WriteSession = Annotated[Session, Depends(write_session, scope="function")]


# A request's transaction in one hand-off to the thread pool, for the routes every agent screen and every move calls.
# ReadSession and WriteSession, with a sync endpoint, cost four hand-offs (the session opened, the endpoint, FastAPI's
# validation of what it returned, the session closed), each more CPU than the work of a read by id; here the
# transaction and the answer's JSON are made in one, in the caller's context (its request id). The transaction is
# the same: committed when ``work`` returns, rolled back when it raises, before anything is sent.


async def reading(request: Request, work: Callable[Concatenate[Session, P], T], *args: P.args, **kwargs: P.kwargs) -> T:
    """``work(session, *args)`` in a read transaction, on the thread pool."""
    return await _in_transaction(request.app.state.db.readers, work, *args, **kwargs)


async def writing(request: Request, work: Callable[Concatenate[Session, P], T], *args: P.args, **kwargs: P.kwargs) -> T:
    """``work(session, *args)`` in a write transaction, on the thread pool."""
    return await _in_transaction(request.app.state.db.writers, work, *args, **kwargs)


async def _in_transaction(
    factory: sessionmaker[Session], work: Callable[Concatenate[Session, P], T], *args: P.args, **kwargs: P.kwargs
) -> T:
    def run() -> T:
        with transaction(factory) as session:
            return work(session, *args, **kwargs)

    return await in_thread(run)


def json_response(
    shown: BaseModel | list[Any], status_code: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    """The answer as JSON, serialized from its model as FastAPI would (the route declares the model for the
    document), without FastAPI validating it again: it was made by the model."""
    body = _LIST.dump_json(shown) if isinstance(shown, list) else shown.model_dump_json().encode()
    return Response(body, status_code, headers, media_type="application/json")


_LIST: TypeAdapter[list[Any]] = TypeAdapter(list[Any])


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
