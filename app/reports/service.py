"""The summary analysis (投诉汇总分析表): a period's figures, by group and in total.

A complaint is in the period when it was received (``received_at``) in it. Every figure describes the period's
complaints as they stand now: their current state, all runs of their clocks, their latest follow-up call.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import text
from sqlalchemy.orm import Session

from app.actions import service as actions
from app.auth.principal import Principal
from app.complaints.contact import mask_phone
from app.complaints.models import Category, Complaint, RemedyKind
from app.directory import service as directory
from app.reports import queries
from app.reports import schemas as s
from app.reports.queries import STORE, TOTAL, Scope, Tally
from app.visibility import Viewer
from app.vocabulary import ClockKind, UnitKind

TOP_CAUSES = 10
TOP_COMPLAINANTS = 10
RATE_DIGITS = 4
HOUR_DIGITS = 2
CENT = Decimal("0.01")
# Enough memory for a month's sorts and hashes (phones, store and category pairs) to stay off the disk.
REPORT_WORK_MEM = "64MB"

GROUP_KEYS: dict[s.GroupBy, queries.Column] = {
    s.GroupBy.store: STORE,
    s.GroupBy.category: Complaint.category,
    s.GroupBy.channel: Complaint.channel,
    s.GroupBy.department: Complaint.responsible_department,
    s.GroupBy.responsibility: Complaint.responsibility,
}
# Grouped by a kind of unit, a group's feedback clocks are those of that kind of unit (a store's, a department's).
FEEDBACK_OF = {s.GroupBy.store: UnitKind.store, s.GroupBy.department: UnitKind.department}


def period(first: date, last: date, tz: ZoneInfo) -> s.Period:
    """Local dates ``first`` to ``last``, both included: from local midnight to the local midnight after."""
    start = datetime.combine(first, time(), tz)
    end = datetime.combine(last + timedelta(days=1), time(), tz)
    return s.Period(from_=first, to=last, time_zone=tz.key, start=start, end=end)


def scope(the_period: s.Period, principal: Principal, now: datetime) -> Scope:
    return Scope(the_period.start, the_period.end, Viewer.of(principal), now)


def _prepare(session: Session) -> None:
    if session.get_bind().dialect.name == "postgresql":
        # A report's sorts and hashes (a month of phones, store and category pairs) stay in memory; the plans are
        # too short-lived to be worth compiling.
        session.execute(text(f"SET LOCAL work_mem = '{REPORT_WORK_MEM}'"))
        session.execute(text("SET LOCAL jit = off"))


def summary(session: Session, the_period: s.Period, group_by: s.GroupBy | None, where: Scope) -> s.Summary:
    _prepare(session)
    key = GROUP_KEYS[group_by] if group_by is not None else None
    tallies = queries.complaint_tallies(session, where, key)
    feedback_of = FEEDBACK_OF.get(group_by) if group_by is not None else None
    for group, runs in queries.clock_tallies(session, where, key, feedback_of).items():
        tallies[group].update(runs)
    replies = queries.reply_seconds(session, where, key)
    phones = queries.repeats(session, where, key, Complaint.complainant_phone)
    pairs = queries.repeated_causes(session, where)
    causes = _causes_by_group(session, where, group_by, pairs)
    names = directory.names(session, feedback_of) if feedback_of is not None else {}

    def row(g: Any) -> s.SummaryRow:
        group = None if g == TOTAL else g
        figures = (tallies[g], replies.get(g, (0, None, None)), phones.get(g, (0, 0)), causes.get(g, (0, 0)))
        return _row(group, names.get(group) if group is not None else None, *figures)

    named = sorted((g for g in tallies if g != TOTAL), key=lambda g: (g is None, g or ""))
    return s.Summary(
        period=the_period,
        group_by=group_by,
        generated_at=where.now.astimezone(ZoneInfo(the_period.time_zone)),
        groups=[row(g) for g in named],
        total=row(TOTAL),
        top_repeat_causes=[
            s.RepeatCause(store_id=store, category=category, complaints=n) for store, category, n in pairs[:TOP_CAUSES]
        ],
        top_repeat_complainants=[
            s.RepeatComplainant(
                phone=mask_phone(phone),
                complaints=len(listed),
                listed=[s.RepeatComplaintRef(id=complaint_id, number=number) for complaint_id, number in listed],
            )
            for phone, listed in queries.repeat_complainants(session, where, TOP_COMPLAINANTS)
        ],
        corrective_actions=action_effects(session, where, the_period, pairs[:TOP_CAUSES]),
    )


def action_effects(
    session: Session, where: Scope, the_period: s.Period, causes: list[tuple[str, Category, int]]
) -> list[s.ActionEffect]:
    """The actions on the top repeat causes and those done in the period, each with the complaints of its cause in
    the period's length before and after it was done. Whether they fell is known once the window after is over."""
    days = (the_period.to - the_period.from_).days + 1
    pairs = [(store, category) for store, category, _ in causes]
    effects = []
    for action in actions.on_causes(session, where.viewer, pairs, where.start, where.end):
        before = after = fell = None
        if action.done_at is not None:
            before, after = queries.cause_before_after(
                session, where.viewer, action.store_id, action.category, action.done_at, days
            )
            if action.done_at + timedelta(days=days) <= where.now:
                fell = after < before
        effects.append(
            s.ActionEffect(
                id=action.id,
                store_id=action.store_id,
                category=action.category,
                cause=action.cause,
                state=action.state,
                done_at=action.done_at.astimezone(ZoneInfo(the_period.time_zone)) if action.done_at else None,
                window_days=days,
                before=before,
                after=after,
                fell=fell,
            )
        )
    return effects


def _causes_by_group(
    session: Session, where: Scope, group_by: s.GroupBy | None, pairs: list[tuple[str, Category, int]]
) -> dict[Any, tuple[int, int]]:
    """Repeat causes per group and in total. Grouped by store or category, a pair holds its group: the period's
    pairs are enough. Otherwise one more query, for the groups only: the pairs give the total."""
    if group_by in (s.GroupBy.store, s.GroupBy.category):
        found: dict[Any, tuple[int, int]] = {}
        for store, category, n in pairs:
            group = store if group_by is s.GroupBy.store else category
            count, complaints = found.get(group, (0, 0))
            found[group] = (count + 1, complaints + n)
    elif group_by is not None:
        found = queries.repeats(session, where, GROUP_KEYS[group_by], STORE, Complaint.category, total=False)
    else:
        found = {}
    found[TOTAL] = (len(pairs), sum(n for _, _, n in pairs))
    return found


def _row(
    group: str | None,
    name: str | None,
    tally: Tally,
    replies: tuple[int, float | None, float | None],
    phones: tuple[int, int],
    causes: tuple[int, int],
) -> s.SummaryRow:
    answered = tally["satisfied"] + tally["neutral"] + tally["unsatisfied"]
    replied, median, p90 = replies
    return s.SummaryRow(
        group=group,
        name=name,
        received=tally["received"],
        rejected=tally["rejected"],
        resolved=tally["resolved"],
        open=tally["open"],
        reopened=tally["reopened"],
        reopen_rate=_rate(tally["reopened"], tally["received"]),
        clocks={kind: _clock(tally, kind) for kind in ClockKind},
        reply_time=s.ReplyTime(replied=replied, median_hours=_hours(median), p90_hours=_hours(p90)),
        satisfaction=s.SatisfactionFigures(
            satisfied=tally["satisfied"],
            neutral=tally["neutral"],
            unsatisfied=tally["unsatisfied"],
            unreachable=tally["unreachable"],
            satisfied_rate=_rate(tally["satisfied"], answered),
        ),
        repeat_complainants=s.Repeats(count=phones[0], complaints=phones[1]),
        repeat_causes=s.Repeats(count=causes[0], complaints=causes[1]),
        remedies=[
            s.RemedyTotal(
                kind=kind,
                count=tally[f"remedy_{kind}"],
                amount=_yuan(tally[f"remedy_{kind}_cents"]),
            )
            for kind in RemedyKind
            if tally[f"remedy_{kind}"]
        ],
        claims=s.Claims(
            count=tally["claims"],
            amount_claimed=_yuan(tally["claimed_cents"]),
            amount_granted=_yuan(tally["claims_granted_cents"]),
        ),
    )


def _clock(tally: Tally, kind: ClockKind) -> s.ClockFigures:
    met, breached = tally[f"{kind}_met"], tally[f"{kind}_breached"]
    return s.ClockFigures(
        met=met, breached=breached, running=tally[f"{kind}_running"], on_time_rate=_rate(met, met + breached)
    )


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, RATE_DIGITS) if whole else None


def _hours(seconds: float | None) -> float | None:
    return round(seconds / 3600, HOUR_DIGITS) if seconds is not None else None


def chart_figures(
    session: Session, where: Scope, the_period: s.Period, tz: ZoneInfo
) -> tuple[dict[ClockKind, s.ClockFigures], s.Weeks]:
    """What the chart draws: the period's clocks in total, and its complaints per week and category."""
    _prepare(session)
    runs = queries.clock_tallies(session, where, None)[TOTAL]
    return {kind: _clock(runs, kind) for kind in ClockKind}, weekly(session, where, the_period, tz)


def weekly(session: Session, where: Scope, the_period: s.Period, tz: ZoneInfo) -> s.Weeks:
    """Complaints received per ISO week (local Monday to Sunday) and category; every week of the period listed."""
    monday = the_period.from_ - timedelta(days=the_period.from_.weekday())
    weeks = []
    while monday <= the_period.to:
        weeks.append(monday)
        monday += timedelta(days=7)
    boundaries = [datetime.combine(day + timedelta(days=7), time(), tz) for day in weeks]
    counts = queries.weekly(session, where, boundaries)
    return [
        (_iso_week(day), {category: counts[i, category] for category in Category if (i, category) in counts})
        for i, day in enumerate(weeks)
    ]


def _iso_week(day: date) -> str:
    year, number, _ = day.isocalendar()
    return f"{year}-W{number:02d}"


def _yuan(cents: int) -> Decimal:
    return (Decimal(cents) / 100).quantize(CENT)
