"""The clocks of a complaint over HTTP, from registration to revisit, in frozen and moved time (time-machine).

Every deadline is checked at a frozen local moment (Asia/Shanghai): the working-day ones against the package's
published schedule, and cross-checked against ``chinesecalendar``. The sweep is driven by the tests with its own
``now``; the app's in-process sweeper is off.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

import chinese_calendar
import pytest

from app.complaints.sweeper import sweep
from app.db import Database
from tests.conftest import Caller
from tests.sla.moments import FEEDBACK, STORE, TZ, frozen, instant, local

APOLOGY = {"remedy": {"kind": "apology"}, "reply": "非常抱歉给您带来不便。", "reply_channel": "sms"}
REFUND = {
    "remedy": {"kind": "refund", "amount": "300.00", "description": "退还货款"},
    "reply": "非常抱歉，全额退款。",
    "reply_channel": "sms",
}
GOOD_HOURS = ((time(10, 0), time(11, 30)), (time(14, 30), time(16, 30)), (time(19, 0), time(20, 0)))


def parse(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    assert moment.utcoffset() == timedelta(hours=8), f"{text} is not given in local time (+08:00)"
    return moment


def clocks(complaint: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [clock for clock in complaint["clocks"] if clock["kind"] == kind]


def only(complaint: dict[str, Any], kind: str) -> dict[str, Any]:
    found = clocks(complaint, kind)
    assert len(found) == 1, complaint["clocks"]
    return found[0]


def get(caller: Caller, complaint_id: str) -> dict[str, Any]:
    response = caller.get(f"/v1/complaints/{complaint_id}")
    assert response.status_code == 200, response.text
    return response.json()


def explained(caller: Caller, complaint_id: str) -> list[dict[str, Any]]:
    response = caller.get(f"/v1/complaints/{complaint_id}/clocks")
    assert response.status_code == 200, response.text
    return response.json()


def events(caller: Caller, complaint_id: str) -> list[dict[str, Any]]:
    response = caller.get(f"/v1/complaints/{complaint_id}/events")
    assert response.status_code == 200, response.text
    return response.json()


def moves(caller: Caller, complaint_id: str) -> list[str]:
    return [event["move"] for event in events(caller, complaint_id)]


def dispatched(handler: Caller, *parts: int, store_id: str = STORE, **overrides: Any) -> dict[str, Any]:
    """Registered and dispatched to a store at this local moment."""
    with frozen(*parts):
        complaint = handler.register(**overrides)
        return handler.move(complaint["id"], "investigate", {"store_id": store_id})


def resolved_at(handler: Caller, *parts: int) -> dict[str, Any]:
    with frozen(*parts):
        complaint = handler.register()
        handler.move(complaint["id"], "investigate", {"store_id": STORE})
        return handler.move(complaint["id"], "resolve", APOLOGY)


def working_days_after(day: date, count: int) -> list[date]:
    """The next ``count`` working days after ``day`` by chinesecalendar (the cross-check of the package)."""
    found: list[date] = []
    while len(found) < count:
        day += timedelta(days=1)
        if chinese_calendar.is_workday(day):
            found.append(day)
    return found


def in_good_hours(start: datetime, end: datetime) -> bool:
    start, end = start.astimezone(TZ), end.astimezone(TZ)
    return start.date() == end.date() and any(
        begin <= start.time() < end.time() <= close and end.time() == close for begin, close in GOOD_HOURS
    )


# The written reply: received_at + 7 calendar days, warning at 5.


def test_registration_starts_a_written_reply_clock(handler: Caller) -> None:
    with frozen(2026, 11, 16, 10, 0):
        complaint = handler.register()
    clock = only(complaint, "written_reply")
    assert [c["kind"] for c in complaint["clocks"]] == ["written_reply"]
    assert clock["state"] == "running" and clock["warning"] is False
    assert parse(clock["started_at"]) == local(2026, 11, 16, 10, 0)
    assert parse(clock["warn_at"]) == local(2026, 11, 21, 10, 0)
    assert parse(clock["due_at"]) == local(2026, 11, 23, 10, 0)
    assert clock["remaining_seconds"] == 7 * 86400
    assert clock["stopped_at"] is None
    assert clock["calendar_assumed"] is False
    assert clock["next_call_slot"] is None
    assert clock["target"] == "7 calendar days, warning after 5"

    with frozen(2026, 11, 18, 10, 0):
        later = only(get(handler, complaint["id"]), "written_reply")
    assert later["remaining_seconds"] == 5 * 86400

    with frozen(2026, 11, 23, 12, 0):
        overdue = only(get(handler, complaint["id"]), "written_reply")
    assert overdue["remaining_seconds"] == -2 * 3600, "negative once overdue"


def test_a_received_at_in_the_past_is_honoured(handler: Caller) -> None:
    with frozen(2026, 11, 16, 10, 0):
        complaint = handler.register(received_at="2026-11-13T09:30:00+08:00")
    clock = only(complaint, "written_reply")
    assert parse(clock["started_at"]) == local(2026, 11, 13, 9, 30)
    assert parse(clock["warn_at"]) == local(2026, 11, 18, 9, 30)
    assert parse(clock["due_at"]) == local(2026, 11, 20, 9, 30)
    assert clock["remaining_seconds"] == int((local(2026, 11, 20, 9, 30) - local(2026, 11, 16, 10, 0)).total_seconds())


def test_a_received_at_given_in_utc_counts_the_same_instant(handler: Caller) -> None:
    with frozen(2026, 11, 16, 10, 0):
        complaint = handler.register(received_at="2026-11-15T20:00:00Z")
    clock = only(complaint, "written_reply")
    assert parse(clock["started_at"]) == local(2026, 11, 16, 4, 0)
    assert parse(clock["due_at"]) == local(2026, 11, 23, 4, 0)


# The store's feedback: close of business on the 2nd working day after the day of dispatch, warning on the 1st.


@pytest.mark.parametrize(
    ("moment", "warn_at", "due_at"),
    [
        pytest.param((2026, 11, 20, 16, 0), (2026, 11, 23, 18, 0), (2026, 11, 24, 18, 0), id="friday-afternoon"),
        pytest.param((2026, 11, 20, 19, 30), (2026, 11, 23, 18, 0), (2026, 11, 24, 18, 0), id="friday-after-close"),
        pytest.param((2026, 11, 21, 11, 0), (2026, 11, 23, 18, 0), (2026, 11, 24, 18, 0), id="saturday"),
        # 00:30 on Monday in Shanghai is still Sunday in UTC: the local day is the one that does not count.
        pytest.param((2026, 11, 23, 0, 30), (2026, 11, 24, 18, 0), (2026, 11, 25, 18, 0), id="monday-after-midnight"),
        # National Day: 10-01 to 10-07 off.
        pytest.param((2026, 9, 30, 15, 0), (2026, 10, 8, 18, 0), (2026, 10, 9, 18, 0), id="before-national-day"),
        # Spring Festival: 02-15 to 02-23 off; Saturday 02-14 is a 调休 working day.
        pytest.param((2026, 2, 13, 15, 0), (2026, 2, 14, 18, 0), (2026, 2, 24, 18, 0), id="before-spring-festival"),
        # Sunday 09-20 is worked (调休 for National Day).
        pytest.param(
            (2026, 9, 19, 10, 0), (2026, 9, 20, 18, 0), (2026, 9, 21, 18, 0), id="saturday-before-a-worked-sunday"
        ),
    ],
)
def test_dispatch_to_a_store_starts_store_feedback_due_on_the_second_working_day(
    handler: Caller, moment: tuple[int, ...], warn_at: tuple[int, ...], due_at: tuple[int, ...]
) -> None:
    complaint = dispatched(handler, *moment)
    clock = only(complaint, "store_feedback")
    assert clock["state"] == "running"
    assert clock["store_id"] == STORE
    assert clock["target"] == "2 working days, warning after 1"
    assert parse(clock["started_at"]) == local(*moment)
    assert parse(clock["warn_at"]) == local(*warn_at)
    assert parse(clock["due_at"]) == local(*due_at)
    assert clock["remaining_seconds"] == int((local(*due_at) - local(*moment)).total_seconds())
    assert clock["calendar_assumed"] is False
    assert only(complaint, "written_reply")["state"] == "running", "the written reply runs on"

    # The package's schedule, cross-checked: chinesecalendar counts the same working days.
    first, second = working_days_after(local(*moment).date(), 2)
    assert (first, second) == (local(*warn_at).date(), local(*due_at).date())


def test_a_department_dispatch_starts_the_departments_feedback_clock(handler: Caller) -> None:
    """A department is a responsible unit like a store: its feedback clock has the store's default target."""
    with frozen(2026, 11, 20, 16, 0):
        complaint = handler.register(store_id=None, department="物业工程部")
        moved = handler.move(complaint["id"], "investigate", {"department": "物业工程部"})
    store = only(dispatched(handler, 2026, 11, 20, 16, 0), "store_feedback")
    clock = only(moved, "store_feedback")
    assert (clock["department"], clock["store_id"], clock["state"]) == ("物业工程部", None, "running")
    assert (clock["target"], clock["due_at"], clock["warn_at"]) == (store["target"], store["due_at"], store["warn_at"])


@pytest.mark.parametrize("by", ["store-key", "handler-on-its-behalf"])
def test_the_stores_feedback_stops_its_clock_as_met(handler: Caller, make_caller: Any, by: str) -> None:
    complaint = dispatched(handler, 2026, 11, 20, 16, 0)
    with frozen(2026, 11, 23, 10, 0):
        if by == "store-key":
            store = make_caller("store", store_id=STORE, actor="店长王五")
            after = store.move(complaint["id"], "store-feedback", FEEDBACK)
        else:
            after = handler.move(complaint["id"], "store-feedback", {**FEEDBACK, "store_id": STORE})
        whole = get(handler, complaint["id"])
    for seen in (after, whole):
        clock = only(seen, "store_feedback")
        assert clock["state"] == "met"
        assert parse(clock["stopped_at"]) == local(2026, 11, 23, 10, 0)
        assert clock["remaining_seconds"] is None
        assert only(seen, "written_reply")["state"] == "running"
    store_clock = next(c for c in explained(handler, complaint["id"]) if c["kind"] == "store_feedback")
    assert [entry["kind"] for entry in store_clock["history"]] == ["started", "met"]
    actor = "店长王五" if by == "store-key" else "handler-07"
    assert store_clock["history"][1]["detail"]["why"] == f"feedback recorded by {actor}"


def test_feedback_after_a_breach_keeps_the_clock_breached(handler: Caller, db: Database) -> None:
    complaint = dispatched(handler, 2026, 11, 20, 16, 0)
    swept = sweep(db, now=local(2026, 11, 24, 18, 30))
    assert swept.breached == 1
    with frozen(2026, 11, 25, 9, 0):
        after = handler.move(complaint["id"], "store-feedback", {**FEEDBACK, "store_id": STORE})
    clock = only(after, "store_feedback")
    assert clock["state"] == "breached"
    assert parse(clock["stopped_at"]) == local(2026, 11, 25, 9, 0)
    assert clock["remaining_seconds"] is None
    store_clock = next(c for c in explained(handler, complaint["id"]) if c["kind"] == "store_feedback")
    kinds = [entry["kind"] for entry in store_clock["history"]]
    assert kinds[0] == "started" and "breached" in kinds
    assert kinds.count("breached") == 1
    assert "met" not in kinds


def test_feedback_after_the_deadline_with_no_sweep_is_breached_all_the_same(handler: Caller) -> None:
    complaint = dispatched(handler, 2026, 11, 20, 16, 0)
    with frozen(2026, 11, 25, 9, 0):
        after = handler.move(complaint["id"], "store-feedback", {**FEEDBACK, "store_id": STORE})
    clock = only(after, "store_feedback")
    assert clock["state"] == "breached"
    assert parse(clock["stopped_at"]) == local(2026, 11, 25, 9, 0)
    store_clock = next(c for c in explained(handler, complaint["id"]) if c["kind"] == "store_feedback")
    assert "breached" in [entry["kind"] for entry in store_clock["history"]]


# Resolution: the written reply stops, the follow-up starts with a call slot in the customer's good hours.


def test_resolve_stops_the_written_reply_and_starts_the_follow_up(handler: Caller) -> None:
    complaint = resolved_at(handler, 2026, 11, 16, 12, 0)
    reply = only(complaint, "written_reply")
    assert reply["state"] == "met"
    assert parse(reply["stopped_at"]) == local(2026, 11, 16, 12, 0)
    follow_up = only(complaint, "follow_up")
    assert follow_up["state"] == "running"
    assert follow_up["target"] == "2 working days, warning after 1"
    assert parse(follow_up["started_at"]) == local(2026, 11, 16, 12, 0)
    assert parse(follow_up["warn_at"]) == local(2026, 11, 17, 18, 0)
    assert parse(follow_up["due_at"]) == local(2026, 11, 18, 18, 0)
    slot = follow_up["next_call_slot"]
    assert parse(slot["start"]) == local(2026, 11, 16, 14, 30), "lunch is rest time: the afternoon window"
    assert parse(slot["end"]) == local(2026, 11, 16, 16, 30)


def test_approve_stops_the_written_reply_and_starts_the_follow_up(handler: Caller, supervisor: Caller) -> None:
    with frozen(2026, 11, 16, 9, 0):
        complaint = handler.register()
        handler.move(complaint["id"], "investigate", {"store_id": STORE})
        handler.move(complaint["id"], "propose", REFUND)
    with frozen(2026, 11, 17, 10, 45):
        approved = supervisor.move(complaint["id"], "approve", {})
    assert only(approved, "written_reply")["state"] == "met"
    follow_up = only(approved, "follow_up")
    assert parse(follow_up["started_at"]) == local(2026, 11, 17, 10, 45)
    assert parse(follow_up["due_at"]) == local(2026, 11, 19, 18, 0)
    slot = follow_up["next_call_slot"]
    assert parse(slot["start"]) == local(2026, 11, 17, 10, 45), "inside the morning window: now"
    assert parse(slot["end"]) == local(2026, 11, 17, 11, 30)


@pytest.mark.parametrize(
    ("resolved", "start", "end"),
    [
        pytest.param((2026, 11, 16, 12, 0), (2026, 11, 16, 14, 30), (2026, 11, 16, 16, 30), id="noon"),
        pytest.param((2026, 11, 16, 20, 30), (2026, 11, 17, 10, 0), (2026, 11, 17, 11, 30), id="late-evening"),
        pytest.param((2026, 11, 16, 7, 0), (2026, 11, 16, 10, 0), (2026, 11, 16, 11, 30), id="early-morning"),
        pytest.param((2026, 11, 16, 17, 0), (2026, 11, 16, 19, 0), (2026, 11, 16, 20, 0), id="after-work"),
        pytest.param((2026, 11, 16, 19, 40), (2026, 11, 16, 19, 40), (2026, 11, 16, 20, 0), id="in-evening-window"),
        pytest.param((2026, 11, 16, 11, 30), (2026, 11, 16, 14, 30), (2026, 11, 16, 16, 30), id="window-just-closed"),
    ],
)
def test_the_next_call_slot_lies_in_the_customers_good_hours(
    handler: Caller, resolved: tuple[int, ...], start: tuple[int, ...], end: tuple[int, ...]
) -> None:
    complaint = resolved_at(handler, *resolved)
    slot = only(complaint, "follow_up")["next_call_slot"]
    assert (parse(slot["start"]), parse(slot["end"])) == (local(*start), local(*end))
    assert in_good_hours(parse(slot["start"]), parse(slot["end"]))


def test_the_call_slot_moves_on_with_the_clock(handler: Caller) -> None:
    complaint = resolved_at(handler, 2026, 11, 16, 12, 0)
    for moment, start in [
        ((2026, 11, 16, 16, 45), local(2026, 11, 16, 19, 0)),
        ((2026, 11, 16, 23, 0), local(2026, 11, 17, 10, 0)),
        ((2026, 11, 17, 15, 0), local(2026, 11, 17, 15, 0)),
    ]:
        with frozen(*moment):
            slot = only(get(handler, complaint["id"]), "follow_up")["next_call_slot"]
        assert parse(slot["start"]) == start, moment
        assert in_good_hours(parse(slot["start"]), parse(slot["end"])), slot


def test_revisit_stops_the_follow_up(handler: Caller) -> None:
    complaint = resolved_at(handler, 2026, 11, 16, 12, 0)
    with frozen(2026, 11, 17, 10, 15):
        after = handler.move(complaint["id"], "revisit", {"satisfaction": "satisfied", "call_notes": "客户表示认可"})
    follow_up = only(after, "follow_up")
    assert follow_up["state"] == "met"
    assert parse(follow_up["stopped_at"]) == local(2026, 11, 17, 10, 15)
    assert follow_up["next_call_slot"] is None
    assert follow_up["remaining_seconds"] is None


def test_reopen_starts_a_new_written_reply(handler: Caller) -> None:
    complaint = resolved_at(handler, 2026, 11, 16, 12, 0)
    with frozen(2026, 11, 17, 9, 0):
        reopened = handler.move(complaint["id"], "reopen", {"reason": "客户回访时表示仍未收到退款"})
    replies = clocks(reopened, "written_reply")
    assert [c["state"] for c in replies] == ["met", "running"]
    new = replies[1]
    assert parse(new["started_at"]) == local(2026, 11, 17, 9, 0)
    assert parse(new["warn_at"]) == local(2026, 11, 22, 9, 0)
    assert parse(new["due_at"]) == local(2026, 11, 24, 9, 0)
    assert parse(replies[0]["stopped_at"]) == local(2026, 11, 16, 12, 0), "the first run keeps its own stop"
    follow_up = only(reopened, "follow_up")
    assert follow_up["stopped_at"] is not None and follow_up["next_call_slot"] is None
    assert [c["kind"] for c in reopened["clocks"] if c["stopped_at"] is None].count("written_reply") == 1


def test_reopen_dispatching_to_a_store_starts_its_store_feedback_clock(handler: Caller) -> None:
    """The domain: the store-feedback clock starts at dispatch to a store; a reopen with a store_id dispatches."""
    with frozen(2026, 11, 16, 9, 0):
        complaint = handler.register()
        handler.move(complaint["id"], "reject", {"reason": "misunderstanding", "explanation": "误会"})
    with frozen(2026, 11, 20, 16, 0):
        reopened = handler.move(complaint["id"], "reopen", {"reason": "客户补充了新证据", "store_id": "SZ-LH-003"})
    assert reopened["responsible_store_id"] == "SZ-LH-003"
    running = [c for c in clocks(reopened, "store_feedback") if c["stopped_at"] is None]
    assert len(running) == 1, reopened["clocks"]
    assert running[0]["store_id"] == "SZ-LH-003"
    assert parse(running[0]["due_at"]) == local(2026, 11, 24, 18, 0)


def test_a_closed_complaint_leaves_no_clock_running_to_breach(handler: Caller, db: Database) -> None:
    """Resolved without the store's feedback, then revisited: nothing is left that could still escalate.

    Store feedback can only be recorded while investigating, so a store-feedback clock left running past
    resolution can never be met; a later sweep would breach and escalate a closed complaint.
    """
    complaint = resolved_at(handler, 2026, 11, 16, 12, 0)
    with frozen(2026, 11, 17, 10, 15):
        closed = handler.move(complaint["id"], "revisit", {"satisfaction": "satisfied"})
    assert closed["state"] == "revisited"
    assert [c["kind"] for c in closed["clocks"] if c["stopped_at"] is None] == []
    sweep(db, now=local(2026, 12, 31, 12, 0))
    assert not {"sla.warning", "sla.breached", "complaint.escalated"} & set(moves(handler, complaint["id"]))


# Media complaints: tighter clocks and an escalation at once.


def test_a_media_complaint_gets_the_media_policy_and_is_escalated_at_registration(handler: Caller) -> None:
    with frozen(2026, 11, 16, 10, 0):
        complaint = handler.register(channel="media")
    assert complaint["priority"] == "media"
    reply = only(complaint, "written_reply")
    assert reply["target"] == "2 calendar days, warning after 1"
    assert parse(reply["warn_at"]) == local(2026, 11, 17, 10, 0)
    assert parse(reply["due_at"]) == local(2026, 11, 18, 10, 0)
    history = events(handler, complaint["id"])
    # The ladder's default: a media complaint reaches the customer-service supervisor and the general manager.
    assert [e["move"] for e in history] == ["register", "complaint.escalated", "complaint.escalated"]
    assert [e["payload"]["level"] for e in history[1:]] == ["cs_supervisor", "general_manager"]
    for escalated in history[1:]:
        assert escalated["actor"] == "tousu"
        assert escalated["api_key_id"] is None
        assert parse(escalated["at"]) == local(2026, 11, 16, 10, 0)
        assert escalated["payload"]["priority"] == "media"
        assert escalated["payload"]["trigger"] == "media"

    with frozen(2026, 11, 16, 11, 0):
        moved = handler.move(complaint["id"], "investigate", {"store_id": STORE})
    feedback = only(moved, "store_feedback")
    assert feedback["target"] == "8 hours, warning after 4"
    assert parse(feedback["warn_at"]) == local(2026, 11, 16, 15, 0)
    assert parse(feedback["due_at"]) == local(2026, 11, 16, 19, 0)
    assert moves(handler, complaint["id"]).count("complaint.escalated") == 2, "escalated once, at registration"


def test_a_normal_complaint_is_not_escalated_at_registration(handler: Caller) -> None:
    with frozen(2026, 11, 16, 10, 0):
        complaint = handler.register(channel="phone")
    assert moves(handler, complaint["id"]) == ["register"]


# Explanations.


def test_the_clocks_explain_each_deadline_day_by_day(handler: Caller) -> None:
    complaint = dispatched(handler, 2026, 9, 30, 15, 0)
    with frozen(2026, 9, 30, 15, 5):
        clocks_out = explained(handler, complaint["id"])
    assert [c["kind"] for c in clocks_out] == ["written_reply", "store_feedback"]
    reply, store = clocks_out

    assert reply["explanation"]["days"] == []
    assert "7 calendar days" in reply["explanation"]["rule"]
    assert [h["kind"] for h in reply["history"]] == ["started"]

    assert "2026-09-30" in store["explanation"]["rule"]
    assert store["explanation"]["calendar_assumed"] is False
    days = {day["date"]: day for day in store["explanation"]["days"]}
    assert list(days) == [f"2026-10-{d:02d}" for d in range(1, 10)], "every day from the start to the due day"
    assert [day["date"] for day in days.values() if day["counted"]] == ["2026-10-08", "2026-10-09"]
    national_day = days["2026-10-01"]
    assert national_day["counted"] is False
    assert national_day["kind"] == "holiday" and national_day["name"] == "国庆节"
    assert "国庆节" in national_day["reason"]
    assert "国庆节" in days["2026-10-03"]["reason"], "a holiday on a Saturday is named as the holiday"
    assert days["2026-10-04"]["kind"] == "weekend" and "weekend" in days["2026-10-04"]["reason"]
    assert all(not day["counted"] for day in days.values() if day["date"] < "2026-10-08")
    assert days["2026-10-08"]["reason"] == "working day"
    assert all(day["source"] == "package" for day in days.values())

    started = store["history"][0]
    assert started["kind"] == "started"
    assert parse(started["at"]) == local(2026, 9, 30, 15, 0)
    assert instant(started["detail"]["due_at"]) == local(2026, 10, 9, 18, 0)
    assert STORE in started["detail"]["why"]


def test_the_explanation_names_the_adjusted_working_saturday(handler: Caller) -> None:
    complaint = dispatched(handler, 2026, 2, 13, 15, 0)
    with frozen(2026, 2, 13, 15, 5):
        store = next(c for c in explained(handler, complaint["id"]) if c["kind"] == "store_feedback")
    days = {day["date"]: day for day in store["explanation"]["days"]}
    assert days["2026-02-14"]["counted"] is True
    assert days["2026-02-14"]["kind"] == "adjusted_workday" and "调休" in days["2026-02-14"]["reason"]
    assert [d for d, day in days.items() if day["counted"]] == ["2026-02-14", "2026-02-24"]
    assert days["2026-02-17"]["name"] == "春节" and "春节" in days["2026-02-17"]["reason"]
    for skipped in ("2026-02-15", "2026-02-16", "2026-02-20", "2026-02-21", "2026-02-23"):
        assert days[skipped]["counted"] is False, skipped
        assert chinese_calendar.is_workday(date.fromisoformat(skipped)) is False, skipped


def test_the_clock_history_records_warned_breached_and_met(handler: Caller, db: Database) -> None:
    warned_then_met = dispatched(handler, 2026, 11, 20, 16, 0)
    breached = dispatched(handler, 2026, 11, 20, 16, 1)
    sweep(db, now=local(2026, 11, 23, 18, 0, 1))
    with frozen(2026, 11, 24, 10, 0):
        handler.move(warned_then_met["id"], "store-feedback", {**FEEDBACK, "store_id": STORE})
    sweep(db, now=local(2026, 11, 24, 18, 1))

    def store_history(complaint: dict[str, Any]) -> list[dict[str, Any]]:
        store = next(c for c in explained(handler, complaint["id"]) if c["kind"] == "store_feedback")
        return store["history"]

    first = store_history(warned_then_met)
    assert [h["kind"] for h in first] == ["started", "warned", "met"]
    assert parse(first[1]["at"]) == local(2026, 11, 23, 18, 0, 1)
    second = store_history(breached)
    assert [h["kind"] for h in second] == ["started", "warned", "breached"]
    assert parse(second[2]["at"]) == local(2026, 11, 24, 18, 1)


# The sweep.


def test_a_sweep_warns_then_breaches_and_escalates_each_exactly_once(handler: Caller, db: Database) -> None:
    complaint = dispatched(handler, 2026, 11, 20, 16, 0)

    assert sweep(db, now=local(2026, 11, 23, 17, 59)).warned == 0, "not before the warning"
    assert moves(handler, complaint["id"]) == ["register", "investigate"]

    first = sweep(db, now=local(2026, 11, 23, 18, 0))
    again = sweep(db, now=local(2026, 11, 23, 18, 0))
    later = sweep(db, now=local(2026, 11, 24, 12, 0))
    assert (first.warned, first.breached) == (1, 0)
    assert (again.warned, again.breached, later.warned, later.breached) == (0, 0, 0, 0)
    # The ladder's default: a feedback warning reaches the store manager.
    assert moves(handler, complaint["id"]) == ["register", "investigate", "sla.warning", "complaint.escalated"]
    with frozen(2026, 11, 24, 12, 0):
        clock = only(get(handler, complaint["id"]), "store_feedback")
        assert clock["state"] == "running" and clock["warning"] is True
        assert clock["remaining_seconds"] == 6 * 3600

    breach = sweep(db, now=local(2026, 11, 24, 18, 0))
    twice = sweep(db, now=local(2026, 11, 24, 18, 5))
    assert (breach.warned, breach.breached) == (0, 1)
    assert (twice.warned, twice.breached) == (0, 0)
    history = events(handler, complaint["id"])
    assert [e["move"] for e in history] == [
        "register",
        "investigate",
        "sla.warning",
        "complaint.escalated",
        "sla.breached",
        "complaint.escalated",
    ]
    warning, to_manager, breached, escalated = history[2:]
    assert (to_manager["payload"]["trigger"], to_manager["payload"]["level"]) == ("feedback_warning", "store_manager")
    assert (escalated["payload"]["trigger"], escalated["payload"]["level"]) == ("feedback_breach", "region_manager")
    for event in (warning, to_manager, breached, escalated):
        assert event["actor"] == "tousu"
        assert event["payload"]["clock"] == "store_feedback"
        assert event["payload"]["store_id"] == STORE
        assert event["from_state"] == event["to_state"] == "investigating"
    assert parse(warning["at"]) == local(2026, 11, 23, 18, 0)
    assert parse(breached["at"]) == local(2026, 11, 24, 18, 0)
    assert instant(breached["payload"]["due_at"]) == local(2026, 11, 24, 18, 0)
    assert "store_feedback" in escalated["payload"]["reason"]
    with frozen(2026, 11, 24, 18, 30):
        clock = only(get(handler, complaint["id"]), "store_feedback")
    assert clock["state"] == "breached" and clock["warning"] is False
    assert clock["stopped_at"] is None, "still waiting for the store's feedback"


def test_a_sweep_long_after_the_deadline_breaches_without_a_late_warning(handler: Caller, db: Database) -> None:
    complaint = dispatched(handler, 2026, 11, 20, 16, 0)
    swept = sweep(db, now=local(2026, 11, 26, 9, 0))
    # The store feedback (due 11-24 18:00) breaches; the written reply (warning 11-25 16:00) only warns.
    assert (swept.warned, swept.breached) == (1, 1)
    history = events(handler, complaint["id"])
    fired = [(e["move"], e["payload"].get("clock")) for e in history[2:]]
    assert sorted(fired) == [
        ("complaint.escalated", "store_feedback"),
        ("sla.breached", "store_feedback"),
        ("sla.warning", "written_reply"),
    ]
    store = next(c for c in explained(handler, complaint["id"]) if c["kind"] == "store_feedback")
    assert [h["kind"] for h in store["history"]] == ["started", "breached"], "no warning after the deadline"
    again = sweep(db, now=local(2026, 11, 26, 9, 30))
    assert (again.warned, again.breached) == (0, 0)
    assert len(events(handler, complaint["id"])) == len(history)


def test_a_stopped_clock_is_never_swept(handler: Caller, db: Database) -> None:
    complaint = dispatched(handler, 2026, 11, 20, 16, 0)
    with frozen(2026, 11, 23, 10, 0):
        handler.move(complaint["id"], "store-feedback", {**FEEDBACK, "store_id": STORE})
    sweep(db, now=local(2026, 11, 24, 19, 0))
    assert not {"sla.warning", "sla.breached", "complaint.escalated"} & set(moves(handler, complaint["id"]))


# Listing by clock.


@pytest.fixture
def by_clock(handler: Caller, db: Database) -> dict[str, str]:
    """Four complaints whose clocks differ, swept on Sunday 2026-11-08 at noon; label → id."""
    old = dispatched(handler, 2026, 11, 2, 10, 0)  # store feedback due 11-04: breached; written reply warned
    warned = dispatched(handler, 2026, 11, 5, 10, 0)  # store feedback warned 11-06 18:00, due 11-09
    with frozen(2026, 11, 7, 10, 0):
        fresh = handler.register()  # the written reply only, warning on 11-12
    resolved = resolved_at(handler, 2026, 11, 7, 11, 0)  # the follow-up runs (and the store's feedback)
    sweep(db, now=local(2026, 11, 8, 12, 0))
    return {"old": old["id"], "warned": warned["id"], "fresh": fresh["id"], "resolved": resolved["id"]}


def listed(caller: Caller, **params: str) -> set[str]:
    response = caller.get("/v1/complaints", params={"limit": 200, **params})
    assert response.status_code == 200, response.text
    return {item["id"] for item in response.json()["items"]}


def labels(found: set[str], by_clock: dict[str, str]) -> set[str]:
    return {label for label, complaint_id in by_clock.items() if complaint_id in found}


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"clock": "warning"}, {"old", "warned"}),
        ({"clock": "warning", "clock_kind": "store_feedback"}, {"warned"}),
        ({"clock": "warning", "clock_kind": "written_reply"}, {"old"}),
        ({"clock": "warning", "clock_kind": "follow_up"}, set()),
        ({"clock": "breached"}, {"old"}),
        ({"clock": "breached", "clock_kind": "store_feedback"}, {"old"}),
        ({"clock": "breached", "clock_kind": "written_reply"}, set()),
        ({"clock": "running"}, {"old", "warned", "fresh", "resolved"}),
        ({"clock": "running", "clock_kind": "follow_up"}, {"resolved"}),
        ({"clock": "running", "clock_kind": "written_reply"}, {"old", "warned", "fresh"}),
    ],
)
def test_the_list_filters_by_clock(
    handler: Caller, by_clock: dict[str, str], params: dict[str, str], expected: set[str]
) -> None:
    assert labels(listed(handler, **params), by_clock) == expected


def test_the_running_filter_leaves_out_a_breached_clock(handler: Caller, by_clock: dict[str, str]) -> None:
    """The breached store feedback of "old" is not a running one; nor is the store feedback of "resolved", which
    resolution cancelled (the store no longer owes feedback)."""
    assert labels(listed(handler, clock="running", clock_kind="store_feedback"), by_clock) == {"warned"}


def test_the_list_refuses_an_unknown_clock_filter(handler: Caller) -> None:
    for params in ({"clock": "late"}, {"clock": "running", "clock_kind": "phone_call"}):
        response = handler.get("/v1/complaints", params=params)
        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == "application/problem+json"


# A year with no published schedule.


def test_a_dispatch_into_a_year_with_no_schedule_is_assumed_and_computed(handler: Caller, db: Database) -> None:
    complaint = dispatched(handler, 2082, 12, 31, 10, 0)
    clock = only(complaint, "store_feedback")
    assert clock["calendar_assumed"] is True
    # 2083-01-01 (a Friday) counts on the weekend rule alone; the weekend does not.
    assert parse(clock["warn_at"]) == local(2083, 1, 1, 18, 0)
    assert parse(clock["due_at"]) == local(2083, 1, 4, 18, 0)
    assert only(complaint, "written_reply")["calendar_assumed"] is False, "calendar days need no schedule"

    with frozen(2082, 12, 31, 10, 5):
        store = next(c for c in explained(handler, complaint["id"]) if c["kind"] == "store_feedback")
    assert store["calendar_assumed"] is True
    assert store["explanation"]["calendar_assumed"] is True
    days = store["explanation"]["days"]
    assert [day["date"] for day in days] == ["2083-01-01", "2083-01-02", "2083-01-03", "2083-01-04"]
    assert {day["source"] for day in days} == {"assumed"}
    assert all("assumed" in day["reason"] for day in days)
    assert started_assumed(store)

    swept = sweep(db, now=local(2083, 1, 4, 18, 0))
    assert swept.breached == 1
    assert moves(handler, complaint["id"])[-2:] == ["sla.breached", "complaint.escalated"]
    assert events(handler, complaint["id"])[-2]["payload"]["calendar_assumed"] is True


def started_assumed(clock: dict[str, Any]) -> bool:
    return clock["history"][0]["detail"]["calendar_assumed"] is True


@pytest.mark.parametrize(
    ("moment", "due_at"),
    [
        pytest.param((2083, 3, 10, 15, 0), (2083, 3, 12, 18, 0), id="wednesday"),
        pytest.param((2083, 10, 1, 9, 0), (2083, 10, 5, 18, 0), id="national-day-unpublished"),
        pytest.param((2083, 12, 31, 9, 0), (2084, 1, 4, 18, 0), id="into-2084"),
    ],
)
def test_dispatches_inside_an_unknown_year_never_crash(
    handler: Caller, moment: tuple[int, ...], due_at: tuple[int, ...]
) -> None:
    complaint = dispatched(handler, *moment)
    clock = only(complaint, "store_feedback")
    assert clock["calendar_assumed"] is True
    assert parse(clock["due_at"]) == local(*due_at)
    with frozen(*moment):
        response = handler.get(f"/v1/complaints/{complaint['id']}/clocks")
    assert response.status_code == 200, response.text
