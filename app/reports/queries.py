"""The summary's aggregate queries: one statement each over the period's complaints, read by their
``received_at`` index, answering for each group and for the total (key TOTAL).

Counts and amounts add up: SQL sums them per group and Python adds the groups into the total. Medians and repeat
customers do not: their statement computes the total beside the groups (GROUPING SETS for the medians on
PostgreSQL, a second branch of the same statement for repeats).
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
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
    or_,
    select,
    tuple_,
    type_coerce,
    union_all,
)
from sqlalchemy.orm import QueryableAttribute, Session

from app.complaints.models import Category, Complaint, RemedyKind, Satisfaction, State
from app.db import UTCDateTime
from app.sla.models import Clock, ClockState
from app.visibility import Viewer
from app.vocabulary import ClockKind, UnitKind

RESOLVED = (State.resolved, State.revisited)
OPEN = (State.accepted, State.investigating, State.awaiting_approval)
REPLIED = (State.rejected, *RESOLVED)
# The store a complaint counts for: the one it was dispatched to, else the one the customer named.
STORE = func.coalesce(Complaint.responsible_store_id, Complaint.store_id)
# Typed, so that SQLite's naive UTC text comes back as an aware datetime like the columns do.
REPLY_AT = type_coerce(
    case((Complaint.state == State.rejected, Complaint.rejected_at), else_=Complaint.resolved_at), UTCDateTime()
)

# A column or expression to group or count by: an ORM attribute (Complaint.category) or a Core expression (STORE).
Column = ColumnElement[Any] | QueryableAttribute[Any]
Key = Column | None
Tally = Counter[str]


@dataclass(frozen=True)
class Scope:
    """The complaints a report reads: received in the period, and of those only what the viewer may read."""

    start: datetime
    end: datetime
    viewer: Viewer
    now: datetime  # running clocks past their deadline at this moment count as breached

    def select(self, *columns: Any) -> Select[Any]:
        query = select(*columns).select_from(Complaint)
        query = query.where(Complaint.received_at >= self.start, Complaint.received_at < self.end)
        return self.viewer.complaints(query)


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

    def by(self, *fields: ColumnElement[Any]) -> list[Any]:
        if self.key is None:
            return list(fields)
        if self.with_total:
            return [func.grouping_sets(tuple_(self.key, *fields), tuple_(*fields))]
        return [self.key, *fields]

    @staticmethod
    def name(row: Any) -> Any:
        return TOTAL if row.total else row.g


def complaint_tallies(session: Session, where: Scope, key: Key) -> dict[Any, Tally]:
    """Per group and in total: received, rejected, resolved, open, reopened; satisfaction; remedies granted
    (complaints now resolved or revisited) by kind, with their cents; complaints with an amount claimed, its cents,
    and the cents granted on them."""
    rows = where.select(
        Grouping(key).group(),
        Complaint.state,
        Complaint.satisfaction,
        Complaint.remedy_kind,
        (Complaint.reopen_count > 0).label("reopened"),
        # In cents: SQLite adds NUMERIC as floating point; whole cents add up exactly on both.
        func.round(Complaint.remedy_amount * 100).label("cents"),
        Complaint.claim_amount.is_not(None).label("claimed"),
        func.round(Complaint.claim_amount * 100).label("claimed_cents"),
    ).subquery()
    c = _combinations(rows, added=("cents", "claimed_cents")).c
    complaints, granted = func.sum(c.n), c.state.in_(RESOLVED)
    return _per_group(
        session,
        key,
        c.g,
        complaints.label("received"),
        complaints.filter(c.state == State.rejected).label("rejected"),
        complaints.filter(granted).label("resolved"),
        complaints.filter(c.state.in_(OPEN)).label("open"),
        complaints.filter(c.reopened).label("reopened"),
        *(complaints.filter(c.satisfaction == answer).label(f"{answer}") for answer in Satisfaction),
        *(complaints.filter(granted & (c.remedy_kind == kind)).label(f"remedy_{kind}") for kind in RemedyKind),
        *(
            func.sum(c.cents).filter(granted & (c.remedy_kind == kind)).label(f"remedy_{kind}_cents")
            for kind in RemedyKind
        ),
        complaints.filter(c.claimed).label("claims"),
        func.sum(c.claimed_cents).label("claimed_cents"),
        func.sum(c.cents).filter(granted & c.claimed).label("claims_granted_cents"),
    )


def clock_tallies(session: Session, where: Scope, key: Key, feedback_of: UnitKind | None = None) -> dict[Any, Tally]:
    """Per group and in total, each clock kind's runs (``written_reply_met``...): met, breached (or running past
    their deadline now), running; cancelled runs count for nothing. With ``feedback_of`` (grouped by store or by
    department), the feedback clocks counted are those of that kind of unit only. A store or department key counts
    no other unit's feedback clock."""
    overdue = (Clock.state == ClockState.running) & (Clock.due_at < where.now)
    figure = case((overdue, ClockState.breached.value), else_=Clock.state).label("figure")
    query = where.select(Grouping(key).group(), Clock.kind, figure).join(Clock, Clock.complaint_id == Complaint.id)
    if feedback_of is not None:
        of_that_kind = Clock.department.is_(None) if feedback_of is UnitKind.store else Clock.department.is_not(None)
        query = query.where(or_(Clock.kind != ClockKind.store_feedback, of_that_kind))
    rows = where.viewer.clocks(query).subquery()
    c = _combinations(rows).c
    runs = func.sum(c.n)
    return _per_group(
        session,
        key,
        c.g,
        *(
            runs.filter((c.kind == kind) & (c.figure == state.value)).label(f"{kind}_{state}")
            for kind in ClockKind
            for state in (ClockState.met, ClockState.breached, ClockState.running)
        ),
    )


def _combinations(rows: Subquery, added: tuple[str, ...] = ()) -> Subquery:
    """One row per combination of the rows' values (the group and what the figures depend on), with how many
    rows have it (``n``) and the sums of the ``added`` columns."""
    fields = [column for column in rows.c if column.name not in added]
    sums = [func.sum(rows.c[name]).label(name) for name in added]
    return select(*fields, func.count().label("n"), *sums).group_by(*fields).subquery()


def _per_group(session: Session, key: Key, group: ColumnElement[Any], *figures: Any) -> dict[Any, Tally]:
    """The figures, each a sum over a group's combinations of the columns it depends on, filtered by its
    condition: SQL reads each complaint once for all of them and Python gets one row per group, not one per
    combination. They add up, so the total is the sum of the groups (GROUPING SETS would also keep PostgreSQL
    from aggregating in parallel)."""
    found: dict[Any, Tally] = defaultdict(Counter)
    total = found[TOTAL]
    for row in session.execute(select(group.label("g"), *figures).group_by(group)):
        counted = Counter({name: int(value) for name, value in row._mapping.items() if name != "g" and value})
        total.update(counted)
        if key is not None:
            found[row.g].update(counted)
    return found


def reply_seconds(session: Session, where: Scope, key: Key) -> dict[Any, tuple[int, float | None, float | None]]:
    """Per group and in total: complaints replied to (now rejected, resolved or revisited), and the median and
    90th percentile of the seconds from acceptance to the reply: percentile_cont on PostgreSQL; elsewhere the same
    interpolation in Python on the same seconds, so that both databases give the same figures."""
    replied = Complaint.state.in_(REPLIED)
    if session.get_bind().dialect.name == "postgresql":
        grouping = Grouping(key, with_total=key is not None)
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
    session: Session, where: Scope, key: Key, *fields: Column, total: bool = True
) -> dict[Any, tuple[int, int]]:
    """Per group and in total (unless not asked): values of ``fields`` (a phone; a store and category) seen more
    than once, and the complaints they account for. A value can repeat within a group only if it repeats in the
    period, so the groups are counted over the complaints of the period's repeated values alone (GROUPING SETS
    would hash every complaint twice, once per grouping)."""
    values = [field.label(f"value_{i}") for i, field in enumerate(fields)]
    repeated = (
        where.select(*values, func.count().label("n"))
        .where(*(field.is_not(None) for field in fields))
        .group_by(*fields)
        .having(func.count() > 1)
        .cte("repeated")
    )
    parts = []
    if total:
        parts.append(select(*Grouping(None).columns(), *_repeated_values(repeated)))
    if key is not None:
        in_group = (
            where.select(key.label("g"), func.count().label("n"))
            .where(tuple_(*fields).in_(select(*(repeated.c[value.name] for value in values))))
            .group_by(key, *fields)
            .having(func.count() > 1)
            .subquery()
        )
        grouping = Grouping(in_group.c.g)
        parts.append(select(*grouping.columns(), *_repeated_values(in_group)).group_by(*grouping.by()))
    query = union_all(*parts) if len(parts) > 1 else parts[0]
    return {Grouping.name(row): (row.values, int(row.complaints or 0)) for row in session.execute(query)}


def _repeated_values(seen: Any) -> list[Any]:
    return [func.count().label("values"), func.sum(seen.c.n).label("complaints")]


def repeated_causes(session: Session, where: Scope) -> list[tuple[str, Category, int]]:
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


def repeat_complainants(session: Session, where: Scope, most: int) -> list[tuple[str, list[tuple[Any, str]]]]:
    """The ``most`` phones with the most complaints in the period (more than one each), the most frequent first,
    each with its complaints (id and number) oldest first."""
    phone = Complaint.complainant_phone
    complaints = func.count().label("n")
    top = (
        where.select(phone.label("phone"), complaints)
        .group_by(phone)
        .having(func.count() > 1)
        .order_by(complaints.desc(), phone)
        .limit(most)
        .cte("top")
    )
    query = (
        where.select(phone, Complaint.id, Complaint.number)
        .join(top, top.c.phone == phone)
        .order_by(top.c.n.desc(), phone, Complaint.id)
    )
    found: dict[str, list[tuple[Any, str]]] = {}
    for row in session.execute(query):
        found.setdefault(row.complainant_phone, []).append((row.id, row.number))
    return list(found.items())


def weekly(session: Session, where: Scope, boundaries: Sequence[datetime]) -> dict[tuple[int, str], int]:
    """Complaints per week and category: (week's index, category) → count, where week i ends at boundaries[i]."""
    week = case(*((Complaint.received_at < boundary, i) for i, boundary in enumerate(boundaries)))
    query = where.select(week.label("week"), Complaint.category, func.count().label("n"))
    return {(row.week, row.category): row.n for row in session.execute(query.group_by(week, Complaint.category))}


def cause_before_after(
    session: Session, viewer: Viewer, store_id: str | None, category: Category | None, done_at: datetime, days: int
) -> tuple[int, int]:
    """Complaints of a cause (the store they count for and/or their category) that the viewer reads, received in
    the ``days`` before ``done_at`` and in the ``days`` from it."""
    window = timedelta(days=days)
    before = (Complaint.received_at >= done_at - window) & (Complaint.received_at < done_at)
    after = (Complaint.received_at >= done_at) & (Complaint.received_at < done_at + window)
    counts: list[Any] = [func.count().filter(before).label("before"), func.count().filter(after).label("after")]
    query = select(*counts).select_from(Complaint)
    query = query.where(Complaint.received_at >= done_at - window, Complaint.received_at < done_at + window)
    if store_id is not None:
        counted_for = STORE
        query = query.where(counted_for == store_id)
    if category is not None:
        query = query.where(Complaint.category == category)
    row: Any = session.execute(viewer.complaints(query)).one()
    return int(row.before or 0), int(row.after or 0)
