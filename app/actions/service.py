"""Corrective actions: reading them through the visibility model, writing them, and their moves.

The moves: open → done → verified, or open or done → dropped (with a reason). Verified and dropped are final: no
move and no edit after them. Every write adds to the action's ``history`` and bumps its ``version`` (the ETag)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, or_, select
from sqlalchemy.orm import Session

from app.actions.models import ActionState, CorrectiveAction
from app.actions.schemas import CorrectiveActionIn, CorrectiveActionOut, CorrectiveActionPatch
from app.complaints.models import Category, Complaint
from app.errors import IllegalMove, InvalidInput, NotFound, PreconditionFailed
from app.preconditions import IfMatch, etag
from app.units import Store
from app.visibility import Viewer


@dataclass(frozen=True)
class Move:
    sources: frozenset[ActionState]
    target: ActionState
    stamp: str  # the column that records when


MOVES = {
    "done": Move(frozenset({ActionState.open}), ActionState.done, "done_at"),
    "verify": Move(frozenset({ActionState.done}), ActionState.verified, "verified_at"),
    "drop": Move(frozenset({ActionState.open, ActionState.done}), ActionState.dropped, "dropped_at"),
}
EDITABLE = frozenset({ActionState.open, ActionState.done})


def allowed_moves(state: ActionState) -> list[str]:
    return [name for name, declared in MOVES.items() if state in declared.sources]


def readable(viewer: Viewer) -> Select[Any]:
    return viewer.actions(select(CorrectiveAction), CorrectiveAction.store_id)


def list_actions(
    session: Session,
    viewer: Viewer,
    state: ActionState | None = None,
    store_id: str | None = None,
    category: Category | None = None,
) -> Sequence[CorrectiveAction]:
    query = readable(viewer)
    if state is not None:
        query = query.where(CorrectiveAction.state == state)
    if store_id is not None:
        query = query.where(CorrectiveAction.store_id == store_id)
    if category is not None:
        query = query.where(CorrectiveAction.category == category)
    return session.scalars(query.order_by(CorrectiveAction.created_at.desc(), CorrectiveAction.id)).all()


def read(session: Session, viewer: Viewer, action_id: uuid.UUID) -> CorrectiveAction:
    found: CorrectiveAction | None = session.scalars(
        readable(viewer).where(CorrectiveAction.id == action_id)
    ).one_or_none()
    if found is None:
        raise NotFound(f"no corrective action {action_id}")
    return found


def shown(session: Session, viewer: Viewer, actions: Sequence[CorrectiveAction]) -> list[CorrectiveActionOut]:
    """The actions as the viewer may see them: of their linked complaints, only those it may read."""
    outs = [CorrectiveActionOut.model_validate(action) for action in actions]
    if not viewer.bound:
        return outs
    linked = {complaint_id for out in outs for complaint_id in out.complaint_ids}
    readable_ids = set(
        session.scalars(viewer.complaints(select(Complaint.id).where(Complaint.id.in_(linked)))) if linked else ()
    )
    return [
        out.model_copy(update={"complaint_ids": [c for c in out.complaint_ids if c in readable_ids]}) for out in outs
    ]


def create(session: Session, body: CorrectiveActionIn, actor: str, now: datetime) -> CorrectiveAction:
    _require_known(session, body.store_id, body.complaint_ids)
    values = body.model_dump(exclude={"complaint_ids"})
    action = CorrectiveAction(
        **values,
        state=ActionState.open,
        complaint_ids=[str(c) for c in body.complaint_ids],
        version=1,
        history=[_change(now, actor, "create", sorted(body.model_fields_set))],
        created_by=actor,
        created_at=now,
        updated_by=actor,
        updated_at=now,
    )
    session.add(action)
    session.flush()
    return action


def edit(
    session: Session,
    viewer: Viewer,
    action_id: uuid.UUID,
    patch: CorrectiveActionPatch,
    actor: str,
    now: datetime,
    if_match: IfMatch | None,
) -> CorrectiveAction:
    action = read(session, viewer, action_id)
    _check_version(action, if_match)
    if action.state not in EDITABLE:
        raise IllegalMove(
            f"a {action.state} corrective action is final: it may not be edited",
            state=str(action.state),
            allowed_moves=[],
        )
    changes = patch.changes()
    store_id = changes.get("store_id", action.store_id)
    category = changes.get("category", action.category)
    if store_id is None and category is None:
        raise InvalidInput("name the cause: a store_id, a category or both", field="store_id")
    _require_known(session, changes.get("store_id"), changes.get("complaint_ids", []))
    for name, value in changes.items():
        if name == "complaint_ids":
            value = [str(c) for c in value]
        setattr(action, name, value)
    _touch(action, now, actor, "edit", sorted(changes))
    return action


def move(
    session: Session,
    viewer: Viewer,
    action_id: uuid.UUID,
    name: str,
    actor: str,
    now: datetime,
    if_match: IfMatch | None,
    reason: str | None = None,
) -> CorrectiveAction:
    action = read(session, viewer, action_id)
    _check_version(action, if_match)
    the_move = MOVES[name]
    if action.state not in the_move.sources:
        raise IllegalMove(
            f"a {action.state} corrective action cannot be moved by {name}: only from "
            + " or ".join(sorted(the_move.sources)),
            state=str(action.state),
            allowed_moves=allowed_moves(action.state),
        )
    action.state = the_move.target
    setattr(action, the_move.stamp, now)
    fields = ["state", the_move.stamp]
    if reason is not None:
        action.dropped_reason = reason
        fields.append("dropped_reason")
    _touch(action, now, actor, name, fields)
    return action


def _touch(action: CorrectiveAction, now: datetime, actor: str, change: str, fields: list[str]) -> None:
    action.version += 1
    action.updated_at, action.updated_by = now, actor
    action.history = [*action.history, _change(now, actor, change, fields)]


def _change(now: datetime, actor: str, change: str, fields: list[str]) -> dict[str, Any]:
    return {"at": now.isoformat(), "by": actor, "change": change, "fields": fields}


def _check_version(action: CorrectiveAction, if_match: IfMatch | None) -> None:
    if if_match is None or if_match.any_version or str(action.version) in if_match.versions:
        return
    raise PreconditionFailed(
        f"the corrective action is at version {action.version}; read it again and decide on the current state",
        current_version=action.version,
        etag=etag(action.version),
    )


def _require_known(session: Session, store_id: str | None, complaint_ids: Sequence[uuid.UUID]) -> None:
    """The store must be in the directory, and every linked complaint must exist: 422 otherwise."""
    if store_id is not None and session.get(Store, store_id) is None:
        raise InvalidInput(f"no store {store_id} in the directory", field="store_id")
    wanted = set(complaint_ids)
    if not wanted:
        return
    found = set(session.scalars(select(Complaint.id).where(Complaint.id.in_(wanted))))
    missing = sorted(str(c) for c in wanted - found)
    if missing:
        raise InvalidInput(f"no complaint {', '.join(missing)}", field="complaint_ids")


def on_causes(
    session: Session, viewer: Viewer, causes: Sequence[tuple[str, Category]], start: datetime, end: datetime
) -> Sequence[CorrectiveAction]:
    """The actions (not dropped) the viewer reads on any of ``causes`` (store and category pairs: an action on the
    store, on the category or on both matches), and those done from ``start`` to ``end``; the oldest first."""
    on_a_cause = [
        and_(
            or_(CorrectiveAction.store_id.is_(None), CorrectiveAction.store_id == store_id),
            or_(CorrectiveAction.category.is_(None), CorrectiveAction.category == category),
        )
        for store_id, category in causes
    ]
    done_then = and_(CorrectiveAction.done_at >= start, CorrectiveAction.done_at < end)
    query = readable(viewer).where(CorrectiveAction.state != ActionState.dropped, or_(done_then, *on_a_cause))
    return session.scalars(query.order_by(CorrectiveAction.created_at, CorrectiveAction.id)).all()
