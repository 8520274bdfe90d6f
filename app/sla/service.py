"""Calendar changes and clock explanations. No HTTP here; the caller's transaction is only flushed."""

from __future__ import annotations

import csv
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path

from sqlalchemy import Select, bindparam, select
from sqlalchemy.orm import Session

from app.config import Settings
from app.db import utcnow
from app.errors import InvalidInput
from app.sla import clocks
from app.sla.calendar import Calendar, Day
from app.sla.models import CalendarDay, CalendarYear, Clock, ClockEvent
from app.sla.policy import Target, Unit
from app.sla.schemas import NO_CALLS, Calls, ClockEventOut, ClockExplained, ClockOut, CountedDay, DayOut, Explanation

FIRST_YEAR, LAST_YEAR = 2000, 2100


def _check_year(day: date) -> None:
    if not FIRST_YEAR <= day.year <= LAST_YEAR:
        raise InvalidInput(f"the calendar covers {FIRST_YEAR} to {LAST_YEAR}", field="date")


def read_day(session: Session, day: date) -> Day:
    _check_year(day)
    return Calendar(session).day(day)


def _put_override(session: Session, day: date, working: bool, name: str | None, actor: str) -> None:
    _check_year(day)
    now = utcnow()
    row = session.get(CalendarDay, day, with_for_update=True)
    if row is None:
        session.add(CalendarDay(day=day, working=working, name=name, set_by=actor, set_at=now))
    else:
        row.working, row.name, row.set_by, row.set_at = working, name, actor, now
    session.flush()


def set_day(session: Session, day: date, working: bool, name: str | None, actor: str, settings: Settings) -> int:
    """Open or close a day; the deadlines it moves are recomputed. Returns how many clocks moved."""
    _put_override(session, day, working, name, actor)
    what = "opened" if working else "closed"
    why = f"{day.isoformat()} {what} by {actor}" + (f": {name}" if name else "")
    return clocks.recompute_between(session, day, day, settings, why=why, at=utcnow())


def clear_day(session: Session, day: date, actor: str, settings: Settings) -> int:
    """Remove an override: the day is again what the published schedule says."""
    _check_year(day)
    row = session.get(CalendarDay, day, with_for_update=True)
    if row is None:
        return 0
    session.delete(row)
    session.flush()
    why = f"override of {day.isoformat()} removed by {actor}"
    return clocks.recompute_between(session, day, day, settings, why=why, at=utcnow())


@dataclass(frozen=True)
class Imported:
    days: int
    years: list[int]
    clocks_recomputed: int


TRUE, FALSE = ("true", "1", "yes"), ("false", "0", "no")


def read_schedule(path: Path) -> list[tuple[date, bool, str | None]]:
    """A CSV file (UTF-8) with the header ``date,working,name``: every holiday and adjusted working day of its
    years."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as file:
            lines = list(csv.DictReader(file))
            header = set(lines[0]) if lines else set()
    except UnicodeDecodeError:
        raise InvalidInput("the file is not UTF-8: save it as CSV UTF-8", field="file") from None
    if not lines:
        raise InvalidInput("the file lists no days (header date,working[,name], then one day per line)", field="file")
    if not {"date", "working"} <= header:
        raise InvalidInput("the file needs the header date,working[,name]", field="file")
    rows = []
    for number, line in enumerate(lines, start=2):
        text = (line.get("date") or "").strip()
        try:
            day = date.fromisoformat(text)
        except ValueError:
            raise InvalidInput(f"line {number}: {text!r} is not a date (YYYY-MM-DD)", field="date") from None
        working = (line.get("working") or "").strip().lower()
        if working not in TRUE + FALSE:
            raise InvalidInput(f"line {number}: working must be true or false", field="working")
        name = (line.get("name") or "").strip() or None
        if name is not None and (len(name) > 100 or any(ord(c) < 32 for c in name)):
            raise InvalidInput(f"line {number}: name must be up to 100 printable characters", field="name")
        _check_year(day)
        rows.append((day, working in TRUE, name))
    return rows


def import_schedule(
    session: Session, rows: Iterable[tuple[date, bool, str | None]], actor: str, settings: Settings
) -> Imported:
    """Every listed day becomes an override and the years listed become known (not assumed), then the running
    clocks that touch those years are recomputed: all in one transaction."""
    rows = list(rows)
    now = utcnow()
    years = sorted({day.year for day, _, _ in rows})
    for year in years:
        if session.get(CalendarYear, year) is None:
            session.add(CalendarYear(year=year, imported_by=actor, imported_at=now))
    for day, working, name in rows:
        _put_override(session, day, working, name, actor)
    why = f"schedule of {', '.join(map(str, years))} imported by {actor}"
    moved = clocks.recompute_between(session, date(years[0], 1, 1), date(years[-1], 12, 31), settings, why=why, at=now)
    return Imported(days=len(rows), years=years, clocks_recomputed=moved)


def explain(session: Session, clock: Clock, settings: Settings, calls: Calls = NO_CALLS) -> ClockExplained:
    tz = settings.tz
    target = Target(unit=clock.unit, due=clock.target, warn=clock.warn_after)
    start_day = clock.started_at.astimezone(tz).date()
    if clock.unit is Unit.working_days:
        computed = clocks.deadline(clock.started_at, target, Calendar(session), settings)
        rule = (
            f"due at {settings.close_of_business:%H:%M} on working day {clock.target} after the day it started "
            f"({start_day.isoformat()}, which does not count); warning at {settings.close_of_business:%H:%M} on "
            f"working day {clock.warn_after}"
        )
        days = [CountedDay(**DayOut.build(day).model_dump(), counted=day.working) for day in computed.days]
        assumed = computed.assumed
    else:
        unit = "calendar days" if clock.unit is Unit.days else "hours"
        rule = (
            f"due {clock.target} {unit} after it started, weekends and holidays included; "
            f"warning after {clock.warn_after}"
        )
        days, assumed = [], False
    history = session.scalars(select(ClockEvent).where(ClockEvent.clock_id == clock.id).order_by(ClockEvent.id))
    return ClockExplained(
        **ClockOut.build(clock, settings, calls=calls).model_dump(),
        explanation=Explanation(rule=rule, days=days, calendar_assumed=assumed),
        history=[ClockEventOut.build(event, tz) for event in history],
    )


def clocks_of(session: Session, complaint_id: object) -> list[Clock]:
    return list(session.scalars(clocks.of_complaint(), {"complaint_id": complaint_id}))


def clocks_of_each(session: Session, complaint_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[Clock]]:
    """The clocks of each of the complaints, in one query (a page of a list shows them all)."""
    found: dict[uuid.UUID, list[Clock]] = {complaint_id: [] for complaint_id in complaint_ids}
    if complaint_ids:
        for clock in session.scalars(_clocks_of_each(), {"complaint_ids": complaint_ids}):
            found[clock.complaint_id].append(clock)
    return found


@cache
def _clocks_of_each() -> Select[Clock]:
    """Built once, like ``clocks.of_complaint``; cheaper than the relationship's ``selectinload``, which builds its
    query for every page."""
    wanted = Clock.complaint_id.in_(bindparam("complaint_ids", expanding=True))
    return select(Clock).where(wanted).order_by(*clocks.SHOWN_ORDER)
