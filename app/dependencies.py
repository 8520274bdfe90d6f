"""Dependencies shared by the routers, and the one hand-off of a request's transaction to the thread pool."""

from collections.abc import Callable, Mapping
from typing import Annotated, Any, Concatenate, ParamSpec, TypeVar

from fastapi import Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
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
    known = declared_query(request.app, request.scope.get("route"), request.method)
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


def declared_query(app: Any, route: Any, method: str) -> frozenset[str] | None:
    """The query parameters the route's operation declares; None when it takes no input (no parameter, no body), or
    is left out of the document. Read from the route's dependencies, from which FastAPI writes the operation's
    parameters into the document (tests/test_openapi.py holds the two to each other): building the whole document
    to look them up cost the first request with a query string some 0.6 s of CPU in every process."""
    cache: dict[tuple[str, str], frozenset[str] | None] = app.state.__dict__.setdefault("declared_query", {})
    if not isinstance(route, APIRoute) or not route.include_in_schema:
        return None
    if (key := (route.path_format, method)) not in cache:
        names: set[str] = set()
        takes_input = False
        dependants = [route.dependant]
        while dependants:
            dependant = dependants.pop()
            fields = [*dependant.path_params, *dependant.query_params, *dependant.header_params]
            takes_input |= bool(fields or dependant.cookie_params or dependant.body_params)
            for field in dependant.query_params:
                model = field.field_info.annotation
                if isinstance(model, type) and issubclass(model, BaseModel):  # a model of query parameters
                    names.update(each.alias or name for name, each in model.model_fields.items())
                else:
                    names.add(field.alias)
            dependants.extend(dependant.dependencies)
        cache[key] = frozenset(names) if takes_input else None
    return cache[key]


def takes_input(operation: dict[str, Any]) -> bool:
    """Whether an operation of the OpenAPI document reads anything from the request but its API key."""
    return bool(operation.get("parameters")) or "requestBody" in operation
