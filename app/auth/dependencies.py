"""Authentication for routes: ``Authorization: Bearer <key>`` and the ``X-Actor`` header."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import unquote

from fastapi import Depends, Header, Request
from fastapi.security import HTTPBearer
from starlette.concurrency import run_in_threadpool

from app.auth import service
from app.auth.models import Role
from app.auth.principal import Actor, Principal
from app.errors import Forbidden, InvalidInput, Unauthorized


class ApiKeyBearer(HTTPBearer):
    """``Authorization: Bearer <key>``, resolved to the key's principal in one dependency (the OpenAPI document
    shows it as the bearer scheme)."""

    async def __call__(self, request: Request) -> Principal:  # type: ignore[override]
        # Async, so that a key this process has checked lately costs no thread hand-off; a new key is looked up in
        # a short transaction of its own on the thread pool (the route's session is not opened before the key is
        # good).
        credentials = await super().__call__(request)
        if credentials is None:
            raise Unauthorized("send an API key: Authorization: Bearer <key>")
        principal = request.app.state.keys.get(credentials.credentials)
        if principal is None:
            principal = await run_in_threadpool(_look_up, request, credentials.credentials)
            if principal is None:
                raise Unauthorized("the API key is unknown or revoked")
            request.app.state.keys.put(credentials.credentials, principal)
        request.state.principal = principal
        return principal


ACTOR_MAX = 100

authenticate = ApiKeyBearer(
    auto_error=False,
    scheme_name="HTTPBearer",
    description="An API key issued by `tousu keys create` or POST /v1/api-keys.",
)


def _look_up(request: Request, secret: str) -> Principal | None:
    with request.app.state.db.readers() as session:
        return service.principal_for(session, secret, request.app.state.settings)


CurrentPrincipal = Annotated[Principal, Depends(authenticate)]


async def acting(
    principal: CurrentPrincipal,
    x_actor: Annotated[
        str,
        Header(
            alias="X-Actor",
            description="The person on whose behalf the calling system acts (agent id or name). "
            "Non-ASCII names are percent-encoded UTF-8, e.g. `%E5%BC%A0%E4%B8%89` for 张三.",
            examples=["agent-0042"],
        ),
    ],
) -> Actor:
    try:
        name = unquote(x_actor, errors="strict").strip()
    except UnicodeDecodeError:
        name = ""
    if not name or len(name) > ACTOR_MAX or any(ord(c) < 32 for c in name):
        raise InvalidInput(f"X-Actor must name a person, 1 to {ACTOR_MAX} printable characters", field="X-Actor")
    return Actor(principal=principal, name=name)


CurrentActor = Annotated[Actor, Depends(acting)]


def require_role(*roles: Role):
    allowed = frozenset(roles)

    async def check(principal: CurrentPrincipal) -> Principal:
        if principal.role not in allowed:
            raise Forbidden(f"role {principal.role} may not do this", allowed_roles=sorted(allowed))
        return principal

    return check
