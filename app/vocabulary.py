"""Words more than one domain speaks: a complaint's priority, the kinds of its clocks, and the escalation ladder's.

Both ``app.complaints`` and ``app.sla`` import from here; neither needs the other for these.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Priority(enum.StrEnum):
    """In rising order: a complaint's priority is raised (``escalate``), never lowered but by a manager's correction."""

    normal = "normal"
    urgent = "urgent"
    media = "media"  # 媒体投诉: a journalist, a post going round
    major = "major"  # 重大: injury, food safety, many customers at once, a regulator involved

    @property
    def rank(self) -> int:
        return list(Priority).index(self)


class ClockKind(enum.StrEnum):
    store_feedback = "store_feedback"  # dispatch to a store → that store's feedback
    written_reply = "written_reply"  # receipt (or reopen) → rejection or resolution
    follow_up = "follow_up"  # resolution → the follow-up call
    fulfilment = "fulfilment"  # resolution with a remedy of some value → the remedy carried out
    incident_report = "incident_report"  # a major complaint (重大) → its written incident report (24 hours)


class Position(enum.StrEnum):
    """The rungs of the escalation ladder: the people an escalation reaches, by their position."""

    store_manager = "store_manager"  # 店长: the responsible store's manager (a department's head, for a department)
    region_manager = "region_manager"  # 区域经理: the manager of the store's region
    cs_supervisor = "cs_supervisor"  # 客服主管: the customer-service department's supervisor
    general_manager = "general_manager"  # 总经理


class Trigger(enum.StrEnum):
    """What makes a complaint escalate: each reaches the positions the ladder names for it, once per position."""

    feedback_warning = "feedback_warning"  # a responsible unit's feedback clock warned
    feedback_breach = "feedback_breach"  # ... and breached
    reply_breach = "reply_breach"  # the written reply is late
    follow_up_breach = "follow_up_breach"  # the follow-up call is late
    fulfilment_breach = "fulfilment_breach"  # the remedy is not carried out in time
    incident_report_breach = "incident_report_breach"  # a major complaint's written incident report is late
    second_breach = "second_breach"  # any clock of a complaint that already had one breach
    urgent = "urgent"  # registered as, or raised to, this priority
    media = "media"
    major = "major"
    repeat = "repeat"  # a repeat complaint (the same phone again and again, the same order while it is open)

    @classmethod
    def of_priority(cls, priority: Priority) -> Trigger | None:
        """The trigger of a complaint registered as, or raised to, ``priority`` (none for a normal one)."""
        return None if priority is Priority.normal else cls(priority.value)


class UnitKind(enum.StrEnum):
    """The kinds of responsible unit (责任单位) a complaint is dispatched to: they see it, and owe their feedback."""

    store = "store"
    department = "department"  # 品管, logistics, after-sales...


@dataclass(frozen=True)
class ResponsibleUnit:
    """One responsible unit: a store by its id, or a department by its name (as dispatched)."""

    kind: UnitKind
    id: str

    def __str__(self) -> str:
        return f"{self.kind} {self.id}"


def unit_named(store_id: object, department: object) -> ResponsibleUnit | None:
    """The unit a row or body names by its ``store_id`` or ``department`` (a store first), if any."""
    if store_id:
        return ResponsibleUnit(UnitKind.store, str(store_id))
    if department:
        return ResponsibleUnit(UnitKind.department, str(department))
    return None


def dispatched_units(store_id: str | None, department: str | None) -> list[ResponsibleUnit]:
    """The units a complaint is dispatched to: its store, its department, or both (each owes its feedback)."""
    units = []
    if store_id:
        units.append(ResponsibleUnit(UnitKind.store, store_id))
    if department:
        units.append(ResponsibleUnit(UnitKind.department, department))
    return units
