"""Authentication for routes: ``Authorization: Bearer <key>`` and the ``X-Actor`` header."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Coroutine
from typing import Annotated, Any
from urllib.parse import unquote

from fastapi import Depends, Header, Request
from fastapi.security import HTTPBearer
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from app.auth import service
from app.auth.models import Role
from app.auth.principal import Actor, Principal
from app.dependencies import ReadSession, WriteSession
from app.errors import Forbidden, InvalidInput, TooManyFailures, Unauthorized


class ApiKeyBearer(HTTPBearer):
    """``Authorization: Bearer <key>``, resolved to the key's principal in one dependency (the OpenAPI document
    shows it as the bearer scheme)."""

    # Returns the principal, not HTTPBearer's credentials: the key is resolved here, in the one dependency.
    async def __call__(self, request: Request) -> Principal:  # type: ignore[override]
        # Async, so that a key this process has checked lately costs no thread hand-off; a new key is looked up in
        # a short transaction of its own on the thread pool (the route's session is not opened before the key is
        # good).
        credentials = await super().__call__(request)
        secret = credentials.credentials if credentials is not None else None
        principal = None
        if secret is not None and service.well_formed(secret):
            principal = request.app.state.keys.get(secret)
        if principal is None:
            principal = await _check(request, secret)
        request.state.principal = principal
        return principal


async def _check(request: Request, secret: str | None) -> Principal:
    """A key the cache does not vouch for. A client that has failed too often is refused before anything is looked
    up (a good key it used lately still passes, from the cache); a key that cannot be one is refused unlooked-up."""
    if "authorization" not in request.headers:
        raise Unauthorized("send an API key: Authorization: Bearer <key>")
    failures = request.app.state.auth_failures
    host = request.client.host if request.client else None
    if (retry_after := failures.retry_after(host)) is not None:
        raise TooManyFailures(
            f"too many unknown, revoked or malformed API keys from this address; retry after {retry_after} s",
            retry_after=retry_after,
        )
    principal = None
    if secret is not None and service.well_formed(secret):
        keys = request.app.state.keys
        epoch = keys.epoch
        principal = await run_in_threadpool(_look_up, request, secret)
        if principal is not None:
            keys.put(secret, principal, epoch)
    if principal is None:
        failures.failed(host)
        raise Unauthorized(_REFUSED if secret is not None else "send an API key: Authorization: Bearer <key>")
    return principal


_REFUSED = "the API key is malformed, unknown or revoked"

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
            description="The person on whose behalf the calling system acts (agent id or name), at most "
            f"{ACTOR_MAX} characters. ASCII only: other characters are percent-encoded UTF-8, e.g. "
            "`%E5%BC%A0%E4%B8%89` for 张三. Stored NFKC-normalised (full-width letters become ASCII, runs of "
            "spaces one space); control, format and invisible characters are refused.",
            examples=["agent-0042"],
        ),
    ],
) -> Actor:
    return Actor(principal=principal, name=actor_name(x_actor))


# Characters that show as nothing: Default_Ignorable_Code_Point (Unicode's DerivedCoreProperties.txt). Most are
# format characters (Cf), refused by category anyway; the rest are letters and marks (Hangul fillers, variation
# selectors, the combining grapheme joiner) that would let "alice" and an invisible variant of it pass for two
# people.
_INVISIBLE = re.compile(
    "[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e\u2060-\u206f"
    "\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufff8\U0001bca0-\U0001bca3\U0001d173-\U0001d17a"
    "\U000e0000-\U000e0fff]"
)
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


def actor_name(header: str) -> str:
    """The person an ``X-Actor`` header names, as it is stored and compared (the four-eyes guard).

    One person has one spelling: NFKC folds full-width and compatibility forms (ａｌｉｃｅ is alice), and what
    cannot be seen (controls, format characters such as a zero-width space or a right-to-left override, fillers)
    is refused rather than dropped, so a name that looks like another is never silently accepted as a third.
    Starlette decodes a header as latin-1: a raw UTF-8 byte would be stored garbled, so it is refused too.
    """
    if not (header.isascii() and header.isprintable()):
        raise InvalidInput(
            "X-Actor must be printable ASCII: percent-encode other characters as UTF-8 (%E5%BC%A0 for 张)",
            field="X-Actor",
        )
    try:
        name = unicodedata.normalize("NFKC", unquote(header, errors="strict"))
    except UnicodeDecodeError:
        raise InvalidInput("X-Actor is not percent-encoded UTF-8", field="X-Actor") from None
    if _INVISIBLE.search(name) or any(unicodedata.category(c) in _REFUSED_CATEGORIES for c in name):
        raise InvalidInput("X-Actor may not hold control, format or invisible characters", field="X-Actor")
    name = " ".join(name.split())
    if not name or len(name) > ACTOR_MAX:
        raise InvalidInput(f"X-Actor must name a person, 1 to {ACTOR_MAX} characters", field="X-Actor")
    return name


CurrentActor = Annotated[Actor, Depends(acting)]


def require_role(*roles: Role) -> Callable[[Principal], Coroutine[Any, Any, Principal]]:
    allowed = frozenset(roles)

    async def check(principal: CurrentPrincipal) -> Principal:
        _may(principal, allowed)
        return principal

    return check


def _may(principal: Principal, allowed: frozenset[Role]) -> None:
    if principal.role not in allowed:
        raise Forbidden(f"role {principal.role} may not do this", allowed_roles=sorted(allowed))


# The keys' own management (/v1/api-keys) never trusts a cached key: the calling key is read again in the request's
# transaction, so a revoked admin key cannot list, issue or revoke keys however lately another process saw it good.


def _confirmed_admin(request: Request, session: Session, principal: Principal, *, lock: bool) -> Principal:
    confirmed = service.confirm(session, principal, request.app.state.settings, lock=lock)
    if confirmed is None:
        request.app.state.keys.forget(principal.key_id)
        request.app.state.auth_failures.failed(request.client.host if request.client else None)
        raise Unauthorized(_REFUSED)
    _may(confirmed, frozenset({Role.admin}))
    return confirmed


def _reading_admin(request: Request, principal: CurrentPrincipal, session: ReadSession) -> Principal:
    return _confirmed_admin(request, session, principal, lock=False)


def _acting_admin(request: Request, actor: CurrentActor, session: WriteSession) -> Actor:
    return Actor(_confirmed_admin(request, session, actor.principal, lock=True), actor.name)


ConfirmedAdmin = Annotated[Principal, Depends(_reading_admin)]
ConfirmedAdminActor = Annotated[Actor, Depends(_acting_admin)]
