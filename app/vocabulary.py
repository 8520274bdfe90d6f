"""Words more than one domain speaks: a complaint's priority and the kinds of its clocks.

Both ``app.complaints`` and ``app.sla`` import from here; neither needs the other for these.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Priority(enum.StrEnum):
    normal = "normal"
    urgent = "urgent"
    media = "media"


class ClockKind(enum.StrEnum):
    store_feedback = "store_feedback"  # dispatch to a store → that store's feedback
    written_reply = "written_reply"  # receipt (or reopen) → rejection or resolution
    follow_up = "follow_up"  # resolution → the follow-up call
    fulfilment = "fulfilment"  # resolution with a remedy of some value → the remedy carried out


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
