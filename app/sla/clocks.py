"""The clocks of a complaint: when they start and stop, their deadlines, and why each deadline is where it is.

Everything here runs in the caller's transaction: a move and the clocks it starts or stops commit together. The
complaint is known by what the clocks read of it (``Timed``): app.complaints imports app.sla, never the reverse.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import cache, lru_cache
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar, assert_never

from sqlalchemy import Connection, Select, bindparam, select
from sqlalchemy.orm import Session

from app.config import Settings
from app.db import on_commit, uuid7
from app.metrics.series import CLOCK_BREACHES, CLOCK_WARNINGS
from app.sla import escalation
from app.sla.calendar import Calendar, Day
from app.sla.effects import DISPATCHED_AGAIN, ClockEffect, Effect
from app.sla.models import Clock, ClockEvent, ClockState
from app.sla.policy import Policy, Target, Unit, load_policy
from app.vocabulary import ClockKind, Priority, ResponsibleUnit, Trigger, UnitKind, dispatched_units, unit_named

MAX_DAYS = 400  # a deadline further than this in working days means the calendar closed (almost) every day


Entry = TypeVar("Entry", covariant=True)


class Timed(Protocol[Entry]):
    """What the clocks read of the complaint they time, and how they write in its history (``Entry``, one
    entry of it): ``app.complaints.models.Complaint`` is one."""

    @property
    def id(self) -> uuid.UUID: ...

    @property
    def priority(self) -> Priority: ...

    @property
    def received_at(self) -> datetime: ...

    @property
    def accepted_at(self) -> datetime: ...

    @property
    def dispatched_at(self) -> datetime | None: ...

    @property
    def responsible_store_id(self) -> str | None: ...

    @property
    def responsible_department(self) -> str | None: ...

    @property
    def store_id(self) -> str | None: ...

    @property
    def department(self) -> str | None: ...

    escalated_to: list[str] | None  # what it was escalated to (app.sla.escalation)

    @property
    def incident_report_due(self) -> bool: ...

    def system_entry(self, move: str, at: datetime, payload: dict[str, Any]) -> Entry:
        """An entry of its history written by tousu itself (no API key, no person), not yet added."""
        ...


@lru_cache(maxsize=8)
def _policy(path: Path | None) -> Policy:
    return load_policy(path)


def policy(settings: Settings) -> Policy:
    return _policy(settings.sla_policy_file)


@dataclass(frozen=True)
class Deadline:
    warn_at: datetime
    due_at: datetime
    assumed: bool
    days: list[Day] = field(default_factory=list)  # every day after the start day, to the due day
    warn_day: date | None = None


def deadline(start: datetime, target: Target, calendar: Calendar, settings: Settings) -> Deadline:
    """When a clock that started at ``start`` warns and falls due.

    Working days: close of business of the Nth working day after the day it started (that day itself never
    counts). Calendar days and hours: from the moment it started.
    """
    if target.unit is Unit.days:
        return Deadline(start + timedelta(days=target.warn), start + timedelta(days=target.due), False)
    if target.unit is Unit.hours:
        return Deadline(start + timedelta(hours=target.warn), start + timedelta(hours=target.due), False)
    tz = settings.tz
    day = start.astimezone(tz).date()
    counted, days, warn_day = 0, [], None
    while counted < target.due:
        day += timedelta(days=1)
        seen = calendar.day(day)
        days.append(seen)
        if seen.working:
            counted += 1
            if counted == target.warn:
                warn_day = day
        if len(days) > MAX_DAYS:
            raise ValueError(f"fewer than {target.due} working days in the {MAX_DAYS} days after {start:%Y-%m-%d}")
    assert warn_day is not None

    def close(of: date) -> datetime:
        return datetime.combine(of, settings.close_of_business, tzinfo=tz).astimezone(UTC)

    return Deadline(close(warn_day), close(day), any(d.assumed for d in days), days, warn_day)


def record_event(session: Session, clock: Clock, kind: str, at: datetime, **detail: Any) -> None:
    session.add(clock_event(clock, kind, at, **detail))
    if kind in COUNTED:
        on_commit(session, COUNTED[kind].labels(clock.kind.value).inc)


COUNTED = {"warned": CLOCK_WARNINGS, "breached": CLOCK_BREACHES}


def clock_event(clock: Clock, kind: str, at: datetime, **detail: Any) -> ClockEvent:
    return ClockEvent(clock_id=clock.id, kind=kind, at=at, detail=_jsonable(detail))


def _jsonable(detail: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, datetime | date) else v) for k, v in detail.items()}


def complaint_event(
    session: Session, complaint: Timed[Entry], move: str, at: datetime, payload: dict[str, Any]
) -> Entry:
    """An event in the complaint's history written by tousu itself (no API key, no person)."""
    entry = system_event(complaint, move, at, payload)
    session.add(entry)
    return entry


def clock_detail(clock: Clock) -> dict[str, Any]:
    """What a clock event in the complaint's history (and so its webhook) says about the clock."""
    return {
        "clock": clock.kind.value,
        "clock_id": str(clock.id),
        "store_id": clock.store_id,
        "department": clock.department,
        "due_at": clock.due_at,
        "warn_at": clock.warn_at,
        "calendar_assumed": clock.calendar_assumed,
    }


BREACH_TRIGGERS = {
    ClockKind.store_feedback: Trigger.feedback_breach,
    ClockKind.written_reply: Trigger.reply_breach,
    ClockKind.follow_up: Trigger.follow_up_breach,
    ClockKind.fulfilment: Trigger.fulfilment_breach,
    ClockKind.incident_report: Trigger.incident_report_breach,
}
WARNING_TRIGGERS = {ClockKind.store_feedback: Trigger.feedback_warning}


def breach_events(
    session: Session, complaint: Timed[Entry], clock: Clock, at: datetime, settings: Settings, **extra: Any
) -> list[Entry]:
    """A breach in the complaint's history, and its escalation up the ladder: the trigger of the clock's kind, and
    the second breach's when the complaint had one before."""
    payload = {**clock_detail(clock), **extra}
    entries = [complaint_event(session, complaint, "sla.breached", at, payload)]
    triggers = [BREACH_TRIGGERS[clock.kind]]
    earlier = select(Clock.id).where(
        Clock.complaint_id == complaint.id, Clock.state == ClockState.breached, Clock.id != clock.id
    )
    if session.scalar(earlier.limit(1)) is not None:
        triggers.append(Trigger.second_breach)
    for trigger in triggers:
        reason = f"{clock.kind.value} breached" + (" (a second breach)" if trigger is Trigger.second_breach else "")
        entries += escalation_events(session, complaint, trigger, at, reason, settings, clock=clock, **extra)
    return entries


def warning_events(
    session: Session, complaint: Timed[Entry], clock: Clock, at: datetime, settings: Settings
) -> list[Entry]:
    """A warning in the complaint's history, and its escalation when the ladder takes the clock's warnings."""
    entries = [complaint_event(session, complaint, "sla.warning", at, clock_detail(clock))]
    if clock.kind in WARNING_TRIGGERS:
        reason = f"{clock.kind.value} warning"
        trigger = WARNING_TRIGGERS[clock.kind]
        entries += escalation_events(session, complaint, trigger, at, reason, settings, clock=clock)
    return entries


def escalation_events(
    reader: Session | Connection,
    complaint: Timed[Entry],
    trigger: Trigger,
    at: datetime,
    reason: str,
    settings: Settings,
    *,
    clock: Clock | None = None,
    registering: bool = False,
    **extra: Any,
) -> list[Entry]:
    """The ``complaint.escalated`` entries of ``trigger``: one per position of the ladder it has not reached on this
    complaint yet, naming the people to tell. Added to the session when ``reader`` is one; registration writes
    them itself (``registering``: its positions reached are already in its columns, see
    ``reached_at_registration``)."""
    positions = policy(settings).ladder
    unit = unit_named(clock.store_id, clock.department) if clock is not None else None
    detail = {**(clock_detail(clock) if clock is not None else {}), **extra}
    entries = []
    escalations = escalation.escalate(reader, complaint, trigger, positions, unit=unit, registering=registering)
    for reached in escalations:
        words = f"{reason}: escalated to {escalation.POSITION_WORDS[reached.position]}"
        entries.append(system_event(complaint, "complaint.escalated", at, reached.payload(words, **detail)))
    if isinstance(reader, Session):
        reader.add_all(entries)
        escalation.remember(reader, complaint, escalations)
    return entries


def system_event(complaint: Timed[Entry], move: str, at: datetime, payload: dict[str, Any]) -> Entry:
    return complaint.system_entry(move, at, _jsonable(payload))


def start(
    session: Session,
    complaint: Timed[Any],
    kind: ClockKind,
    at: datetime,
    settings: Settings,
    *,
    why: str,
    unit: ResponsibleUnit | None = None,
    held: list[Clock] | None = None,
) -> Clock:
    clock, started = new_clock(Calendar(session), complaint, kind, at, settings, why=why, unit=unit)
    session.add_all([clock, started])
    if held is not None:
        held.append(clock)
    return clock


def new_clock(
    calendar: Calendar,
    complaint: Timed[Any],
    kind: ClockKind,
    at: datetime,
    settings: Settings,
    *,
    why: str,
    unit: ResponsibleUnit | None = None,
) -> tuple[Clock, ClockEvent]:
    """A running clock and its ``started`` event, not yet added to any session; a feedback clock waits for
    ``unit`` (a store or a department), whose kind chooses its target."""
    target = policy(settings).target(complaint.priority, kind, unit.kind if unit is not None else None)
    due = deadline(at, target, calendar, settings)
    clock = Clock(
        id=uuid7(),
        complaint_id=complaint.id,
        kind=kind,
        unit=target.unit,
        target=target.due,
        warn_after=target.warn,
        store_id=unit.id if unit is not None and unit.kind is UnitKind.store else None,
        department=unit.id if unit is not None and unit.kind is UnitKind.department else None,
        started_at=at,
        warn_at=due.warn_at,
        due_at=due.due_at,
        calendar_assumed=due.assumed,
        state=ClockState.running,
        next_check_at=due.warn_at,
    )
    started = clock_event(
        clock,
        "started",
        at,
        why=why,
        target=target.words(),
        warn_at=due.warn_at,
        due_at=due.due_at,
        calendar_assumed=due.assumed,
    )
    return clock, started


def stop(
    session: Session,
    complaint: Timed[Any],
    clock: Clock,
    at: datetime,
    settings: Settings,
    *,
    why: str,
    met: bool = True,
) -> None:
    """Stop a clock: met when what it waited for happened (breached if that was late); cancelled when it no
    longer applies. A breached clock stays breached."""
    clock.stopped_at = at
    clock.next_check_at = None
    if clock.state is ClockState.running and met and at > clock.due_at:
        # Stopped late before a sweep got to it: it is breached all the same, and escalated as the sweep would.
        clock.state = ClockState.breached
        clock.breached_at = clock.due_at
        record_event(session, clock, "breached", at, why="stopped after its deadline", due_at=clock.due_at)
        breach_events(session, complaint, clock, at, settings, why="stopped after its deadline")
    elif clock.state is ClockState.running:
        clock.state = ClockState.met if met else ClockState.cancelled
    kind = {ClockState.met: "met", ClockState.cancelled: "cancelled"}.get(clock.state, "stopped")
    record_event(session, clock, kind, at, why=why)


def running(
    session: Session,
    complaint: Timed[Any],
    *kinds: ClockKind,
    unit: ResponsibleUnit | None = None,
    held: Sequence[Clock] | None = None,
) -> list[Clock]:
    """The complaint's running clocks (of these kinds; with ``unit``, only those waiting for that unit): of ``held``,
    its clocks as this transaction holds them (``hold``), or else read and locked."""
    if held is not None:
        return [clock for clock in held if clock.stopped_at is None and _is(clock, kinds, unit)]
    params: dict[str, Any] = {"complaint_id": complaint.id}
    if kinds:
        params["kinds"] = list(kinds)
    if unit is not None:
        params["unit"] = unit.id
    return list(session.scalars(_running(bool(kinds), unit.kind if unit is not None else None), params))


@cache
def _running(of_kinds: bool, unit: UnitKind | None) -> Select[Clock]:
    """The running clocks of the parameter ``complaint_id``, locked (of the ``kinds``; waiting for the ``unit`` of
    that kind). Built once per shape: every move reads them, and a statement built anew costs CPU before it is sent
    (its cache key too)."""
    query = select(Clock).where(Clock.complaint_id == bindparam("complaint_id"), Clock.stopped_at.is_(None))
    if of_kinds:
        query = query.where(Clock.kind.in_(bindparam("kinds", expanding=True)))
    if unit is not None:
        column = Clock.store_id if unit is UnitKind.store else Clock.department
        query = query.where(column == bindparam("unit"))
    return query.with_for_update()


def _is(clock: Clock, kinds: Sequence[ClockKind], unit: ResponsibleUnit | None) -> bool:
    """``_running``'s conditions on a clock in hand: of one of the kinds (any, if none), waiting for the unit."""
    if kinds and clock.kind not in kinds:
        return False
    if unit is None:
        return True
    return (clock.store_id if unit.kind is UnitKind.store else clock.department) == unit.id


# The order a complaint's clocks are shown in (its ``clocks``): started first, then by id; in SQL, and in hand.
SHOWN_ORDER = (Clock.started_at, Clock.id)


def hold(session: Session, complaint: Timed[Any]) -> list[Clock]:
    """Every clock of the complaint, locked for the rest of the transaction, in the order they are shown: a move
    reads them once, starts and stops them in this list (``after_move``'s ``held``) and shows the list as it leaves
    it, instead of reading them again after the move (a statement fewer per move)."""
    return list(session.scalars(of_complaint(locked=True), {"complaint_id": complaint.id}))


@cache
def of_complaint(locked: bool = False) -> Select[Clock]:
    """The clocks of the parameter ``complaint_id``, in the order they are shown; ``locked`` for the rest of the
    transaction. Built once per shape: a statement built anew costs CPU before it is sent (its cache key too)."""
    query = select(Clock).where(Clock.complaint_id == bindparam("complaint_id")).order_by(*SHOWN_ORDER)
    return query.with_for_update() if locked else query


def shown_order(clock: Clock) -> tuple[datetime, uuid.UUID]:
    """``SHOWN_ORDER``, of a clock in hand."""
    return clock.started_at, clock.id


def _stop_all(
    session: Session,
    complaint: Timed[Any],
    kind: ClockKind,
    at: datetime,
    settings: Settings,
    why: str,
    *,
    held: Sequence[Clock],
    met: bool = True,
    unit: ResponsibleUnit | None = None,
) -> None:
    """Stop the complaint's running clocks of this kind among ``held`` (with ``unit``: those waiting for that unit
    only)."""
    for clock in running(session, complaint, kind, unit=unit, held=held):
        stop(session, complaint, clock, at, settings, why=why, met=met)


@dataclass(frozen=True)
class AtRegistration(Generic[Entry]):
    """What the clocks add to a new complaint: its written-reply clock (and a major complaint's incident-report
    clock), each with its first event, and the escalations of its priority (media, major: at once)."""

    clocks: Sequence[tuple[Clock, ClockEvent]]
    events: Sequence[Entry]


def at_registration(connection: Connection, complaint: Timed[Entry], settings: Settings) -> AtRegistration[Entry]:
    """The rows, not yet written: registration writes them with Core statements (complaints.registration)."""
    calendar = Calendar(connection)
    received = complaint.received_at
    started = [new_clock(calendar, complaint, ClockKind.written_reply, received, settings, why="complaint received")]
    if complaint.priority is Priority.major:
        why = "a major complaint: the written incident report is due"
        started.append(new_clock(calendar, complaint, ClockKind.incident_report, received, settings, why=why))
    trigger = Trigger.of_priority(complaint.priority)
    events: list[Entry] = []
    if trigger is not None:
        reason = f"{complaint.priority} complaint at registration"
        at = complaint.accepted_at
        events += escalation_events(
            connection, complaint, trigger, at, reason, settings, registering=True, priority=complaint.priority
        )
    return AtRegistration(started, events)


def reached_at_registration(priority: Priority, settings: Settings, *, repeat: bool = False) -> list[str]:
    """What a new complaint of ``priority`` (a ``repeat`` one too) is escalated to at once (its ``escalated_to``): a
    column of its insert, as its history entries say."""
    triggers = [trigger for trigger in (Trigger.of_priority(priority),) if trigger is not None]
    if repeat:
        triggers.append(Trigger.repeat)
    ladder = policy(settings).ladder
    return [escalation.mark(trigger, position) for trigger in triggers for position in ladder[trigger]]


def after_move(
    session: Session,
    complaint: Timed[Any],
    move: str,
    effects: Mapping[ClockKind, ClockEffect],
    at: datetime,
    actor: str,
    settings: Settings,
    *,
    held: list[Clock],
    unit: ResponsibleUnit | None = None,
) -> None:
    """Start and stop the complaint's clocks as the move just made declares (``effects``: one per kind of clock),
    among ``held``, all its clocks as the move's transaction holds them (``hold``): those started are added to it.

    ``unit`` is the responsible unit the move speaks for (a feedback's store or department): a feedback clock it
    stops is that unit's alone, so that a store's feedback does not stop the clock of a department dispatched the
    same complaint."""
    for kind in ClockKind:
        declared = effects[kind]  # every kind has its declared effect: no default
        if declared.only_if is not None and not getattr(complaint, declared.only_if):
            continue
        why = declared.why.format(move=move, actor=actor, unit=unit or "")
        when = (getattr(complaint, declared.at) if declared.at else None) or at
        match declared.effect:
            case Effect.leave:
                pass
            case Effect.start:
                start(session, complaint, kind, when, settings, why=why, held=held)
            case Effect.met | Effect.cancel:
                met, own = declared.effect is Effect.met, unit if kind is ClockKind.store_feedback else None
                _stop_all(session, complaint, kind, when, settings, why, met=met, unit=own, held=held)
            case Effect.dispatch:
                if complaint.dispatched_at == at:  # dispatched (again) by this move
                    _stop_all(session, complaint, kind, at, settings, DISPATCHED_AGAIN, met=False, held=held)
                    for dispatched in dispatched_units(
                        complaint.responsible_store_id, complaint.responsible_department
                    ):
                        reason = declared.why.format(move=move, actor=actor, unit=dispatched)
                        start(session, complaint, kind, at, settings, why=reason, unit=dispatched, held=held)
            case Effect.restart:
                restart_on_priority(session, complaint, at, settings, why=why, kinds=(kind,), held=held)
            case unknown:
                assert_never(unknown)


def restart_on_priority(
    session: Session,
    complaint: Timed[Any],
    at: datetime,
    settings: Settings,
    *,
    why: str,
    kinds: Sequence[ClockKind] = (),
    held: list[Clock] | None = None,
) -> int:
    """The complaint's priority changed: each clock still running (of ``kinds``, or any; not breached: a breach
    stays) stops, cancelled, and starts again on the new priority's target, counted from when the clock it replaces
    started (a raised priority shortens the time left, never lengthens it). Returns how many restarted. With
    ``held`` (a move's, ``hold``): of those, and the new clocks are added to it."""
    calendar = Calendar(session)
    restarted = 0
    for old in running(session, complaint, *kinds, held=held):
        if old.state is not ClockState.running:
            continue
        stop(session, complaint, old, at, settings, why=why, met=False)
        clock, started = new_clock(
            calendar,
            complaint,
            old.kind,
            old.started_at,
            settings,
            why=why,
            unit=unit_named(old.store_id, old.department),
        )
        started.at = at  # restarted now; the deadline counts from the start of the clock it replaces
        started.detail = {**started.detail, "restarted_at": at.isoformat(), "replaces": str(old.id)}
        session.add_all([clock, started])
        if held is not None:
            held.append(clock)
        restarted += 1
    return restarted


def incident_report_clock(
    session: Session, complaint: Timed[Any], at: datetime, settings: Settings, *, why: str
) -> None:
    """After a correction of the priority: a major complaint's incident report falls due (its clock starts, unless it
    runs); one no longer major owes none (its clock stops, cancelled)."""
    running_now = running(session, complaint, ClockKind.incident_report)
    if complaint.incident_report_due and not running_now:
        start(session, complaint, ClockKind.incident_report, at, settings, why=why)
    elif not complaint.incident_report_due:
        for clock in running_now:
            stop(session, complaint, clock, at, settings, why=why, met=False)


def recompute_between(session: Session, first: date, last: date, settings: Settings, *, why: str, at: datetime) -> int:
    """Recompute running working-day clocks whose count touches the days ``first``..``last``; returns how many
    changed (their deadline moved, or they stopped or started being assumed)."""
    tz = settings.tz
    start_of_first = datetime.combine(first, datetime.min.time(), tzinfo=tz).astimezone(UTC)
    end_of_last = datetime.combine(last + timedelta(days=1), datetime.min.time(), tzinfo=tz).astimezone(UTC)
    candidates = session.scalars(
        select(Clock)
        .where(
            Clock.stopped_at.is_(None),
            Clock.state == ClockState.running,
            Clock.unit == Unit.working_days,
            Clock.started_at < end_of_last,
            Clock.due_at >= start_of_first,
        )
        .with_for_update()
    )
    calendar = Calendar(session)
    changed = 0
    for clock in candidates:
        target = Target(unit=clock.unit, due=clock.target, warn=clock.warn_after)
        due = deadline(clock.started_at, target, calendar, settings)
        if (due.due_at, due.warn_at, due.assumed) == (clock.due_at, clock.warn_at, clock.calendar_assumed):
            continue
        record_event(
            session,
            clock,
            "recomputed",
            at,
            why=why,
            **({"day": first} if first == last else {"days_from": first, "days_to": last}),
            due_at_before=clock.due_at,
            due_at=due.due_at,
            warn_at_before=clock.warn_at,
            warn_at=due.warn_at,
            calendar_assumed=due.assumed,
        )
        clock.due_at, clock.warn_at, clock.calendar_assumed = due.due_at, due.warn_at, due.assumed
        clock.next_check_at = due.due_at if clock.warned else due.warn_at
        changed += 1
    return changed
