"""The working-day calendar over HTTP (GET/PUT/DELETE /v1/calendar/days/{date}) and ``tousu calendar import``.

A change to a day recomputes the running clocks whose deadlines it moves, in frozen time (time-machine).
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date, datetime
from pathlib import Path
from typing import Any

import chinese_calendar
import httpx
import pytest
from sqlalchemy import event, text

from app.complaints.sweeper import sweep
from app.db import Database, utcnow
from app.sla.calendar import Calendar
from app.sla.models import CalendarDay
from tests.conftest import Caller, another_customer, tousu_in_process
from tests.sla.moments import FEEDBACK, STORE, frozen, instant, local

TOUSU = Path(sys.executable).with_name("tousu")


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    return response.json()


def day_of(caller: Caller, day: str) -> dict[str, Any]:
    response = caller.get(f"/v1/calendar/days/{day}")
    assert response.status_code == 200, response.text
    return response.json()


def put_day(caller: Caller, day: str, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    return caller.client.put(f"/v1/calendar/days/{day}", json=body, headers=headers or caller.headers())


def set_day(caller: Caller, day: str, working: bool, name: str | None = None) -> dict[str, Any]:
    response = put_day(caller, day, {"working": working, "name": name})
    assert response.status_code == 200, response.text
    return response.json()


def clear_day(caller: Caller, day: str) -> dict[str, Any]:
    response = caller.delete(f"/v1/calendar/days/{day}")
    assert response.status_code == 200, response.text
    return response.json()


def dispatched(handler: Caller, *parts: int) -> dict[str, Any]:
    with frozen(*parts):
        complaint = handler.register()
        return handler.move(complaint["id"], "investigate", {"store_id": STORE})


def store_clock(caller: Caller, complaint_id: str) -> dict[str, Any]:
    """The store-feedback clock as GET /v1/complaints/{id}/clocks explains it."""
    response = caller.get(f"/v1/complaints/{complaint_id}/clocks")
    assert response.status_code == 200, response.text
    found = [clock for clock in response.json() if clock["kind"] == "store_feedback"]
    assert len(found) == 1, response.json()
    return found[0]


def written_reply(caller: Caller, complaint_id: str) -> dict[str, Any]:
    response = caller.get(f"/v1/complaints/{complaint_id}/clocks")
    assert response.status_code == 200, response.text
    return next(clock for clock in response.json() if clock["kind"] == "written_reply")


def history(clock: dict[str, Any]) -> list[str]:
    return [entry["kind"] for entry in clock["history"]]


# Reading a day.


@pytest.mark.parametrize(
    ("day", "working", "kind", "name", "source", "reason"),
    [
        ("2026-11-18", True, "workday", None, "package", "working day"),
        ("2026-11-21", False, "weekend", None, "package", "weekend"),
        ("2026-10-01", False, "holiday", "国庆节", "package", "public holiday: 国庆节"),
        ("2026-02-17", False, "holiday", "春节", "package", "public holiday: 春节"),
        ("2026-10-10", True, "adjusted_workday", None, "package", "adjusted working day (调休)"),
        ("2026-02-14", True, "adjusted_workday", None, "package", "adjusted working day (调休)"),
        ("2083-03-10", True, "workday", None, "assumed", "working day (no published schedule for this year: assumed)"),
        ("2083-03-13", False, "weekend", None, "assumed", "weekend (no published schedule for this year: assumed)"),
    ],
)
def test_a_day_says_whether_it_is_worked_and_why(
    handler: Caller, day: str, working: bool, kind: str, name: str | None, source: str, reason: str
) -> None:
    assert day_of(handler, day) == {
        "date": day,
        "working": working,
        "kind": kind,
        "name": name,
        "source": source,
        "reason": reason,
    }
    if source == "package":
        assert chinese_calendar.is_workday(date.fromisoformat(day)) is working, "the two packages agree"


def test_every_key_may_read_the_calendar_but_not_without_a_key(client: Any, make_caller: Any) -> None:
    store = make_caller("store", store_id=STORE, actor="店长王五")
    assert day_of(store, "2026-10-01")["name"] == "国庆节"
    problem(client.get("/v1/calendar/days/2026-10-01"), 401)


@pytest.mark.parametrize("day", ["2026-02-30", "1900-01-01", "tomorrow", "2026-13-01", "2101-01-01", "1999-12-31"])
def test_a_bad_date_is_refused(handler: Caller, admin: Caller, day: str) -> None:
    problem(handler.get(f"/v1/calendar/days/{day}"), 422)
    problem(put_day(admin, day, {"working": False}), 422)
    problem(admin.delete(f"/v1/calendar/days/{day}"), 422)


def test_the_first_and_last_days_the_calendar_covers(handler: Caller) -> None:
    assert day_of(handler, "2000-01-01")["date"] == "2000-01-01"
    assert day_of(handler, "2100-12-31")["source"] == "assumed"


# Changing a day: who may, and what the body must say.


def test_only_an_admin_may_change_a_day(handler: Caller, supervisor: Caller, admin: Caller) -> None:
    for caller in (handler, supervisor):
        refused = problem(put_day(caller, "2026-11-23", {"working": False, "name": "公司年会"}), 403)
        assert refused["allowed_roles"] == ["admin"]
        problem(caller.delete("/v1/calendar/days/2026-11-23"), 403)
    assert day_of(admin, "2026-11-23")["source"] == "package", "nothing changed"


def test_a_change_needs_the_person_making_it(admin: Caller) -> None:
    refused = put_day(admin, "2026-11-23", {"working": False}, headers={"Authorization": f"Bearer {admin.key}"})
    problem(refused, 422)
    assert day_of(admin, "2026-11-23")["source"] == "package"


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"working": "perhaps"},
        {"working": False, "name": "年" * 101},
        {"working": False, "colour": "red"},
        {"working": False, "name": "公司\x00年会"},
        {"working": False, "name": ""},
        [],
    ],
)
def test_a_bad_body_is_refused(admin: Caller, body: Any) -> None:
    problem(put_day(admin, "2026-11-23", body), 422)
    assert day_of(admin, "2026-11-23")["source"] == "package"


def test_closing_and_opening_a_day_with_no_clocks(admin: Caller) -> None:
    closed = set_day(admin, "2026-11-23", False, "公司年会")
    assert closed == {
        "date": "2026-11-23",
        "working": False,
        "kind": "closed",
        "name": "公司年会",
        "source": "override",
        "reason": "day off by override: 公司年会",
        "clocks_recomputed": 0,
    }
    assert {k: v for k, v in day_of(admin, "2026-11-23").items()} == {
        k: v for k, v in closed.items() if k != "clocks_recomputed"
    }
    opened = set_day(admin, "2026-11-22", True)
    assert (opened["working"], opened["kind"], opened["reason"]) == (True, "opened", "working day by override")
    changed = set_day(admin, "2026-11-23", True, "年会改期")
    assert (changed["working"], changed["name"]) == (True, "年会改期"), "a second PUT replaces the override"


# Changing a day recomputes the running clocks it affects.


def test_closing_a_day_inside_a_running_window_moves_the_deadline_a_working_day_later(
    handler: Caller, admin: Caller, db: Database
) -> None:
    complaint = dispatched(handler, 2026, 11, 20, 16, 0)  # due Tuesday 11-24 18:00, warning Monday
    answered = dispatched(handler, 2026, 11, 20, 16, 5)
    with frozen(2026, 11, 20, 17, 0):
        handler.move(answered["id"], "store-feedback", {**FEEDBACK, "store_id": STORE})  # stopped: not moved
    with frozen(2026, 11, 21, 10, 0):
        changed = set_day(admin, "2026-11-23", False, "公司年会")
    assert changed["clocks_recomputed"] == 1
    assert changed["kind"] == "closed" and changed["source"] == "override"

    clock = store_clock(handler, complaint["id"])
    assert instant(clock["warn_at"]) == local(2026, 11, 24, 18, 0)
    assert instant(clock["due_at"]) == local(2026, 11, 25, 18, 0)
    assert history(clock) == ["started", "recomputed"]
    recomputed = clock["history"][1]
    assert instant(recomputed["at"]) == local(2026, 11, 21, 10, 0)
    assert recomputed["detail"]["why"] == "2026-11-23 closed by admin-01: 公司年会"
    assert recomputed["detail"]["day"] == "2026-11-23"
    assert instant(recomputed["detail"]["due_at_before"]) == local(2026, 11, 24, 18, 0)
    assert instant(recomputed["detail"]["due_at"]) == local(2026, 11, 25, 18, 0)
    days = {day["date"]: day for day in clock["explanation"]["days"]}
    assert days["2026-11-23"]["counted"] is False
    assert days["2026-11-23"]["reason"] == "day off by override: 公司年会"
    assert [d for d, day in days.items() if day["counted"]] == ["2026-11-24", "2026-11-25"]

    assert history(store_clock(handler, answered["id"])) == ["started", "met"]
    assert history(written_reply(handler, complaint["id"])) == ["started"], "calendar days do not move"

    # The sweep follows the new deadline: no warning on Monday, a warning on Tuesday, the breach on Wednesday.
    assert sweep(db, now=local(2026, 11, 23, 18, 0, 1)).warned == 0
    assert sweep(db, now=local(2026, 11, 24, 18, 0, 1)).warned == 1
    assert sweep(db, now=local(2026, 11, 24, 23, 0)).breached == 0
    assert sweep(db, now=local(2026, 11, 25, 18, 0)).breached == 1


def test_closing_a_day_after_the_warning_moves_only_the_deadline(handler: Caller, admin: Caller, db: Database) -> None:
    complaint = dispatched(handler, 2026, 11, 20, 16, 0)
    assert sweep(db, now=local(2026, 11, 23, 18, 0, 1)).warned == 1
    with frozen(2026, 11, 24, 9, 0):
        assert set_day(admin, "2026-11-24", False, "停电")["clocks_recomputed"] == 1
    clock = store_clock(handler, complaint["id"])
    assert instant(clock["due_at"]) == local(2026, 11, 25, 18, 0)
    assert history(clock) == ["started", "warned", "recomputed"]
    assert sweep(db, now=local(2026, 11, 24, 18, 0, 1)).breached == 0, "the old deadline no longer breaches"
    assert sweep(db, now=local(2026, 11, 25, 18, 0, 1)).breached == 1


def test_opening_a_weekend_day_pulls_the_deadline_earlier(handler: Caller, admin: Caller) -> None:
    complaint = dispatched(handler, 2026, 11, 20, 16, 0)
    with frozen(2026, 11, 20, 17, 0):
        changed = set_day(admin, "2026-11-21", True, "加班")
    assert changed["clocks_recomputed"] == 1
    assert (changed["working"], changed["kind"]) == (True, "opened")
    clock = store_clock(handler, complaint["id"])
    assert instant(clock["warn_at"]) == local(2026, 11, 21, 18, 0)
    assert instant(clock["due_at"]) == local(2026, 11, 23, 18, 0)
    assert clock["history"][-1]["kind"] == "recomputed"
    assert clock["history"][-1]["detail"]["why"] == "2026-11-21 opened by admin-01: 加班"
    days = {day["date"]: day for day in clock["explanation"]["days"]}
    assert list(days) == ["2026-11-21", "2026-11-22", "2026-11-23"]
    assert days["2026-11-21"]["counted"] is True and days["2026-11-21"]["reason"] == "working day by override: 加班"


@pytest.mark.parametrize(
    ("day", "working"),
    [
        ("2026-12-15", False),  # long after the deadline
        ("2026-11-25", False),  # the day after the due day
        ("2026-11-20", False),  # the day of dispatch: it never counts
        ("2026-11-19", True),  # before the clock started
        ("2026-11-22", False),  # inside the window, but already a day off
        ("2026-11-23", True),  # inside the window, but already a working day
    ],
)
def test_a_day_that_moves_no_deadline_recomputes_nothing(
    handler: Caller, admin: Caller, day: str, working: bool
) -> None:
    complaint = dispatched(handler, 2026, 11, 20, 16, 0)
    before = store_clock(handler, complaint["id"])
    with frozen(2026, 11, 21, 10, 0):
        assert set_day(admin, day, working, "测试")["clocks_recomputed"] == 0
    after = store_clock(handler, complaint["id"])
    assert (after["warn_at"], after["due_at"]) == (before["warn_at"], before["due_at"])
    assert history(after) == ["started"]


def test_delete_restores_the_published_day_and_the_deadline(handler: Caller, admin: Caller) -> None:
    complaint = dispatched(handler, 2026, 11, 20, 16, 0)
    with frozen(2026, 11, 21, 10, 0):
        set_day(admin, "2026-11-23", False, "公司年会")
    with frozen(2026, 11, 21, 11, 0):
        restored = clear_day(admin, "2026-11-23")
    assert restored == {
        "date": "2026-11-23",
        "working": True,
        "kind": "workday",
        "name": None,
        "source": "package",
        "reason": "working day",
        "clocks_recomputed": 1,
    }
    assert day_of(admin, "2026-11-23")["source"] == "package"
    clock = store_clock(handler, complaint["id"])
    assert instant(clock["warn_at"]) == local(2026, 11, 23, 18, 0)
    assert instant(clock["due_at"]) == local(2026, 11, 24, 18, 0)
    assert history(clock) == ["started", "recomputed", "recomputed"]
    assert clock["history"][-1]["detail"]["why"] == "override of 2026-11-23 removed by admin-01"
    assert instant(clock["history"][-1]["detail"]["due_at_before"]) == local(2026, 11, 25, 18, 0)

    again = clear_day(admin, "2026-11-23")
    assert again["clocks_recomputed"] == 0 and again["source"] == "package", "deleting twice is harmless"


def test_delete_restores_a_holiday_that_was_opened(admin: Caller) -> None:
    set_day(admin, "2026-10-01", True, "值班")
    assert day_of(admin, "2026-10-01")["working"] is True
    restored = clear_day(admin, "2026-10-01")
    assert (restored["working"], restored["kind"], restored["name"]) == (False, "holiday", "国庆节")


# A change made elsewhere counts at once. Each process keeps the calendar it has read, under the token of
# calendar_changes it read with it; a change by another process, or by hand, draws a new token (migration 0020).


def by_hand(db: Database, statement: str, **params: Any) -> None:
    """A change the API process did not make (another process, psql): on a connection of its own, committed."""
    with db.engine.begin() as connection:
        connection.execute(text(statement), params)


def close_by_hand(db: Database, day: date, name: str) -> None:
    by_hand(
        db,
        "INSERT INTO calendar_days (day, working, name, set_by, set_at) VALUES (:day, false, :name, 'psql', :at)",
        day=day,
        name=name,
        at=utcnow(),
    )


def feedback_due(handler: Caller, *parts: int) -> datetime:
    """The deadline of the store's feedback on a complaint dispatched at this local moment (each from a phone of
    its own: none is a repeat, whose target is shorter)."""
    with frozen(*parts):
        complaint = handler.register(complainant=another_customer(parts[-1]))
        moved = handler.move(complaint["id"], "investigate", {"store_id": STORE})
    return instant(next(c for c in moved["clocks"] if c["kind"] == "store_feedback")["due_at"])


def test_a_day_closed_and_opened_again_by_hand_counts_for_the_next_dispatch(handler: Caller, db: Database) -> None:
    assert feedback_due(handler, 2026, 11, 20, 16, 0) == local(2026, 11, 24, 18, 0)
    close_by_hand(db, date(2026, 11, 23), "停电")
    assert feedback_due(handler, 2026, 11, 20, 16, 1) == local(2026, 11, 25, 18, 0)
    by_hand(db, "UPDATE calendar_days SET working = true WHERE day = '2026-11-23'")
    assert feedback_due(handler, 2026, 11, 20, 16, 2) == local(2026, 11, 24, 18, 0)
    by_hand(db, "DELETE FROM calendar_days")
    assert day_of(handler, "2026-11-23")["source"] == "package"


def test_a_year_imported_by_hand_is_no_longer_assumed(handler: Caller, db: Database) -> None:
    assert day_of(handler, "2083-03-10")["source"] == "assumed"
    by_hand(
        db,
        "INSERT INTO calendar_years (year, imported_by, imported_at) VALUES (2083, 'psql', '2026-11-20 08:00:00+00')",
    )
    assert day_of(handler, "2083-03-10")["source"] == "imported"


def test_a_change_rolled_back_leaves_nothing_behind(handler: Caller, db: Database) -> None:
    """A transaction that changed the calendar and read it, then rolled back: what it read is never taken for the
    calendar, even by a later change."""
    with db.writers() as session:
        session.add(CalendarDay(day=date(2026, 11, 23), working=False, name="回滚", set_by="tests", set_at=utcnow()))
        session.flush()
        assert Calendar(session).day(date(2026, 11, 23)).working is False
        session.rollback()
    close_by_hand(db, date(2026, 11, 30), "盘点")
    assert day_of(handler, "2026-11-23")["working"] is True
    assert feedback_due(handler, 2026, 11, 20, 16, 0) == local(2026, 11, 24, 18, 0)


def test_a_dispatch_reads_the_calendar_kept_since_the_last(handler: Caller, db: Database) -> None:
    """Only the token is read again, not the days, while the calendar does not change."""
    feedback_due(handler, 2026, 11, 20, 16, 0)
    sent: list[str] = []

    def seen(_connection: Any, _cursor: Any, statement: str, *_: Any) -> None:
        sent.append(statement)

    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        feedback_due(handler, 2026, 11, 20, 16, 1)
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
    calendar = [statement for statement in sent if "FROM calendar_" in statement]
    assert len(calendar) == 1 and "calendar_changes" in calendar[0], calendar


# tousu calendar import FILE: through the installed entry point (a process of its own) for the first import and a
# missing file, through the same typer app in this process for the rest.


def tousu(*args: str, database_url: str) -> subprocess.CompletedProcess[str]:
    # Wide enough that typer's boxed usage errors do not wrap a long temporary path (xdist's are longer).
    env = {**os.environ, "TOUSU_DATABASE_URL": database_url, "COLUMNS": "500"}
    return subprocess.run([str(TOUSU), *args], env=env, capture_output=True, text=True, timeout=60, check=False)


SCHEDULE_2083 = """date,working,name
2083-01-01,false,元旦
2083-10-01,false,国庆节
2083-10-04,false,国庆节
2083-10-05,false,国庆节
2083-10-06,false,国庆节
2083-10-07,false,国庆节
2083-10-09,true,国庆节调休
"""


def schedule(tmp_path: Path, text: str, name: str = "2083.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_import_makes_a_year_known(database_url: str, handler: Caller, tmp_path: Path) -> None:
    assert day_of(handler, "2083-03-10")["source"] == "assumed"
    result = tousu("calendar", "import", str(schedule(tmp_path, SCHEDULE_2083)), database_url=database_url)
    assert result.returncode == 0, result.stderr
    assert "imported 7 days of 2083" in result.stdout

    new_year = day_of(handler, "2083-01-01")
    assert (new_year["working"], new_year["kind"], new_year["name"]) == (False, "closed", "元旦")
    assert new_year["source"] in ("override", "imported")
    assert "元旦" in new_year["reason"]
    worked_saturday = day_of(handler, "2083-10-09")
    assert (worked_saturday["working"], worked_saturday["kind"]) == (True, "opened")
    assert worked_saturday["source"] in ("override", "imported")
    for day, working in [("2083-03-10", True), ("2083-03-13", False)]:
        seen = day_of(handler, day)
        assert (seen["working"], seen["source"]) == (working, "imported"), seen
        assert "assumed" not in seen["reason"]
    assert day_of(handler, "2084-03-10")["source"] == "assumed", "only the years in the file"


def test_import_is_safe_to_run_again(database_url: str, handler: Caller, tmp_path: Path) -> None:
    path = schedule(tmp_path, SCHEDULE_2083)
    for _ in range(2):
        result = tousu_in_process("calendar", "import", str(path), database_url=database_url)
        assert result.returncode == 0, result.stderr
    assert day_of(handler, "2083-01-01")["name"] == "元旦"


def test_import_recomputes_a_clock_running_into_the_year(database_url: str, handler: Caller, tmp_path: Path) -> None:
    complaint = dispatched(handler, 2082, 12, 31, 10, 0)  # assumed: 2083-01-01 counted, due 2083-01-04
    before = store_clock(handler, complaint["id"])
    assert before["calendar_assumed"] is True
    assert instant(before["due_at"]) == local(2083, 1, 4, 18, 0)

    path = schedule(tmp_path, SCHEDULE_2083)
    result = tousu_in_process("calendar", "import", str(path), "--actor", "admin-01", database_url=database_url)
    assert result.returncode == 0, result.stderr
    assert "1 running clocks recomputed" in result.stdout

    after = store_clock(handler, complaint["id"])
    assert instant(after["warn_at"]) == local(2083, 1, 4, 18, 0), "元旦 is a day off now"
    assert instant(after["due_at"]) == local(2083, 1, 5, 18, 0)
    assert "recomputed" in history(after)
    assert any("admin-01" in entry["detail"].get("why", "") for entry in after["history"])
    assert after["explanation"]["calendar_assumed"] is False
    assert after["calendar_assumed"] is False, "the year is known now: the deadline is no longer a guess"


def test_import_clears_the_assumption_of_a_clock_inside_the_year(
    database_url: str, handler: Caller, tmp_path: Path
) -> None:
    complaint = dispatched(handler, 2083, 3, 10, 15, 0)  # no published schedule: assumed
    assert store_clock(handler, complaint["id"])["calendar_assumed"] is True
    result = tousu_in_process("calendar", "import", str(schedule(tmp_path, SCHEDULE_2083)), database_url=database_url)
    assert result.returncode == 0, result.stderr
    after = store_clock(handler, complaint["id"])
    assert instant(after["due_at"]) == local(2083, 3, 12, 18, 0), "no day of its window changed"
    assert after["explanation"]["calendar_assumed"] is False
    assert after["calendar_assumed"] is False, "the clock's own mark agrees with its explanation"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("day,open\n2083-01-01,false\n", "date,working", id="wrong-header"),
        pytest.param("date,working,name\n2083-01-01,false,元旦\n2083-02-30,false,x\n", "line 3", id="bad-date"),
        pytest.param("date,working\n2083-01-01,maybe\n", "working must be true or false", id="bad-working"),
        pytest.param("date,working,name\n", "no days", id="no-days"),
        pytest.param("date,working\n2083-01-01,false\n1999-12-31,false\n", "2000", id="year-out-of-range"),
        pytest.param("date,working\n2083-01-01,false\n2083-01-02\n", "line 3", id="short-row"),
        pytest.param(b"date,working,name\n2083-01-01,false,\xd4\xaa\xb5\xa9\n", "UTF-8", id="not-utf8-gbk"),
    ],
)
def test_a_malformed_file_exits_2_with_a_clear_message_and_imports_nothing(
    database_url: str, handler: Caller, tmp_path: Path, text: str | bytes, message: str
) -> None:
    path = tmp_path / "bad.csv"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    result = tousu_in_process("calendar", "import", str(path), database_url=database_url)
    assert result.returncode == 2, (result.returncode, result.stderr[-2000:])
    assert "Traceback" not in result.stderr and "╭" not in result.stderr, result.stderr[-2000:]
    assert result.stderr.startswith("error:"), result.stderr
    assert message.lower() in result.stderr.lower(), result.stderr
    assert "imported" not in result.stdout
    assert day_of(handler, "2083-01-01")["source"] == "assumed", "nothing of the file was kept"


def test_a_missing_file_exits_2(database_url: str, tmp_path: Path) -> None:
    result = tousu("calendar", "import", str(tmp_path / "nowhere.csv"), database_url=database_url)
    assert result.returncode == 2
    assert "nowhere.csv" in result.stderr
