"""The summary's aggregate queries. Each reads the period's complaints once, by their ``received_at`` index.

Every query answers for each group and for the total (key TOTAL): on PostgreSQL in one pass with GROUPING SETS,
elsewhere with a second query for the total (medians and repeat customers do not add up from the groups).
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Float,
    Select,
    Subquery,
    case,
    cast,
    func,
    literal_column,
    null,
    select,
    tuple_,
    type_coerce,
)
from sqlalchemy.orm import Session

from app.complaints.models import Complaint, State
from app.db import UTCDateTime
from app.sla.models import Clock, ClockState

RESOLVED = (State.resolved, State.revisited)
OPEN = (State.accepted, State.investigating, State.awaiting_approval)
REPLIED = (State.rejected, *RESOLVED)
# The store a complaint counts for: the one it was dispatched to, else the one the customer named.
STORE = func.coalesce(Complaint.responsible_store_id, Complaint.store_id)
# Typed, so that SQLite's naive UTC text comes back as an aware datetime like the columns do.
REPLY_AT = type_coerce(
    case((Complaint.state == State.rejected, Complaint.rejected_at), else_=Complaint.resolved_at), UTCDateTime()
)

Key = ColumnElement[Any] | None
Tally = Counter[str]


@dataclass(frozen=True)
class Scope:
    """The complaints a report reads: received in the period, and for a store key only its own store's."""

    start: datetime
    end: datetime
    store_id: str | None
    now: datetime  # running clocks past their deadline at this moment count as breached

    def select(self, *columns: Any) -> Select[Any]:
        query = select(*columns).select_from(Complaint)
        query = query.where(Complaint.received_at >= self.start, Complaint.received_at < self.end)
        if self.store_id is not None:
            query = query.where(Complaint.responsible_store_id == self.store_id)
        return query


TOTAL = "\x00total"  # the total's entry in what the queries return; no store or department is named so


@dataclass(frozen=True)
class Grouping:
    """How one query groups: by the group's column, by nothing (the total), or both at once (GROUPING SETS)."""

    key: Key
    with_total: bool = False

    def columns(self) -> list[ColumnElement[Any]]:
        """The group (``g``) and whether the row is the total (``total``)."""
        if self.key is None:
            return [null().label("g"), literal_column("1").label("total")]
        total = func.grouping(self.key) if self.with_total else literal_column("0")
        return [self.key.label("g"), total.label("total")]

    def group(self) -> ColumnElement[Any]:
        return null().label("g") if self.key is None else self.key.label("g")

    def over(self, rows: Subquery) -> Grouping:
        """The same grouping, by the ``g`` column of a subquery that selected ``group()``."""
        return Grouping(None if self.key is None else rows.c.g, self.with_total)

    def by(self, *fields: ColumnElement[Any]) -> list[Any]:
        if self.key is None:
            return list(fields)
        if self.with_total:
            return [func.grouping_sets(tuple_(self.key, *fields), tuple_(*fields))]
        return [self.key, *fields]

    @staticmethod
    def name(row: Any) -> Any:
        return TOTAL if row.total else row.g


def groupings(session: Session, key: Key) -> list[Grouping]:
    if key is None:
        return [Grouping(None)]
    if session.get_bind().dialect.name == "postgresql":
        return [Grouping(key, with_total=True)]
    return [Grouping(key), Grouping(None)]


def tallies(session: Session, where: Scope, key: Key) -> dict[Any, Tally]:
    """Per group and in total: received, rejected, resolved, open, reopened; satisfaction; remedies granted
    (complaints now resolved or revisited) by kind, with their cents; each clock kind's runs met, breached (or
    running past their deadline), running. Counted in Python from one row per combination of the columns (cheaper
    than a filter for each figure); these add up, so the total is the sum of the groups (no GROUPING SETS, which
    would also keep PostgreSQL from aggregating in parallel)."""
    found: dict[Any, Tally] = defaultdict(Counter)
    grouping = Grouping(key)
    for row in _complaints(session, where, grouping):
        # The enum columns come back as StrEnum members: they are their own names, no conversion needed.
        figures = Counter({"received": row.n, _STATE_FIGURE[row.state]: row.n})
        if row.reopened:
            figures["reopened"] = row.n
        if row.satisfaction is not None:
            figures[row.satisfaction] = row.n
        if row.remedy_kind is not None and row.state in RESOLVED:
            figures[f"remedy_{row.remedy_kind}"] = row.n
            figures[f"remedy_{row.remedy_kind}_cents"] = int(row.cents or 0)
        _add(found, grouping.name(row), figures)
    for row in _clocks(session, where, grouping):
        figure = ClockState.breached if row.state is ClockState.running and row.overdue else row.state
        if figure is not ClockState.cancelled:
            _add(found, grouping.name(row), Counter({f"{row.kind}_{figure}": row.n}))
    found.setdefault(TOTAL, Counter())
    return found


def _add(found: dict[Any, Tally], group: Any, figures: Tally) -> None:
    found[group].update(figures)
    if group != TOTAL:
        found[TOTAL].update(figures)


_STATE_FIGURE = {
    State.rejected: "rejected",
    **dict.fromkeys(RESOLVED, "resolved"),
    **dict.fromkeys(OPEN, "open"),
}


def _complaints(session: Session, where: Scope, grouping: Grouping) -> Sequence[Any]:
    rows = where.select(
        grouping.group(),
        Complaint.state,
        Complaint.satisfaction,
        Complaint.remedy_kind,
        (Complaint.reopen_count > 0).label("reopened"),
        # In cents: SQLite adds NUMERIC as floating point; whole cents add up exactly on both.
        func.round(Complaint.remedy_amount * 100).label("cents"),
    ).subquery()
    fields = [rows.c.state, rows.c.satisfaction, rows.c.remedy_kind, rows.c.reopened]
    outer = grouping.over(rows)
    query = select(*outer.columns(), *fields, func.count().label("n"), func.sum(rows.c.cents).label("cents"))
    return list(session.execute(query.group_by(*outer.by(*fields))))


def _clocks(session: Session, where: Scope, grouping: Grouping) -> Sequence[Any]:
    """Clock runs of the period's complaints by kind, state and whether past their deadline now."""
    runs = (
        where.select(grouping.group(), Clock.kind, Clock.state, (Clock.due_at < where.now).label("overdue"))
        .join(Clock, Clock.complaint_id == Complaint.id)
        .subquery()
    )
    fields = [runs.c.kind, runs.c.state, runs.c.overdue]
    outer = grouping.over(runs)
    query = select(*outer.columns(), *fields, func.count().label("n")).group_by(*outer.by(*fields))
    return list(session.execute(query))


def reply_seconds(session: Session, where: Scope, key: Key) -> dict[Any, tuple[int, float | None, float | None]]:
    """Per group and in total: complaints replied to (now rejected, resolved or revisited), and the median and
    90th percentile of the seconds from acceptance to the reply: percentile_cont on PostgreSQL; elsewhere the same
    interpolation in Python on the same seconds, so that both databases give the same figures."""
    replied = Complaint.state.in_(REPLIED)
    if session.get_bind().dialect.name == "postgresql":
        (grouping,) = groupings(session, key)
        seconds = cast(func.extract("epoch", REPLY_AT - Complaint.accepted_at), Float)
        query = where.select(
            *grouping.columns(),
            func.count().label("replied"),
            func.percentile_cont(0.5).within_group(seconds).label("median"),
            func.percentile_cont(0.9).within_group(seconds).label("p90"),
        )
        rows = session.execute(query.where(replied).group_by(*grouping.by()))
        return {grouping.name(row): (row.replied, row.median, row.p90) for row in rows}
    durations: dict[Any, list[float]] = defaultdict(list)
    query = where.select(Grouping(key).group(), Complaint.accepted_at, REPLY_AT.label("at")).where(replied)
    for row in session.execute(query):
        seconds = (row.at - row.accepted_at).total_seconds()
        durations[TOTAL].append(seconds)
        if key is not None:
            durations[row.g].append(seconds)
    return {
        g: (len(values), percentile_cont(values, 0.5), percentile_cont(values, 0.9)) for g, values in durations.items()
    }


def percentile_cont(values: Sequence[float], fraction: float) -> float | None:
    """PostgreSQL's percentile_cont: linear interpolation between the two nearest ranks, in the same steps."""
    if not values:
        return None
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    lower, upper = math.floor(position), math.ceil(position)
    first, second = ordered[lower], ordered[upper]
    return first + (second - first) * (position - lower)


def repeats(
    session: Session, where: Scope, key: Key, *fields: ColumnElement[Any], total: bool = True
) -> dict[Any, tuple[int, int]]:
    """Per group and in total (unless not asked): values of ``fields`` (a phone; a store and category) seen more
    than once, and the complaints they account for."""
    found = {}
    for grouping in groupings(session, key) if total else [Grouping(key)]:
        seen = (
            where.select(*grouping.columns(), func.count().label("n"))
            .where(*(field.is_not(None) for field in fields))
            .group_by(*grouping.by(*fields))
            .having(func.count() > 1)
            .subquery()
        )
        query = select(seen.c.g, seen.c.total, func.count().label("values"), func.sum(seen.c.n).label("complaints"))
        for row in session.execute(query.group_by(seen.c.g, seen.c.total)):
            found[grouping.name(row)] = (row.values, int(row.complaints))
    return found


def repeated_causes(session: Session, where: Scope) -> list[tuple[str, str, int]]:
    """Every store and category pair with more than one complaint in the period, the most frequent first."""
    complaints = func.count().label("n")
    query = (
        where.select(STORE.label("store_id"), Complaint.category, complaints)
        .where(STORE.is_not(None))
        .group_by(STORE, Complaint.category)
        .having(func.count() > 1)
        .order_by(complaints.desc(), STORE, Complaint.category)
    )
    return [(row.store_id, row.category, row.n) for row in session.execute(query)]


def weekly(session: Session, where: Scope, boundaries: Sequence[datetime]) -> dict[tuple[int, str], int]:
    """Complaints per week and category: (week's index, category) → count, where week i ends at boundaries[i]."""
    week = case(*((Complaint.received_at < boundary, i) for i, boundary in enumerate(boundaries)))
    query = where.select(week.label("week"), Complaint.category, func.count().label("n"))
    return {(row.week, row.category): row.n for row in session.execute(query.group_by(week, Complaint.category))}
