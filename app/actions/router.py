"""HTTP for corrective actions: managers and admins write; every company-wide role reads; a store key reads the
actions on its own store, edits their text, owner and due date, and marks them done."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Header, Path, Query, Response
from sqlalchemy.orm import Session

from app import errors
from app.actions import service
from app.actions.models import ActionState, CorrectiveAction
from app.actions.schemas import CorrectiveActionIn, CorrectiveActionOut, CorrectiveActionPatch, DropActionIn
from app.auth.dependencies import CurrentPrincipal, acting, require_role
from app.auth.models import Role
from app.auth.principal import Actor
from app.complaints.models import Category
from app.complaints.schemas import StoreId
from app.config import Settings
from app.db import utcnow
from app.dependencies import CurrentSettings, ReadSession, WriteSession
from app.errors import Forbidden, IllegalMove, InvalidInput, NotFound, PreconditionFailed, Unauthorized
from app.preconditions import IfMatch, etag
from app.types import in_local_time
from app.visibility import Viewer

router = APIRouter(prefix="/v1/corrective-actions", tags=["actions"])

ActionPath = Annotated[uuid.UUID, Path(description="The corrective action's id.")]
WRITERS = (Role.manager, Role.admin)
# A store key may change these members of its own store's actions; the cause's store and category, and the
# linked complaints, are the managers'.
STORE_EDITS = frozenset({"cause", "action", "owner", "due_on"})
CurrentActor = Annotated[Actor, Depends(acting)]
IfMatchHeader = Annotated[
    str | None,
    Header(
        alias="If-Match",
        description="The `ETag` of the action as last read. When it has changed since, the write is refused with "
        "412 and the current version; without If-Match the write applies to the current state.",
        examples=['"3"'],
    ),
]
WITH_ETAG: dict[int | str, dict[str, Any]] = {200: {"headers": errors.response_headers("200", "ETag")}}
WRITE_ERRORS = errors.responses(
    Unauthorized, Forbidden, NotFound, IllegalMove, PreconditionFailed, 413, InvalidInput, 503
)


def _out(session: Session, viewer: Viewer, action: CorrectiveAction, settings: Settings) -> CorrectiveActionOut:
    (out,) = service.shown(session, viewer, [action])
    return in_local_time(out, settings.tz)


def _with_etag(response: Response, action: CorrectiveAction) -> None:
    response.headers["ETag"] = etag(action.version)


def _precondition(header: str | None) -> IfMatch | None:
    return IfMatch.parse(header) if header is not None else None


@router.get(
    "",
    operation_id="listCorrectiveActions",
    summary="List corrective actions",
    description="The corrective actions (改善对策), the newest first, optionally of one state, store or category. "
    "A store key lists those on its own store only; a department key none.",
    responses=errors.responses(Unauthorized, InvalidInput, 503),
)
def list_actions(
    principal: CurrentPrincipal,
    session: ReadSession,
    settings: CurrentSettings,
    state: Annotated[ActionState | None, Query(description="Only actions in this state.")] = None,
    store_id: Annotated[StoreId | None, Query(description="Only actions on this store.")] = None,
    category: Annotated[Category | None, Query(description="Only actions on this category.")] = None,
) -> list[CorrectiveActionOut]:
    viewer = Viewer.of(principal)
    found = service.list_actions(session, viewer, state, store_id, category)
    return [in_local_time(out, settings.tz) for out in service.shown(session, viewer, found)]


@router.post(
    "",
    operation_id="createCorrectiveAction",
    summary="Record a corrective action (manager, admin)",
    description="A cause (a store of the directory, a category or both, and what was found), the action, its "
    "owner and due date, and the complaints that showed the cause (each must exist). It starts open.",
    status_code=201,
    responses={
        201: {"headers": errors.response_headers("201", "Location", "ETag")},
        **errors.responses(Unauthorized, Forbidden, 413, InvalidInput, 503),
    },
    dependencies=[Depends(require_role(*WRITERS))],
)
def create_action(
    body: CorrectiveActionIn,
    actor: CurrentActor,
    session: WriteSession,
    settings: CurrentSettings,
    response: Response,
) -> CorrectiveActionOut:
    action = service.create(session, body, actor.name, utcnow())
    _with_etag(response, action)
    response.headers["Location"] = f"/v1/corrective-actions/{action.id}"
    return _out(session, Viewer.of(actor.principal), action, settings)


@router.get(
    "/{action_id}",
    operation_id="getCorrectiveAction",
    summary="Read a corrective action",
    description="The action with its cause, owner, due date, state, the moments of its moves, its linked "
    "complaints (a store key: those dispatched to its store) and who changed what. A store key reads the actions "
    "on its own store only (404 for others).",
    responses={**WITH_ETAG, **errors.responses(Unauthorized, NotFound, InvalidInput, 503)},
)
def get_action(
    action_id: ActionPath,
    principal: CurrentPrincipal,
    session: ReadSession,
    settings: CurrentSettings,
    response: Response,
) -> CorrectiveActionOut:
    viewer = Viewer.of(principal)
    action = service.read(session, viewer, action_id)
    _with_etag(response, action)
    return _out(session, viewer, action, settings)


@router.patch(
    "/{action_id}",
    operation_id="editCorrectiveAction",
    summary="Edit a corrective action (manager, admin; its store)",
    description="Changes the members sent, while the action is open or done (verified and dropped are final: "
    "409). A store key edits the actions on its own store, and only their `cause`, `action`, `owner` and "
    "`due_on` (403 for other members). The state changes by its moves only.",
    responses={**WITH_ETAG, **WRITE_ERRORS},
    dependencies=[Depends(require_role(*WRITERS, Role.store))],
)
def edit_action(
    action_id: ActionPath,
    body: CorrectiveActionPatch,
    actor: CurrentActor,
    session: WriteSession,
    settings: CurrentSettings,
    response: Response,
    if_match: IfMatchHeader = None,
) -> CorrectiveActionOut:
    viewer = Viewer.of(actor.principal)
    if viewer.bound:
        refused = sorted(body.model_fields_set - STORE_EDITS)
        if refused:
            raise Forbidden(
                f"a store key may not change {', '.join(refused)} of a corrective action",
                allowed_roles=sorted(WRITERS),
            )
    action = service.edit(session, viewer, action_id, body, actor.name, utcnow(), _precondition(if_match))
    _with_etag(response, action)
    return _out(session, viewer, action, settings)


@router.post(
    "/{action_id}/done",
    operation_id="completeCorrectiveAction",
    summary="Mark a corrective action done (manager, admin; its store)",
    description="open → done: the action was carried out. Its effect in the summary is measured from now. "
    "409 from any other state.",
    responses={**WITH_ETAG, **WRITE_ERRORS},
    dependencies=[Depends(require_role(*WRITERS, Role.store))],
)
def complete_action(
    action_id: ActionPath,
    actor: CurrentActor,
    session: WriteSession,
    settings: CurrentSettings,
    response: Response,
    if_match: IfMatchHeader = None,
) -> CorrectiveActionOut:
    return _move(action_id, "done", actor, session, settings, response, if_match)


@router.post(
    "/{action_id}/verify",
    operation_id="verifyCorrectiveAction",
    summary="Verify a corrective action (manager, admin)",
    description="done → verified: a manager checked that it was carried out. Final. 409 from any other state.",
    responses={**WITH_ETAG, **WRITE_ERRORS},
    dependencies=[Depends(require_role(*WRITERS))],
)
def verify_action(
    action_id: ActionPath,
    actor: CurrentActor,
    session: WriteSession,
    settings: CurrentSettings,
    response: Response,
    if_match: IfMatchHeader = None,
) -> CorrectiveActionOut:
    return _move(action_id, "verify", actor, session, settings, response, if_match)


@router.post(
    "/{action_id}/drop",
    operation_id="dropCorrectiveAction",
    summary="Drop a corrective action (manager, admin)",
    description="open or done → dropped, with the reason. Final. 409 from verified or dropped.",
    responses={**WITH_ETAG, **WRITE_ERRORS},
    dependencies=[Depends(require_role(*WRITERS))],
)
def drop_action(
    action_id: ActionPath,
    body: Annotated[DropActionIn, Body()],
    actor: CurrentActor,
    session: WriteSession,
    settings: CurrentSettings,
    response: Response,
    if_match: IfMatchHeader = None,
) -> CorrectiveActionOut:
    return _move(action_id, "drop", actor, session, settings, response, if_match, body.reason)


def _move(
    action_id: uuid.UUID,
    name: str,
    actor: Actor,
    session: Session,
    settings: Settings,
    response: Response,
    if_match: str | None,
    reason: str | None = None,
) -> CorrectiveActionOut:
    viewer = Viewer.of(actor.principal)
    action = service.move(session, viewer, action_id, name, actor.name, utcnow(), _precondition(if_match), reason)
    _with_etag(response, action)
    return _out(session, viewer, action, settings)
