"""The clocks and the calendar as the API shows them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field

from app.config import Settings
from app.db import utcnow
from app.sla.calendar import Day, DayKind, DaySource
from app.sla.models import Clock, ClockEvent, ClockState
from app.sla.policy import Unit
from app.types import Bool, local_times, text_rules
from app.vocabulary import ClockKind


class CallSlot(BaseModel):
    start: datetime
    end: datetime


CALL_BACK_WINDOW = timedelta(minutes=30)  # a time the customer named: call then, or within half an hour


@dataclass(frozen=True)
class Calls:
    """The follow-up calls that did not get through so far, as far as the next slot depends on them."""

    last_at: datetime | None = None
    call_back_at: datetime | None = None  # the time the customer named at the last call


NO_CALLS = Calls()


class ClockOut(BaseModel):
    id: uuid.UUID
    kind: ClockKind = Field(
        description="store_feedback (the responsible unit's feedback: a store's or a department's), written_reply "
        "follow_up or fulfilment."
    )
    state: ClockState = Field(description="running, met, breached, or cancelled (no longer applies).")
    warning: bool = Field(description="True once the warning has fired on a clock still running.")
    store_id: str | None = Field(description="For store_feedback: the store whose feedback it waits for.")
    department: str | None = Field(
        None, description="For store_feedback: the department whose feedback it waits for.", examples=["品管部"]
    )
    target: str = Field(examples=["2 working days, warning after 1"])
    started_at: datetime
    warn_at: datetime
    due_at: datetime
    stopped_at: datetime | None
    remaining_seconds: int | None = Field(
        description="Until due, while running; negative once overdue; null when stopped.", examples=[86400]
    )
    calendar_assumed: bool = Field(
        description="The deadline crosses a year with no published holiday schedule: counted on weekends only."
    )
    next_call_slot: CallSlot | None = Field(
        None,
        description="For a running follow-up: when to call next (local time). The time the customer named at the "
        "last call (`call_back`), for half an hour; after an unanswered call, the first window of the customer's "
        "good hours on a later day; before any call, the next window of good hours.",
    )

    @classmethod
    def build(cls, clock: Clock, settings: Settings, now: datetime | None = None, calls: Calls = NO_CALLS) -> ClockOut:
        now = now or utcnow()
        tz = settings.tz
        running = clock.stopped_at is None
        slot = None
        if running and clock.kind is ClockKind.follow_up:
            slot = call_slot(clock, calls, now, settings)
        return cls(
            id=clock.id,
            kind=clock.kind,
            state=clock.state,
            warning=clock.state is ClockState.running and clock.warned_at is not None,
            store_id=clock.store_id,
            department=clock.department,
            target=_target_words(clock),
            started_at=clock.started_at.astimezone(tz),
            warn_at=clock.warn_at.astimezone(tz),
            due_at=clock.due_at.astimezone(tz),
            stopped_at=clock.stopped_at.astimezone(tz) if clock.stopped_at else None,
            remaining_seconds=int((clock.due_at - now).total_seconds()) if running else None,
            calendar_assumed=clock.calendar_assumed,
            next_call_slot=slot,
        )


def _target_words(clock: Clock) -> str:
    unit = {Unit.working_days: "working day", Unit.days: "calendar day", Unit.hours: "hour"}[clock.unit]
    return f"{clock.target} {unit}s, warning after {clock.warn_after}"


def call_slot(clock: Clock, calls: Calls, now: datetime, settings: Settings) -> CallSlot:
    """When to make the follow-up call next, given the calls that did not get through."""
    tz: ZoneInfo = settings.tz
    named = calls.call_back_at
    if named is not None and now < named + CALL_BACK_WINDOW:
        return CallSlot(start=named.astimezone(tz), end=(named + CALL_BACK_WINDOW).astimezone(tz))
    after = max(now, clock.started_at)
    if calls.last_at is not None and named is None:
        # Not again the same day: the customer is tried on another day, at another of their good hours.
        next_day = calls.last_at.astimezone(tz).date() + timedelta(days=1)
        after = max(after, datetime.combine(next_day, time(0, 0), tzinfo=tz))
    return next_call_slot(after, settings)


def next_call_slot(after: datetime, settings: Settings) -> CallSlot:
    """The first moment at or after ``after`` inside the customer's good hours, and the end of that window."""
    tz: ZoneInfo = settings.tz
    local = after.astimezone(tz)
    for offset in range(8):
        day = local.date() + timedelta(days=offset)
        for start, end in settings.windows:
            window_start = datetime.combine(day, start, tzinfo=tz)
            window_end = datetime.combine(day, end, tzinfo=tz)
            if local < window_end:
                return CallSlot(start=max(local, window_start), end=window_end)
    raise AssertionError("there is a window every day")


class DayOut(BaseModel):
    date: date
    working: bool
    kind: DayKind = Field(description="workday, weekend, holiday, adjusted_workday (调休), opened or closed.")
    name: str | None = Field(examples=["国庆节"])
    source: DaySource = Field(description="package, override, imported, or assumed (no schedule for the year).")
    reason: str = Field(examples=["public holiday: 国庆节"])

    @classmethod
    def build(cls, day: Day) -> DayOut:
        return cls(
            date=day.date, working=day.working, kind=day.kind, name=day.name, source=day.source, reason=day.reason
        )


class CountedDay(DayOut):
    counted: bool = Field(description="Whether this day counted toward the deadline.")


class Explanation(BaseModel):
    rule: str = Field(
        examples=["due at 18:00 on the 2nd working day after the day it started (2026-11-20, not counted)"]
    )
    days: list[CountedDay] = Field(description="For working-day clocks: every day from the start to the due day.")
    calendar_assumed: bool


class ClockEventOut(BaseModel):
    kind: str = Field(examples=["recomputed"])
    at: datetime
    detail: dict[str, Any]

    @classmethod
    def build(cls, event: ClockEvent, tz: ZoneInfo) -> ClockEventOut:
        return cls(kind=event.kind, at=event.at.astimezone(tz), detail=local_times(event.detail, tz))


class ClockExplained(ClockOut):
    explanation: Explanation
    history: list[ClockEventOut]


class DayIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    working: Bool = Field(description="True to open the day for work, false to close it.")
    name: Annotated[str, *text_rules(100)] | None = Field(
        None, examples=["公司年会"], description="Why: shown in every explanation."
    )


class DayChanged(DayOut):
    clocks_recomputed: int = Field(description="Running clocks whose deadlines moved because of this change.")
