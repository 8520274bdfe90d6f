"""Complaints: find, move, annotate (registration has its own module). No HTTP here; the caller's transaction is only
flushed."""

from __future__ import annotations

import base64
import binascii
import enum
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from typing import Any, cast

from pydantic import BaseModel
from sqlalchemy import ColumnElement, Select, Table, Update, bindparam, exists, select, update
from sqlalchemy.orm import Session, joinedload, lazyload
from sqlalchemy.orm.attributes import set_committed_value

from app.auth.principal import NOTE_ROLES, Actor, Principal
from app.complaints import repeats, repository, workflow
from app.complaints.models import Category, Channel, Complaint, ComplaintEvent, State
from app.complaints.schemas import NONE_EARLIER, ComplaintOut, Earlier, EventOut, calls_of
from app.config import Settings
from app.db import on_commit, utcnow
from app.errors import Forbidden, GuardRefused, IllegalMove, InvalidInput, NotFound
from app.metrics.series import MOVES
from app.preconditions import IfMatch
from app.sla import clocks
from app.sla import service as sla
from app.sla.models import Clock, ClockState
from app.sla.schemas import ClockExplained
from app.units import require_dispatchable
from app.visibility import Viewer, contact_of
from app.vocabulary import ClockKind, Priority, UnitKind


def earlier_complaints(session: Session, complaints: list[Complaint], viewer: Viewer) -> dict[uuid.UUID, Earlier]:
    """For each complaint, the complaints its phone made before, of those the viewer may read."""
    return repository.earlier_complaints(session, [c.id for c in complaints], viewer.unit)


def show(
    session: Session,
    complaints: list[Complaint],
    principal: Principal,
    settings: Settings,
    earlier: dict[uuid.UUID, Earlier] | None = None,
) -> list[ComplaintOut]:
    """The complaints as this key may see them, each with the moves it may make now, its earlier complaints (read
    here unless given, as ``read`` and ``search`` give them) and the complaints linked to it as repeats."""
    viewer = Viewer.of(principal)
    return [viewer.complaint(out) for out in in_full(session, complaints, principal, settings, earlier)]


def in_full(
    session: Session,
    complaints: list[Complaint],
    principal: Principal,
    settings: Settings,
    earlier: dict[uuid.UUID, Earlier] | None = None,
) -> list[ComplaintOut]:
    """The complaints in full, before ``Viewer.complaint`` leaves out what this key may not see."""
    viewer = Viewer.of(principal)
    if earlier is None:
        earlier = earlier_complaints(session, complaints, viewer)
    # Looked for only where the complaint may have some (``Earlier.linked``): most have none.
    linked = [c.id for c in complaints if earlier[c.id].linked is not False]
    related = repeats.related(session, linked, viewer, settings.tz)
    return [
        ComplaintOut.build(c, workflow.moves_for(c, principal), settings, earlier[c.id], related.get(c.id, ()))
        for c in complaints
    ]


def get(
    session: Session,
    complaint_id: uuid.UUID,
    principal: Principal,
    *,
    for_update: bool = False,
    with_clocks: bool = False,
) -> Complaint:
    """The complaint, if this key may see it; otherwise NotFound, so that ids do not leak. Its clocks are loaded
    when asked for (to show it)."""
    viewer = Viewer.of(principal)
    query = _by_id(for_update, with_clocks, viewer.kind)
    complaint = session.scalar(query, {"complaint_id": complaint_id, **viewer.params})
    if complaint is None:
        raise NotFound(f"no complaint {complaint_id}")
    return complaint


def read(session: Session, complaint_id: uuid.UUID, principal: Principal) -> tuple[Complaint, dict[uuid.UUID, Earlier]]:
    """The complaint to show, if this key may see it (otherwise NotFound, as ``get``), with its clocks and its
    earlier complaints, all in one statement."""
    viewer = Viewer.of(principal)
    row = session.execute(_shown_by_id(viewer.kind), {"complaint_id": complaint_id, **viewer.params}).unique().first()
    if row is None:
        raise NotFound(f"no complaint {complaint_id}")
    complaint = row[0]
    return complaint, {complaint.id: repository.earlier_of(row[1:])}


@cache
def _shown_by_id(viewer: UnitKind | None) -> Select[Any]:
    """``_by_id`` with the earlier complaints' columns and the clocks joined (a row per clock): one statement where
    the lazy loader took a second (a read by id 1.35-1.7 -> 1.0-1.1 ms of app CPU in its transaction, measured
    in-process). A locking read cannot join them (FOR UPDATE refuses the nullable side of an outer join)."""
    return repository.with_earlier(_by_id(False, False, viewer), viewer).options(joinedload(Complaint.clocks))


@cache
def _by_id(for_update: bool, with_clocks: bool, viewer: UnitKind | None) -> Select[Complaint]:
    """The complaint of the parameter ``complaint_id``, if a viewer of that kind may read it (its unit a parameter
    too). Built once per kind: a select of its 68 columns costs about as much to build as to run, and a statement
    built once keeps its cache key."""
    query = Viewer.readable(select(Complaint).where(Complaint.id == bindparam("complaint_id")), viewer)
    if for_update:
        query = query.with_for_update()
    if with_clocks:
        # One complaint: its clocks load when shown, by the lazy loader's cached query (selectinload costs a read
        # about 0.7 ms more CPU, measured with bench/versus.py); a list loads them all at once (``search``).
        query = query.options(lazyload(Complaint.clocks))
    return query


def move_and_show(
    session: Session,
    complaint_id: uuid.UUID,
    name: str,
    actor: Actor,
    body: BaseModel | None,
    settings: Settings,
    if_match: IfMatch | None = None,
) -> tuple[Complaint, ComplaintOut]:
    """Fire a move on the complaint, locked for the rest of the transaction so racing moves queue up; the complaint
    and how this key sees it after the move (``kept_and_shown``)."""
    complaint, first_entry_id = _fire(session, complaint_id, name, actor, body, settings, if_match)
    out = kept_and_shown(session, complaint, first_entry_id, actor.principal, settings)
    on_commit(session, MOVES.labels(name, "done").inc)
    return complaint, out


def kept_and_shown(
    session: Session, complaint: Complaint, first_entry_id: int, principal: Principal, settings: Settings
) -> ComplaintOut:
    """The complaint as this transaction leaves it, built once: kept as the snapshot of the history entries the
    transaction wrote (``keep_snapshot``; the snapshot leaves out what depends on the reader), and as this key sees
    it, for the answer."""
    (out,) = in_full(session, [complaint], principal, settings)
    _keep(session, complaint, first_entry_id, out.snapshot())
    return Viewer.of(principal).complaint(out)


def _fire(
    session: Session,
    complaint_id: uuid.UUID,
    name: str,
    actor: Actor,
    body: BaseModel | None,
    settings: Settings,
    if_match: IfMatch | None,
) -> tuple[Complaint, int]:
    """The move made, its clocks started and stopped: the complaint, and the id of its first new history entry."""
    principal = actor.principal
    complaint = get(session, complaint_id, principal, for_update=True)
    move = workflow.MOVES_BY_NAME[name]
    if principal.role not in move.roles:
        raise Forbidden(f"role {principal.role} may not {name}", allowed_roles=sorted(move.roles))
    if if_match is not None:
        if_match.check(complaint.version)
    body = Viewer.of(principal).own_unit(body)
    if move.dispatches and complaint.state in move.sources:  # a move not allowed now is 409, whatever its unit
        require_dispatchable(session, getattr(body, "store_id", None), getattr(body, "department", None))
    request = workflow.MoveRequest(
        actor=actor.name,
        principal=principal,
        at=utcnow(),
        body=body,
        tz=settings.tz,
        unreachable_after=settings.follow_up_unreachable_after_days,
    )
    try:
        entry = workflow.fire(complaint, name, request)
    except workflow.NotAllowedNow:
        MOVES.labels(name, "refused_state").inc()
        raise IllegalMove(
            f"{name} is not allowed in state {complaint.state}",
            state=complaint.state,
            allowed_moves=workflow.moves_for(complaint, principal),
        ) from None
    except workflow.GuardFailed as refused:
        MOVES.labels(name, "refused_guard").inc()
        raise GuardRefused(
            refused.detail, guard=refused.guard, allowed_moves=workflow.moves_for(complaint, principal)
        ) from None
    session.add(entry)
    session.flush()
    held = clocks.hold(session, complaint)
    clocks.after_move(
        session, complaint, name, move.clocks, request.at, actor.name, settings, held=held, unit=request.unit
    )
    trigger = move.escalates(complaint) if move.escalates is not None else None
    if trigger is not None:
        reason = f"{name}: raised to {complaint.priority}"
        clocks.escalation_events(session, complaint, trigger, request.at, reason, settings, priority=complaint.priority)
    session.flush()
    # Its clocks as the move leaves them: those it held, with those it started (not read again).
    set_committed_value(complaint, "clocks", sorted(held, key=clocks.shown_order))
    return complaint, entry.id


def explain_clocks(
    session: Session, complaint_id: uuid.UUID, principal: Principal, settings: Settings
) -> list[ClockExplained]:
    """The complaint's clocks with their deadlines explained, of those this key may read."""
    complaint = get(session, complaint_id, principal)
    viewer = Viewer.of(principal)
    clocks_seen = [clock for clock in sla.clocks_of(session, complaint.id) if viewer.sees_clock(clock)]
    calls = calls_of(complaint)
    return [sla.explain(session, clock, settings, calls) for clock in clocks_seen]


def keep_snapshot(session: Session, complaint: Complaint, first_entry_id: int, settings: Settings) -> None:
    """The complaint as this transaction leaves it, kept on the history entries the transaction wrote (from
    ``first_entry_id`` on: the complaint is locked, so they are all this transaction's)."""
    _keep(session, complaint, first_entry_id, ComplaintOut.build(complaint, [], settings, NONE_EARLIER).snapshot())


def _keep(session: Session, complaint: Complaint, first_entry_id: int, snapshot: dict[str, object]) -> None:
    session.execute(_keep_snapshot(), {"of_complaint": complaint.id, "first_id": first_entry_id, "kept": snapshot})


@cache
def _keep_snapshot() -> Update:
    """Built once: an update built anew on every move costs CPU before it is sent (its cache key too). Of the table,
    not the ORM class: an ORM update goes through the ORM's bulk update on every move, copying the statement (and
    working out its cache key again), to synchronize a session that has nothing to synchronize here."""
    events = cast(Table, ComplaintEvent.__table__)
    return (
        update(events)
        .where(events.c.complaint_id == bindparam("of_complaint"), events.c.id >= bindparam("first_id"))
        .values(snapshot=bindparam("kept"))
    )


def add_note(
    session: Session, complaint_id: uuid.UUID, actor: Actor, body: BaseModel, if_match: IfMatch | None = None
) -> ComplaintEvent:
    complaint = get(session, complaint_id, actor.principal, for_update=True)  # 404 first: ids do not leak
    if actor.principal.role not in NOTE_ROLES:
        raise Forbidden(f"role {actor.principal.role} may not add notes", allowed_roles=sorted(NOTE_ROLES))
    if if_match is not None:
        if_match.check(complaint.version)
    now = utcnow()
    complaint.updated_at = now
    request = workflow.MoveRequest(actor=actor.name, principal=actor.principal, at=now, body=body)
    entry = workflow.history_entry(complaint, request, "note", complaint.state)
    session.add(entry)
    session.flush()
    return entry


def history(session: Session, complaint_id: uuid.UUID, principal: Principal, settings: Settings) -> list[EventOut]:
    """The complaint's history, oldest first, as this key may read it."""
    complaint = get(session, complaint_id, principal)
    query = select(ComplaintEvent).where(ComplaintEvent.complaint_id == complaint.id).order_by(ComplaintEvent.id)
    viewer, contact = Viewer.of(principal), contact_of(complaint)
    return [
        viewer.entry(EventOut.build(entry, settings.tz), contact)
        for entry in session.scalars(query)
        if viewer.sees_entry(entry)
    ]


@dataclass(frozen=True)
class Filters:
    state: State | None = None
    store_id: str | None = None
    category: Category | None = None
    channel: Channel | None = None
    priority: Priority | None = None
    phone: str | None = None
    number: str | None = None
    order_number: str | None = None
    external_ref: str | None = None
    customer_ref: str | None = None
    owner: str | None = None
    received_from: datetime | None = None
    received_to: datetime | None = None
    clock: ClockFilter | None = None
    clock_kind: ClockKind | None = None


def search(
    session: Session, principal: Principal, filters: Filters, *, limit: int, cursor: str | None
) -> tuple[list[Complaint], dict[uuid.UUID, Earlier], str | None]:
    """Newest first; keyset pagination on the time-ordered id, so a page costs the same at any depth. The page's
    complaints come with their earlier complaints (for ``show``) and the cursor of the next page."""
    viewer = Viewer.of(principal)
    viewer.refuse_personal_filters(phone=filters.phone, customer_ref=filters.customer_ref)
    query = _listed(viewer.kind)
    for column, value in (
        (Complaint.state, filters.state),
        (Complaint.store_id, filters.store_id),
        (Complaint.category, filters.category),
        (Complaint.channel, filters.channel),
        (Complaint.priority, filters.priority),
        (Complaint.complainant_phone, filters.phone),
        (Complaint.number, filters.number),
        (Complaint.order_number, filters.order_number),
        (Complaint.external_ref, filters.external_ref),
        (Complaint.customer_ref, filters.customer_ref),
        (Complaint.owner, filters.owner),
    ):
        if value is not None:
            query = query.where(column == value)
    if filters.received_from is not None:
        query = query.where(Complaint.received_at >= filters.received_from)
    if filters.received_to is not None:
        query = query.where(Complaint.received_at < filters.received_to)
    if filters.clock is not None:
        query = query.where(_has_clock(filters.clock, filters.clock_kind))
    if cursor is not None:
        query = query.where(Complaint.id < decode_cursor(cursor))
    rows = session.execute(query.order_by(Complaint.id.desc()).limit(limit + 1), viewer.params).all()
    next_cursor = encode_cursor(rows[limit - 1][0].id) if len(rows) > limit else None
    page = [row[0] for row in rows[:limit]]
    earlier = {row[0].id: repository.earlier_of(row[1:]) for row in rows[:limit]}
    clocks_of = sla.clocks_of_each(session, [c.id for c in page])
    for complaint in page:
        set_committed_value(complaint, "clocks", clocks_of[complaint.id])
    return page, earlier, next_cursor


@cache
def _listed(viewer: UnitKind | None) -> Select[Any]:
    """The complaints a viewer of that kind may read (its unit a parameter), each with its earlier complaints: built
    once per kind, the filters added to it."""
    return repository.with_earlier(Viewer.readable(select(Complaint), viewer), viewer)


class ClockFilter(enum.StrEnum):
    running = "running"
    warning = "warning"
    breached = "breached"


def _has_clock(which: ClockFilter, kind: ClockKind | None) -> ColumnElement[bool]:
    conditions = [Clock.complaint_id == Complaint.id]
    if which is ClockFilter.running:
        conditions += [Clock.state == ClockState.running, Clock.stopped_at.is_(None)]
    elif which is ClockFilter.warning:
        conditions += [Clock.state == ClockState.running, Clock.warned_at.is_not(None), Clock.stopped_at.is_(None)]
    else:
        conditions.append(Clock.state == ClockState.breached)
    if kind is not None:
        conditions.append(Clock.kind == kind)
    return exists().where(*conditions)


def encode_cursor(last_id: uuid.UUID) -> str:
    return base64.urlsafe_b64encode(last_id.bytes).rstrip(b"=").decode()


def decode_cursor(cursor: str) -> uuid.UUID:
    try:
        return uuid.UUID(bytes=base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, binascii.Error):
        raise InvalidInput("cursor is not one this service issued", field="cursor") from None


def drop_number_sequences(session: Session, before: date) -> int:
    """Let go of the numbering of the days before ``before`` (housekeeping); returns how many sequences went."""
    return repository.drop_number_sequences(session, before)
