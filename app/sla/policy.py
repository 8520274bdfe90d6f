"""The clocks' targets: policy per priority, from ``TOUSU_SLA_POLICY_FILE`` (TOML) or the handbooks' defaults.

A target counts in working days (due at close of business of the Nth working day after the day the clock
started), in calendar days or in hours (both from the moment it started). The warning comes after ``warn`` of the
same units. The feedback clock has a target per kind of responsible unit: ``store_feedback`` for a store,
``department_feedback`` for a department (by default the same as a store's). Example file::

    escalate_at_registration = ["media"]

    [media.store_feedback]
    unit = "hours"
    due = 8
    warn = 4

    [normal.department_feedback]
    unit = "working_days"
    due = 3
    warn = 2
"""

from __future__ import annotations

import enum
import tomllib
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.vocabulary import ClockKind, Priority, UnitKind


class Unit(enum.StrEnum):
    working_days = "working_days"
    days = "days"
    hours = "hours"


class Target(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    unit: Unit
    due: int = Field(ge=1, le=365)
    warn: int = Field(ge=1)

    @model_validator(mode="after")
    def _warn_before_due(self) -> Target:
        if self.warn >= self.due:
            raise ValueError("warn must come before due")
        return self

    def words(self) -> str:
        unit = {"working_days": "working day", "days": "calendar day", "hours": "hour"}[self.unit]
        return f"{self.due} {unit}s, warning after {self.warn}"


class PriorityTargets(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    store_feedback: Target
    written_reply: Target
    follow_up: Target
    # The feedback clock of a department (ClockKind.store_feedback, run for a department).
    department_feedback: Target
    fulfilment: Target

    def __getitem__(self, kind: ClockKind) -> Target:
        target: Target = getattr(self, kind.value)
        return target

    def feedback(self, unit: UnitKind) -> Target:
        """The feedback clock's target for this kind of responsible unit."""
        return self.department_feedback if unit is UnitKind.department else self.store_feedback


def _wd(due: int, warn: int) -> Target:
    return Target(unit=Unit.working_days, due=due, warn=warn)


class Policy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    normal: PriorityTargets = PriorityTargets(
        store_feedback=_wd(2, 1),  # 000: 1~2个工作日内反馈
        written_reply=Target(unit=Unit.days, due=7, warn=5),  # 003: 所有對策答復均應在七日內為之
        follow_up=_wd(2, 1),  # 004: 回访时效在2个工作日内执行
        department_feedback=_wd(2, 1),  # a department answers like a store
        fulfilment=_wd(3, 2),  # the refund paid, the goods exchanged: 3 working days after the reply
    )
    urgent: PriorityTargets = PriorityTargets(
        store_feedback=Target(unit=Unit.hours, due=24, warn=12),
        written_reply=Target(unit=Unit.days, due=3, warn=2),
        follow_up=_wd(2, 1),
        department_feedback=Target(unit=Unit.hours, due=24, warn=12),
        fulfilment=_wd(3, 2),
    )
    media: PriorityTargets = PriorityTargets(  # 000 媒体投诉: escalate at once, tighter clocks
        store_feedback=Target(unit=Unit.hours, due=8, warn=4),
        written_reply=Target(unit=Unit.days, due=2, warn=1),
        follow_up=_wd(2, 1),
        department_feedback=Target(unit=Unit.hours, due=8, warn=4),
        fulfilment=_wd(3, 2),
    )
    escalate_at_registration: frozenset[Priority] = frozenset({Priority.media})

    def target(self, priority: Priority, kind: ClockKind, unit: UnitKind | None = None) -> Target:
        """The target of a clock of ``kind``; for the feedback clock, that of the ``unit`` it waits for."""
        targets: PriorityTargets = getattr(self, priority.value)
        if kind is ClockKind.store_feedback and unit is not None:
            return targets.feedback(unit)
        return targets[kind]


def load_policy(path: Path | None) -> Policy:
    if path is None:
        return Policy()
    with path.open("rb") as file:
        given = tomllib.load(file)
    merged = Policy().model_dump()  # what the file leaves out keeps its default
    for key, value in given.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return Policy.model_validate(merged)
