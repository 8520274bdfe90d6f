"""Escalating a complaint: which positions a trigger reaches that it has not reached yet, and their addressees.

Runs in the caller's transaction, on a session or a bare connection (registration writes with Core statements); the
caller writes the ``complaint.escalated`` history entries (one per position) with the payloads made here. What a
complaint was escalated to is kept on it (``escalated_to``, ``"trigger:position"``): the same trigger never reaches
the same position twice, whoever fires it (a sweep, a move, a registration). A complaint is locked by whoever
writes its history, so two writers never escalate it at once.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from typing import Any, Protocol, cast

from sqlalchemy import Connection, Table, Update, bindparam, inspect, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from app.units import EscalationContact, Store
from app.vocabulary import Position, Priority, ResponsibleUnit, Trigger, UnitKind, dispatched_units, unit_named

# What an addressee says: enough for a notification system (SMS, WeCom, DingTalk) to send without a lookup.
ADDRESSEE_FIELDS = ("name", "position", "phone", "email", "wecom_id", "dingtalk_id")
# How the company calls each position (the reasons in the history say it).
POSITION_WORDS = {
    Position.store_manager: "店长",
    Position.region_manager: "区域经理",
    Position.cs_supervisor: "客服主管",
    Position.general_manager: "总经理",
}


class Escalated(Protocol):
    """What escalation reads of a complaint, and the one thing it writes (``escalated_to``)."""

    @property
    def id(self) -> uuid.UUID: ...

    @property
    def priority(self) -> Priority: ...

    @property
    def store_id(self) -> str | None: ...

    @property
    def department(self) -> str | None: ...

    @property
    def responsible_store_id(self) -> str | None: ...

    @property
    def responsible_department(self) -> str | None: ...

    escalated_to: list[str] | None


class Positions(Protocol):
    """The ladder (``app.sla.policy.Ladder``): the positions a trigger reaches."""

    def __getitem__(self, trigger: Trigger) -> Sequence[Position]: ...


@dataclass(frozen=True)
class Escalation:
    """One position a trigger reached, with the people it names."""

    trigger: Trigger
    position: Position
    addressees: list[dict[str, Any]]

    def payload(self, reason: str, **extra: Any) -> dict[str, Any]:
        """The ``complaint.escalated`` entry's payload."""
        return {
            **extra,
            "reason": reason,
            "trigger": self.trigger.value,
            "level": self.position.value,
            "addressees": self.addressees,
        }


def escalate(
    reader: Session | Connection,
    complaint: Escalated,
    trigger: Trigger,
    ladder: Positions,
    *,
    unit: ResponsibleUnit | None = None,
    registering: bool = False,
) -> list[Escalation]:
    """The positions ``trigger`` reaches on the ladder that it has not reached on this complaint yet, each with
    its addressees (``remember`` them once written). ``unit``: the unit the trigger is about (a feedback clock's),
    else the units the complaint is dispatched to, else the store or department it is about. ``registering``: the
    complaint is being registered, and its insert already names every position it reaches (``escalated_to``)."""
    reached = set() if registering else set(complaint.escalated_to or ())
    positions = [p for p in ladder[trigger] if mark(trigger, p) not in reached]
    units = _units(complaint, unit) if positions else []
    book = Addressbook.of(reader)
    return [Escalation(trigger, position, book.addressees(position, units)) for position in positions]


MARKS = "tousu.escalation.marks"  # a session's positions reached not yet written (``marks_together``), in its ``info``


def remember(session: Session, complaint: Escalated, escalations: Sequence[Escalation]) -> None:
    """Keep on the complaint the positions these escalations reached. Written by a statement of its own (or, inside
    ``marks_together``, by one for the whole batch): what a complaint was escalated to is not a change a client
    sees, so it leaves the complaint's version (its ETag) as it was."""
    if not escalations:
        return
    marks = [*(complaint.escalated_to or ()), *(mark(e.trigger, e.position) for e in escalations)]
    set_committed_value(complaint, "escalated_to", marks)
    table = cast(Table, inspect(complaint).mapper.local_table)
    together: dict[uuid.UUID, list[str]] | None = session.info.get(MARKS)
    if together is not None:
        together[complaint.id] = marks
        return
    with _no_autoflush(session):
        session.execute(_write_marks(table), [{"b_id": complaint.id, "b_marks": marks}])


@contextmanager
def marks_together(session: Session, table: Table) -> Iterator[None]:
    """Inside: the positions the complaints (of ``table``) reach are written in one statement at the end, as a
    sweep's batch writes its events."""
    together: dict[uuid.UUID, list[str]] = {}
    session.info[MARKS] = together
    try:
        yield
        if together:
            with _no_autoflush(session):
                rows = [{"b_id": complaint_id, "b_marks": marks} for complaint_id, marks in together.items()]
                session.execute(_write_marks(table), rows)
    finally:
        session.info.pop(MARKS, None)


def _write_marks(table: Table) -> Update:
    return update(table).where(table.c.id == bindparam("b_id")).values(escalated_to=bindparam("b_marks"))


def mark(trigger: Trigger, position: Position) -> str:
    return f"{trigger}:{position}"


def _units(complaint: Escalated, unit: ResponsibleUnit | None) -> list[ResponsibleUnit]:
    if unit is not None:
        return [unit]
    dispatched = dispatched_units(complaint.responsible_store_id, complaint.responsible_department)
    if dispatched:
        return dispatched
    about = unit_named(complaint.store_id, complaint.department)
    return [about] if about is not None else []


ADDRESSBOOK = "tousu.escalation.addressbook"  # a session's Addressbook, in its ``info``


class Addressbook:
    """The escalation contacts and the stores' regions, read once for all the escalations of a session: a sweep
    escalates hundreds of clocks in one batch. ``forget`` when a contact or a store's region changes."""

    def __init__(self, reader: Session | Connection) -> None:
        self.reader = reader
        self._contacts: list[dict[str, Any]] | None = None
        self._regions: dict[str, str | None] = {}

    @classmethod
    def of(cls, reader: Session | Connection) -> Addressbook:
        if not isinstance(reader, Session):
            return cls(reader)
        book: Addressbook = reader.info.setdefault(ADDRESSBOOK, cls(reader))
        return book

    @staticmethod
    def forget(session: Session) -> None:
        session.info.pop(ADDRESSBOOK, None)

    def addressees(self, position: Position, units: Sequence[ResponsibleUnit]) -> list[dict[str, Any]]:
        """The contacts at ``position`` for these units: a store manager of the store (a department's head), a
        region manager of the store's region, a supervisor or general manager of the company."""
        stores = {u.id for u in units if u.kind is UnitKind.store}
        departments = {u.id for u in units if u.kind is UnitKind.department}
        match position:
            case Position.store_manager:
                found = [c for c in self._of(position) if c["store_id"] in stores or c["department"] in departments]
            case Position.region_manager:
                regions = {self._region(store) for store in sorted(stores)} - {None}
                found = [c for c in self._of(position) if c["region"] in regions]
            case _:
                found = [c for c in self._of(position) if not (c["store_id"] or c["department"] or c["region"])]
        return [{field: contact[field] for field in ADDRESSEE_FIELDS} for contact in found]

    def _of(self, position: Position) -> list[dict[str, Any]]:
        if self._contacts is None:
            places = (EscalationContact.store_id, EscalationContact.department, EscalationContact.region)
            columns = [*(getattr(EscalationContact, field) for field in ADDRESSEE_FIELDS), *places]
            query = select(*columns).order_by(EscalationContact.name, EscalationContact.id)
            with _no_autoflush(self.reader):
                rows = self.reader.execute(query).mappings().all()
            self._contacts = [{**row, "position": Position(row["position"]).value} for row in rows]
        return [contact for contact in self._contacts if contact["position"] == position.value]

    def _region(self, store_id: str) -> str | None:
        if store_id not in self._regions:
            with _no_autoflush(self.reader):
                self._regions[store_id] = self.reader.execute(
                    select(Store.region).where(Store.id == store_id)
                ).scalar_one_or_none()
        return self._regions[store_id]


def _no_autoflush(reader: Session | Connection) -> AbstractContextManager[object]:
    """What escalation reads and writes (contacts, a store's region, ``escalated_to``) depends on nothing the session
    holds unflushed: it leaves the caller's pending rows to be flushed together (a sweep's thousand events in a few
    statements, not one flush per escalation)."""
    return reader.no_autoflush if isinstance(reader, Session) else nullcontext()
