"""Follow-up calls that do not get through (000 回访; 004 "回访时效在2个工作日内"): ``call-attempt`` records them, the
next call slot follows them (a later day's good hours, or the time the customer named), a customer never reached is
closed as ``unreachable`` after calls on enough different days, and a neutral customer says what to improve. Over
HTTP, at frozen local moments (Asia/Shanghai)."""

from __future__ import annotations

from typing import Any

import pytest

from app.config import Settings
from app.webhooks import events as webhook_events
from tests.complaints.remedies import APOLOGY, clocks, events, guards_of, problem, read, resolved_by, summary
from tests.conftest import Caller
from tests.sla.moments import frozen, instant, local

MONDAY = (2026, 11, 23, 10, 0)  # resolved: the follow-up is due Wednesday 18:00 (2 working days)


def follow_up(complaint: dict[str, Any]) -> dict[str, Any]:
    """The complaint's latest follow-up clock (a reopened complaint has one per resolution)."""
    return clocks(complaint, "follow_up")[-1]


def slot(complaint: dict[str, Any]) -> tuple[Any, Any]:
    found = follow_up(complaint)["next_call_slot"]
    return instant(found["start"]), instant(found["end"])


def call(caller: Caller, complaint_id: str, at: tuple[int, ...], outcome: str, **more: Any) -> dict[str, Any]:
    with frozen(*at):
        return caller.move(complaint_id, "call-attempt", {"outcome": outcome, **more})


def test_an_unanswered_call_moves_the_next_slot_to_a_later_day(handler: Caller) -> None:
    done = resolved_by(handler, APOLOGY, *MONDAY, handler=handler)
    assert slot(done) == (local(2026, 11, 23, 10, 0), local(2026, 11, 23, 11, 30))
    called = call(handler, done["id"], (2026, 11, 23, 10, 5), "no_answer", note="无人接听")
    assert called["state"] == "resolved" and called["version"] == done["version"] + 1
    assert called["follow_up_calls"] == {
        "attempts": 1,
        "days": 1,
        "last_at": "2026-11-23T10:05:00+08:00",
        "last_outcome": "no_answer",
        "call_back_at": None,
    }
    assert slot(called) == (local(2026, 11, 24, 10, 0), local(2026, 11, 24, 11, 30))
    with frozen(2026, 11, 23, 19, 10):  # a good hour, but the same day as the unanswered call
        assert slot(read(handler, done["id"])) == (local(2026, 11, 24, 10, 0), local(2026, 11, 24, 11, 30))
    entry = events(handler, done["id"])[-1]
    assert (entry["move"], entry["from_state"], entry["to_state"]) == ("call-attempt", "resolved", "resolved")
    assert entry["payload"] == {"outcome": "no_answer", "note": "无人接听"}
    assert webhook_events.TYPE_OF_MOVE["call-attempt"] == "complaint.call_attempted"


def test_a_call_back_is_at_the_time_the_customer_named(handler: Caller) -> None:
    done = resolved_by(handler, APOLOGY, *MONDAY, handler=handler)
    called = call(handler, done["id"], (2026, 11, 23, 10, 5), "call_back", call_back_at="2026-11-24T12:15:00+08:00")
    assert called["follow_up_calls"]["call_back_at"] == "2026-11-24T12:15:00+08:00"
    assert slot(called) == (local(2026, 11, 24, 12, 15), local(2026, 11, 24, 12, 45))  # outside good hours: named
    with frozen(2026, 11, 24, 13, 0):  # the named time has passed: the next good hour
        assert slot(read(handler, done["id"])) == (local(2026, 11, 24, 14, 30), local(2026, 11, 24, 16, 30))


@pytest.mark.parametrize(
    "body",
    [
        None,
        {},
        {"outcome": "hung_up"},
        {"outcome": "call_back"},
        {"outcome": "call_back", "call_back_at": "2026-11-23T09:00:00+08:00"},  # already past
        {"outcome": "call_back", "call_back_at": "2027-01-05T10:00:00+08:00"},  # more than 30 days ahead
        {"outcome": "call_back", "call_back_at": "2026-11-24T12:15:00"},  # no offset
        {"outcome": "busy", "call_back_at": "2026-11-24T12:15:00+08:00"},
        {"outcome": "busy", "at": "2026-11-23T09:00:00+08:00"},
    ],
)
def test_a_call_attempt_names_its_outcome(handler: Caller, body: Any) -> None:
    done = resolved_by(handler, APOLOGY, *MONDAY, handler=handler)
    with frozen(2026, 11, 23, 10, 5):
        problem(handler.post(f"/v1/complaints/{done['id']}/call-attempt", json=body), 422)
    after = read(handler, done["id"])
    assert after["version"] == done["version"] and after["follow_up_calls"]["attempts"] == 0


def test_a_customer_never_reached_is_closed_after_calls_on_three_different_days(
    handler: Caller, make_caller: Any
) -> None:
    done = resolved_by(handler, APOLOGY, *MONDAY, handler=handler)
    path = f"/v1/complaints/{done['id']}/revisit"
    unreachable = {"satisfaction": "unreachable", "call_notes": "三天内多次致电均未接通"}

    def refused(at: tuple[int, ...]) -> str:
        with frozen(*at):
            answer = problem(handler.post(path, json=unreachable), 409)
        assert answer["guard"] == "tried_enough"
        assert read(handler, done["id"])["state"] == "resolved"
        detail: str = answer["detail"]
        return detail

    assert refused((2026, 11, 23, 10, 1)) == (
        "unreachable only after unanswered calls on 3 different days: 0 recorded on 0 (call-attempt)"
    )
    call(handler, done["id"], (2026, 11, 23, 10, 5), "no_answer")
    call(handler, done["id"], (2026, 11, 23, 14, 40), "busy")
    assert refused((2026, 11, 23, 14, 41)).endswith("2 recorded on 1 (call-attempt)")
    call(handler, done["id"], (2026, 11, 24, 10, 10), "no_answer")
    assert refused((2026, 11, 24, 10, 11)).endswith("3 recorded on 2 (call-attempt)")
    called = call(handler, done["id"], (2026, 11, 25, 10, 10), "wrong_number")
    assert (called["follow_up_calls"]["attempts"], called["follow_up_calls"]["days"]) == (4, 3)
    with frozen(2026, 11, 25, 10, 15):
        closed = handler.move(done["id"], "revisit", unreachable)
    assert (closed["state"], closed["satisfaction"]) == ("revisited", "unreachable")
    clock = follow_up(closed)
    assert clock["state"] == "met" and instant(clock["stopped_at"]) == local(2026, 11, 25, 10, 15)
    assert clock["next_call_slot"] is None
    moves = [e["move"] for e in events(handler, done["id"])]
    assert moves[-5:] == ["call-attempt", "call-attempt", "call-attempt", "call-attempt", "revisit"]
    assert "tried_enough" in guards_of(handler, "revisit")

    with frozen(2026, 11, 26, 9, 0):
        total = summary(make_caller("reporter", actor="reporter-01"), "2026-11-23")
    assert total["satisfaction"] == {
        "satisfied": 0,
        "neutral": 0,
        "unsatisfied": 0,
        "unreachable": 1,
        "satisfied_rate": None,  # a customer never reached did not answer
    }


class TestAnotherNumberOfDays:
    @pytest.fixture
    def settings(self, database_url: str) -> Settings:
        return Settings(
            database_url=database_url,
            sweep_in_serve=False,
            dispatch_in_serve=False,
            follow_up_unreachable_after_days=1,
        )

    def test_the_days_needed_are_a_setting(self, handler: Caller) -> None:
        done = resolved_by(handler, APOLOGY, *MONDAY, handler=handler)
        call(handler, done["id"], (2026, 11, 23, 10, 5), "no_answer")
        with frozen(2026, 11, 23, 10, 6):
            closed = handler.move(done["id"], "revisit", {"satisfaction": "unreachable"})
        assert closed["satisfaction"] == "unreachable"


def test_a_neutral_customer_says_what_to_improve(handler: Caller) -> None:
    done = resolved_by(handler, APOLOGY, *MONDAY, handler=handler)
    path = f"/v1/complaints/{done['id']}/revisit"
    with frozen(2026, 11, 23, 15, 0):
        for body in ({"satisfaction": "neutral"}, {"satisfaction": "neutral", "improvement": "   "}):
            refused = problem(handler.post(path, json=body), 422)
            assert "what to improve" in str(refused["errors"]) or "improvement" in str(refused["errors"])
        assert read(handler, done["id"])["version"] == done["version"]
        closed = handler.move(done["id"], "revisit", {"satisfaction": "neutral", "improvement": "希望处理再快一些"})
    assert (closed["satisfaction"], closed["improvement"]) == ("neutral", "希望处理再快一些")
    assert events(handler, done["id"])[-1]["payload"]["improvement"] == "希望处理再快一些"


def test_a_new_resolution_starts_the_calls_afresh(handler: Caller) -> None:
    done = resolved_by(handler, APOLOGY, *MONDAY, handler=handler)
    call(handler, done["id"], (2026, 11, 23, 10, 5), "no_answer")
    with frozen(2026, 11, 24, 10, 0):
        handler.move(done["id"], "reopen", {"reason": "客户来电表示仍不满意"})
        again = handler.move(done["id"], "resolve", APOLOGY)
    assert again["follow_up_calls"]["attempts"] == 0
    assert slot(again) == (local(2026, 11, 24, 10, 0), local(2026, 11, 24, 11, 30))


def test_a_store_does_not_record_follow_up_calls(handler: Caller, make_caller: Any) -> None:
    store = make_caller("store", store_id="SZ-FT-012", actor="店长王五")
    done = resolved_by(handler, APOLOGY, *MONDAY, handler=handler)
    with frozen(2026, 11, 23, 10, 5):
        problem(store.post(f"/v1/complaints/{done['id']}/call-attempt", json={"outcome": "no_answer"}), 403)
        problem(handler.post(f"/v1/complaints/{handler.register()['id']}/call-attempt", json={"outcome": "busy"}), 409)
    assert read(handler, done["id"])["version"] == done["version"]
