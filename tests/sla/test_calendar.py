"""The working-day calendar and the deadlines counted on it, without a database."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import chinese_calendar
import pytest

from app.config import Settings
from app.sla.calendar import PACKAGE_YEARS, Calendar, DayKind, DaySource, Override, package_day
from app.sla.clocks import deadline
from app.sla.policy import Policy, Target, Unit

CST = ZoneInfo("Asia/Shanghai")
SETTINGS = Settings(database_url="sqlite://", sweep_in_serve=False)
TWO_WORKING_DAYS = Target(unit=Unit.working_days, due=2, warn=1)


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=CST)


def due(start: datetime, target: Target = TWO_WORKING_DAYS, calendar: Calendar | None = None) -> tuple[str, str]:
    found = deadline(start, target, calendar or Calendar(), SETTINGS)
    return found.warn_at.astimezone(CST).isoformat(), found.due_at.astimezone(CST).isoformat()


def test_the_package_and_chinesecalendar_agree_on_every_day_they_both_know() -> None:
    years = sorted(PACKAGE_YEARS & set(range(2015, 2027)))
    assert years[-1] == 2026, "the holidays package should know 2026"
    disagreements = []
    day = date(years[0], 1, 1)
    while day.year <= years[-1]:
        if package_day(day).working != chinese_calendar.is_workday(day):
            disagreements.append(day)
        day += timedelta(days=1)
    assert disagreements == []


@pytest.mark.parametrize(
    ("day", "working", "kind"),
    [
        (date(2026, 11, 23), True, DayKind.workday),
        (date(2026, 11, 22), False, DayKind.weekend),
        (date(2026, 10, 1), False, DayKind.holiday),
        (date(2026, 10, 10), True, DayKind.adjusted_workday),  # 调休: a Saturday worked for National Day
        (date(2026, 2, 14), True, DayKind.adjusted_workday),  # and one for the Spring Festival
        (date(2026, 2, 17), False, DayKind.holiday),
    ],
)
def test_days_of_a_known_year(day: date, working: bool, kind: DayKind) -> None:
    found = Calendar().day(day)
    assert (found.working, found.kind, found.source) == (working, kind, DaySource.package)


def test_holidays_carry_their_names() -> None:
    assert Calendar().day(date(2026, 10, 1)).reason == "public holiday: 国庆节"
    assert "春节" in Calendar().day(date(2026, 2, 17)).reason


def test_a_year_without_a_schedule_is_weekends_only_and_assumed() -> None:
    assert 2031 not in PACKAGE_YEARS
    national_day = Calendar().day(date(2031, 10, 1))  # a Wednesday: a holiday, but no schedule says so yet
    assert (national_day.working, national_day.source) == (True, DaySource.assumed)
    assert "assumed" in national_day.reason
    assert Calendar().day(date(2031, 10, 4)).working is False  # Saturday


def test_an_override_wins_and_an_imported_year_is_not_assumed() -> None:
    calendar = Calendar(
        overrides={date(2026, 11, 23): Override(False, "公司年会"), date(2031, 10, 1): Override(False, "国庆节")},
        known_years=frozenset({2031}),
    )
    closed = calendar.day(date(2026, 11, 23))
    assert (closed.working, closed.kind, closed.reason) == (False, DayKind.closed, "day off by override: 公司年会")
    assert calendar.day(date(2031, 10, 1)).working is False
    assert calendar.day(date(2031, 10, 2)).source is DaySource.imported


def test_dispatched_friday_afternoon_is_due_tuesday_close_of_business() -> None:
    assert due(local(2026, 11, 20, 16, 0)) == ("2026-11-23T18:00:00+08:00", "2026-11-24T18:00:00+08:00")


def test_dispatched_on_a_saturday_counts_from_monday() -> None:
    assert due(local(2026, 11, 21, 10, 0)) == ("2026-11-23T18:00:00+08:00", "2026-11-24T18:00:00+08:00")


def test_dispatched_after_close_of_business_counts_from_the_next_day_all_the_same() -> None:
    assert due(local(2026, 11, 23, 21, 0)) == ("2026-11-24T18:00:00+08:00", "2026-11-25T18:00:00+08:00")


def test_dispatched_before_national_day_skips_the_golden_week() -> None:
    # 2026-10-01..07 off; 10-08 (Thu) and 10-09 (Fri) are the first working days after 09-30.
    assert due(local(2026, 9, 30, 10, 0)) == ("2026-10-08T18:00:00+08:00", "2026-10-09T18:00:00+08:00")


def test_dispatched_before_the_spring_festival_counts_the_adjusted_saturday() -> None:
    # 2026-02-13 (Fri): 02-14 (Sat) is worked (调休), 02-15..23 are off, 02-24 (Tue) is the next working day.
    found = deadline(local(2026, 2, 13, 10, 0), TWO_WORKING_DAYS, Calendar(), SETTINGS)
    assert found.warn_at.astimezone(CST) == local(2026, 2, 14, 18, 0)
    assert found.due_at.astimezone(CST) == local(2026, 2, 24, 18, 0)
    skipped = [d for d in found.days if not d.working]
    assert {d.kind for d in skipped} == {DayKind.holiday, DayKind.weekend}
    assert found.assumed is False


def test_an_adjusted_working_sunday_counts() -> None:
    # 2026-09-19 (Sat) dispatch: 09-20 is a worked Sunday (调休 for National Day), 09-21 Monday.
    assert due(local(2026, 9, 19, 11, 0)) == ("2026-09-20T18:00:00+08:00", "2026-09-21T18:00:00+08:00")


def test_a_deadline_in_an_unknown_year_is_computed_and_marked_assumed() -> None:
    found = deadline(local(2031, 9, 30, 10, 0), TWO_WORKING_DAYS, Calendar(), SETTINGS)
    assert found.due_at.astimezone(CST) == local(2031, 10, 2, 18, 0)
    assert found.assumed is True


def test_a_deadline_crossing_into_an_unknown_year_is_assumed() -> None:
    found = deadline(local(2030, 12, 30, 10, 0), TWO_WORKING_DAYS, Calendar(), SETTINGS)
    assert found.assumed is (2031 not in PACKAGE_YEARS)


def test_an_override_closing_a_day_moves_the_deadline() -> None:
    closed = Calendar(overrides={date(2026, 11, 24): Override(False, "停电检修")})
    assert due(local(2026, 11, 20, 16, 0), calendar=closed)[1] == "2026-11-25T18:00:00+08:00"
    opened = Calendar(overrides={date(2026, 11, 22): Override(True, "加班")})
    assert due(local(2026, 11, 20, 16, 0), calendar=opened) == (
        "2026-11-22T18:00:00+08:00",
        "2026-11-23T18:00:00+08:00",
    )


def test_calendar_days_and_hours_run_through_weekends_and_holidays() -> None:
    start = local(2026, 9, 30, 10, 0)
    assert due(start, Target(unit=Unit.days, due=7, warn=5)) == (
        "2026-10-05T10:00:00+08:00",
        "2026-10-07T10:00:00+08:00",
    )
    assert due(start, Target(unit=Unit.hours, due=8, warn=4)) == (
        "2026-09-30T14:00:00+08:00",
        "2026-09-30T18:00:00+08:00",
    )


def test_close_of_business_is_a_setting() -> None:
    late = Settings(database_url="sqlite://", close_of_business=time(17, 30))
    found = deadline(local(2026, 11, 20, 16, 0), TWO_WORKING_DAYS, Calendar(), late)
    assert found.due_at.astimezone(CST) == local(2026, 11, 24, 17, 30)


def test_a_calendar_with_no_working_days_is_an_error_not_a_hang() -> None:
    every_day_closed = Calendar(
        overrides={date(2026, 1, 1) + timedelta(days=n): Override(False, None) for n in range(800)}
    )
    with pytest.raises(ValueError, match="fewer than"):
        deadline(local(2026, 1, 1, 9, 0), TWO_WORKING_DAYS, every_day_closed, SETTINGS)


def test_the_default_policy_is_the_handbooks() -> None:
    policy = Policy()
    assert policy.normal.store_feedback == TWO_WORKING_DAYS
    assert policy.normal.written_reply == Target(unit=Unit.days, due=7, warn=5)
    assert policy.normal.follow_up.unit is Unit.working_days and policy.normal.follow_up.due == 2
    assert policy.media.store_feedback.due < 24 and policy.media.written_reply.due < 7


def test_a_policy_file_replaces_targets(tmp_path: object) -> None:
    from pathlib import Path

    from app.sla.policy import load_policy

    path = Path(str(tmp_path)) / "policy.toml"
    path.write_text('[urgent.store_feedback]\nunit = "working_days"\ndue = 1\nwarn = 1\n', encoding="utf-8")
    with pytest.raises(ValueError, match="warn must come before due"):
        load_policy(path)
    path.write_text('[urgent.store_feedback]\nunit = "hours"\ndue = 6\nwarn = 3\n', encoding="utf-8")
    policy = load_policy(path)
    assert policy.urgent.store_feedback == Target(unit=Unit.hours, due=6, warn=3)
    assert policy.normal == Policy().normal
