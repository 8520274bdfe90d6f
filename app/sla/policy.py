"""The clocks' targets: policy per priority, from ``TOUSU_SLA_POLICY_FILE`` (TOML) or the handbooks' defaults.

A target counts in working days (due at close of business of the Nth working day after the day the clock
started), in calendar days or in hours (both from the moment it started). The warning comes after ``warn`` of the
same units. The feedback clock has a target per kind of responsible unit: ``store_feedback`` for a store,
``department_feedback`` for a department (by default the same as a store's). The same file holds the escalation
ladder (``[ladder]``: which positions each trigger reaches; see ``Ladder``). Example file::

    [ladder]
    feedback_breach = ["region_manager", "cs_supervisor"]
    urgent = ["cs_supervisor"]

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

from app.vocabulary import ClockKind, Position, Priority, Trigger, UnitKind


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
    incident_report: Target  # runs for a major complaint only

    def __getitem__(self, kind: ClockKind) -> Target:
        target: Target = getattr(self, kind.value)
        return target

    def feedback(self, unit: UnitKind) -> Target:
        """The feedback clock's target for this kind of responsible unit."""
        return self.department_feedback if unit is UnitKind.department else self.store_feedback


def _wd(due: int, warn: int) -> Target:
    return Target(unit=Unit.working_days, due=due, warn=warn)


def _hours(due: int, warn: int) -> Target:
    return Target(unit=Unit.hours, due=due, warn=warn)


INCIDENT_REPORT = _hours(24, 12)  # 004: 重要重大…24小时内提交书面报告

Positions = tuple[Position, ...]


class Ladder(BaseModel):
    """Which positions each trigger reaches (at once, all of them); an empty list: the trigger escalates to no one.

    Defaults from the handbooks: a feedback warning goes to the store manager, a feedback breach to the region's
    manager, a late written reply or a second breach to the customer-service supervisor, and a media or major
    (重大) complaint to the supervisor and the general manager at once."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    feedback_warning: Positions = (Position.store_manager,)
    feedback_breach: Positions = (Position.region_manager,)
    reply_breach: Positions = (Position.cs_supervisor,)
    follow_up_breach: Positions = (Position.cs_supervisor,)
    fulfilment_breach: Positions = (Position.cs_supervisor,)
    incident_report_breach: Positions = (Position.cs_supervisor, Position.general_manager)
    second_breach: Positions = (Position.cs_supervisor,)
    urgent: Positions = ()
    media: Positions = (Position.cs_supervisor, Position.general_manager)
    major: Positions = (Position.cs_supervisor, Position.general_manager)
    repeat: Positions = (Position.cs_supervisor,)

    def __getitem__(self, trigger: Trigger) -> Positions:
        positions: Positions = getattr(self, trigger.value)
        return positions


class Policy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    normal: PriorityTargets = PriorityTargets(
        store_feedback=_wd(2, 1),  # 000: 1~2个工作日内反馈
        written_reply=Target(unit=Unit.days, due=7, warn=5),  # 003: 所有對策答復均應在七日內為之
        follow_up=_wd(2, 1),  # 004: 回访时效在2个工作日内执行
        department_feedback=_wd(2, 1),  # a department answers like a store
        fulfilment=_wd(3, 2),  # the refund paid, the goods exchanged: 3 working days after the reply
        incident_report=INCIDENT_REPORT,
    )
    urgent: PriorityTargets = PriorityTargets(
        store_feedback=Target(unit=Unit.hours, due=24, warn=12),
        written_reply=Target(unit=Unit.days, due=3, warn=2),
        follow_up=_wd(2, 1),
        department_feedback=Target(unit=Unit.hours, due=24, warn=12),
        fulfilment=_wd(3, 2),
        incident_report=INCIDENT_REPORT,
    )
    media: PriorityTargets = PriorityTargets(  # 000 媒体投诉: escalate at once, tighter clocks
        store_feedback=Target(unit=Unit.hours, due=8, warn=4),
        written_reply=Target(unit=Unit.days, due=2, warn=1),
        follow_up=_wd(2, 1),
        department_feedback=Target(unit=Unit.hours, due=8, warn=4),
        fulfilment=_wd(3, 2),
        incident_report=INCIDENT_REPORT,
    )
    major: PriorityTargets = PriorityTargets(  # 004 重大: reported at once, in writing within 24 hours
        store_feedback=_hours(4, 2),
        written_reply=_hours(24, 12),
        follow_up=_wd(2, 1),
        department_feedback=_hours(4, 2),
        fulfilment=_wd(3, 2),
        incident_report=INCIDENT_REPORT,
    )
    ladder: Ladder = Ladder()

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
