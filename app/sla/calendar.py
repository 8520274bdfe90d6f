"""Mainland China's working days: weekends and statutory holidays off, adjusted working days (调休) on.

The known years come from the ``holidays`` package (the State Council's published schedules, 调休 included).
An administrator's overrides (``calendar_days``) open or close any day on top of it, and an imported schedule
(``calendar_years``) makes a year known before the package has it. A year that neither knows is counted on
weekends only, and every answer about it says ``assumed``.
"""

from __future__ import annotations

import enum
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from functools import cache, lru_cache

import holidays
from holidays.countries.china import ChinaStaticHolidays
from sqlalchemy import Connection, Select, bindparam, select
from sqlalchemy.orm import Session

from app.sla.models import CalendarChanges, CalendarDay, CalendarYear


class DayKind(enum.StrEnum):
    workday = "workday"
    weekend = "weekend"
    holiday = "holiday"
    adjusted_workday = "adjusted_workday"  # 调休: a Saturday or Sunday that is worked
    opened = "opened"  # an administrator made it a working day
    closed = "closed"  # an administrator made it a day off


class DaySource(enum.StrEnum):
    package = "package"
    override = "override"
    imported = "imported"  # a year whose schedule an administrator imported: the weekend rule, not assumed
    assumed = "assumed"


@dataclass(frozen=True)
class Day:
    date: date
    working: bool
    kind: DayKind
    name: str | None
    source: DaySource

    @property
    def assumed(self) -> bool:
        return self.source is DaySource.assumed

    @property
    def reason(self) -> str:
        """Why the day counts or not, in words for a disputed deadline."""
        if self.kind is DayKind.opened:
            return f"working day by override: {self.name}" if self.name else "working day by override"
        if self.kind is DayKind.closed:
            return f"day off by override: {self.name}" if self.name else "day off by override"
        if self.kind is DayKind.holiday:
            return f"public holiday: {self.name}"
        if self.kind is DayKind.adjusted_workday:
            return f"adjusted working day (调休): {self.name}" if self.name else "adjusted working day (调休)"
        suffix = " (no published schedule for this year: assumed)" if self.assumed else ""
        return ("weekend" if self.kind is DayKind.weekend else "working day") + suffix


PACKAGE_YEARS = frozenset(ChinaStaticHolidays.special_public_holidays)
"""Years whose official schedule the package carries (the State Council publishes each late in the year before)."""


@lru_cache(maxsize=64)
def _package_year(year: int) -> holidays.HolidayBase:
    return holidays.country_holidays("CN", years=year, language="zh_CN")


def package_day(day: date) -> Day:
    """What the package (or, for a year it does not know, the weekend rule) says of a day."""
    weekend = day.weekday() >= 5
    if day.year not in PACKAGE_YEARS:
        kind = DayKind.weekend if weekend else DayKind.workday
        return Day(day, not weekend, kind, None, DaySource.assumed)
    year = _package_year(day.year)
    if day in year.weekend_workdays:
        return Day(day, True, DayKind.adjusted_workday, None, DaySource.package)
    name = year.get(day)
    if name is not None and not year.is_working_day(day):
        return Day(day, False, DayKind.holiday, name, DaySource.package)
    return Day(day, not weekend, DayKind.weekend if weekend else DayKind.workday, None, DaySource.package)


@dataclass(frozen=True)
class Override:
    working: bool
    name: str | None


class Calendar:
    """The days as they stand: the package, then imported years, then single-day overrides.

    With a session or a Core connection it reads the overrides of each year it is asked about, once, from the
    process's copy when the calendar has not changed since it was made (``Kept``); without one it knows only what it
    was given (for computing deadlines in tests and benchmarks).
    """

    def __init__(
        self,
        session: Session | Connection | None = None,
        overrides: dict[date, Override] | None = None,
        known_years: frozenset[int] = frozenset(),
    ) -> None:
        self._session = session
        self._overrides = dict(overrides or {})
        self._known_years = set(known_years)
        self._loaded: set[int] = set()
        self._token: str | None = None

    def _load(self, year: int) -> None:
        if self._session is None or year in self._loaded:
            return
        if not self._loaded:
            self._token = _token(self._session)
        self._loaded.add(year)
        found = KEPT.year(self._token, year)
        if found is None:
            found = _read_year(self._session, year)
            # Kept only if no change came in between (a new statement may see a later commit on PostgreSQL).
            if self._token is not None and _token(self._session) == self._token:
                KEPT.keep(self._token, year, found)
        self._overrides.update(found.overrides)
        if found.known:
            self._known_years.add(year)

    def day(self, day: date) -> Day:
        self._load(day.year)
        override = self._overrides.get(day)
        if override is not None:
            kind = DayKind.opened if override.working else DayKind.closed
            return Day(day, override.working, kind, override.name, DaySource.override)
        found = package_day(day)
        if found.assumed and day.year in self._known_years:
            # An imported schedule covers this year: its holidays are overrides; the rest follows the weekend.
            return Day(day, found.working, found.kind, None, DaySource.imported)
        return found


@dataclass(frozen=True)
class Year:
    """What the database says of one year: its overrides, and whether its schedule was imported."""

    overrides: Mapping[date, Override]
    known: bool


class Kept:
    """The years this process has read, under the token of ``calendar_changes`` they were read with.

    Every change to the calendar's tables draws a new token (migration 0020's triggers), in whichever process or by
    hand: a calendar that reads the token and finds another one reads the database again, and the copies of the
    old token go. A token is random, never drawn twice, so a copy is never taken for another state of the calendar.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._token: str | None = None
        self._years: dict[int, Year] = {}

    def year(self, token: str | None, year: int) -> Year | None:
        with self._lock:
            return self._years.get(year) if token is not None and token == self._token else None

    def keep(self, token: str, year: int, found: Year) -> None:
        with self._lock:
            if token != self._token:
                self._token, self._years = token, {}
            self._years[year] = found


KEPT = Kept()


def _token(session: Session | Connection) -> str | None:
    return session.execute(_token_query()).scalar()


def _read_year(session: Session | Connection, year: int) -> Year:
    first, last = date(year, 1, 1), date(year, 12, 31)
    rows = session.execute(_days_query(), {"first": first, "last": last})
    overrides = {day: Override(working, name) for day, working, name in rows}
    known = session.execute(_year_query(), {"year": year}).first() is not None
    return Year(overrides, known)


# Built once: a statement built anew for every clock started costs CPU before it is sent (its cache key too).


@cache
def _token_query() -> Select[str]:
    return select(CalendarChanges.token).where(CalendarChanges.id == 1)


@cache
def _days_query() -> Select[date, bool, str | None]:
    in_year = CalendarDay.day.between(bindparam("first"), bindparam("last"))
    return select(CalendarDay.day, CalendarDay.working, CalendarDay.name).where(in_year)


@cache
def _year_query() -> Select[int]:
    return select(CalendarYear.year).where(CalendarYear.year == bindparam("year"))
