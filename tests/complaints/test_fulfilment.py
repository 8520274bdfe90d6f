"""The remedy carried out (002 "跟踪处理结果的落实"): ``fulfil`` records the refund paid (with its payment reference),
the goods exchanged, the repair done; a fulfilment clock runs from the resolution of every remedy with a value,
warns and breaches like the others; and a complaint whose remedy is still owed is not closed. Over HTTP, at frozen
local moments; the sweep is driven with its own ``now``."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from app.complaints.sweeper import sweep
from app.db import Database
from app.webhooks import events as webhook_events
from tests.complaints.remedies import (
    APOLOGY,
    REFUND,
    approved,
    clocks,
    events,
    guards_of,
    problem,
    read,
    remedy,
    resolved_by,
)
from tests.conftest import Caller
from tests.sla.moments import frozen, instant, local

MONDAY = (2026, 11, 23, 10, 0)
PAID = {"payment_reference": "WX-REFUND-4200001987", "note": "已退款至顾客原支付账户"}


def only(complaint: dict[str, Any], kind: str) -> dict[str, Any]:
    (found,) = clocks(complaint, kind)
    return found


def test_a_refund_starts_a_fulfilment_clock_of_three_working_days(handler: Caller, supervisor: Caller) -> None:
    done = approved(handler, supervisor, REFUND, *MONDAY)
    fulfilment = only(done, "fulfilment")
    assert fulfilment["state"] == "running" and fulfilment["target"] == "3 working days, warning after 2"
    assert instant(fulfilment["started_at"]) == local(*MONDAY)
    assert instant(fulfilment["warn_at"]) == local(2026, 11, 25, 18, 0)  # Wednesday, close of business
    assert instant(fulfilment["due_at"]) == local(2026, 11, 26, 18, 0)  # Thursday
    assert done["remedy_owed"] is True and done["fulfilment"] is None
    assert done["allowed_moves"][0] == "fulfil"


def test_an_apology_has_nothing_to_carry_out(handler: Caller) -> None:
    done = resolved_by(handler, APOLOGY, *MONDAY, handler=handler)
    assert clocks(done, "fulfilment") == [] and done["remedy_owed"] is False
    assert "fulfil" not in done["allowed_moves"]
    with frozen(*MONDAY):
        refused = problem(handler.post(f"/v1/complaints/{done['id']}/fulfil", json=PAID), 409)
    assert refused["guard"] == "remedy_owed" and refused["detail"] == "an apology has no value to carry out"
    assert read(handler, done["id"])["version"] == done["version"]


def test_a_refund_is_paid_with_its_reference(handler: Caller, supervisor: Caller) -> None:
    done = approved(handler, supervisor, REFUND, *MONDAY)
    path = f"/v1/complaints/{done['id']}/fulfil"
    with frozen(2026, 11, 24, 16, 0):
        for body in (None, {"note": "已退款"}):
            refused = problem(handler.as_actor("财务赵六").post(path, json=body), 409)
            assert refused["guard"] == "payment_referenced"
            assert refused["detail"] == "a refund is paid: give the payment's reference (payment_reference)"
        assert read(handler, done["id"])["version"] == done["version"]
        paid = handler.as_actor("财务赵六").move(done["id"], "fulfil", PAID)
    assert paid["state"] == "resolved" and paid["remedy_owed"] is False
    assert paid["fulfilment"] == {
        "fulfilled_at": "2026-11-24T16:00:00+08:00",
        "fulfilled_by": "财务赵六",
        "payment_reference": "WX-REFUND-4200001987",
    }
    fulfilment = only(paid, "fulfilment")
    assert fulfilment["state"] == "met" and instant(fulfilment["stopped_at"]) == local(2026, 11, 24, 16, 0)
    assert "fulfil" not in paid["allowed_moves"]
    entry = events(handler, done["id"])[-1]
    assert (entry["move"], entry["actor"], entry["from_state"], entry["to_state"]) == (
        "fulfil",
        "财务赵六",
        "resolved",
        "resolved",
    )
    assert entry["payload"] == PAID
    assert webhook_events.TYPE_OF_MOVE["fulfil"] == "complaint.fulfilled"
    assert guards_of(handler, "fulfil") == ["remedy_owed", "payment_referenced", "fulfilled_after_receipt"]


@pytest.mark.parametrize(("kind", "amount"), [("exchange", "6999.00"), ("free_repair", "800.00"), ("other", "50.00")])
def test_goods_exchanged_or_a_repair_done_need_no_payment_reference(
    handler: Caller, manager: Caller, kind: str, amount: str
) -> None:
    done = resolved_by(manager, remedy(kind, amount), *MONDAY, handler=handler)
    with frozen(2026, 11, 25, 11, 0):
        carried_out = handler.move(done["id"], "fulfil")  # no body at all: carried out now, by the X-Actor
    assert carried_out["fulfilment"]["fulfilled_by"] == "handler-07"
    assert carried_out["fulfilment"]["payment_reference"] is None
    assert only(carried_out, "fulfilment")["state"] == "met"


def test_a_remedy_is_carried_out_once(handler: Caller, supervisor: Caller) -> None:
    done = approved(handler, supervisor, REFUND, *MONDAY)
    with frozen(*MONDAY):
        handler.move(done["id"], "fulfil", PAID)
        refused = problem(handler.post(f"/v1/complaints/{done['id']}/fulfil", json=PAID), 409)
    assert refused["guard"] == "remedy_owed"
    assert refused["detail"] == "the remedy was already carried out, by handler-07"


def test_the_time_it_was_carried_out_has_passed(handler: Caller, supervisor: Caller) -> None:
    done = approved(handler, supervisor, REFUND, *MONDAY)
    path = f"/v1/complaints/{done['id']}/fulfil"
    with frozen(2026, 11, 24, 9, 0):
        problem(handler.post(path, json={**PAID, "fulfilled_at": "2026-11-24T09:30:00+08:00"}), 422)
        refused = problem(handler.post(path, json={**PAID, "fulfilled_at": "2026-11-20T09:30:00+08:00"}), 409)
        assert refused["guard"] == "fulfilled_after_receipt"
        assert read(handler, done["id"])["version"] == done["version"]
        paid = handler.move(done["id"], "fulfil", {**PAID, "fulfilled_at": "2026-11-23T17:00:00+08:00"})
    assert instant(only(paid, "fulfilment")["stopped_at"]) == local(2026, 11, 23, 17, 0)


def test_the_fulfilment_clock_warns_and_breaches(handler: Caller, supervisor: Caller, db: Database) -> None:
    done = approved(handler, supervisor, REFUND, *MONDAY)
    clock = only(done, "fulfilment")
    sweep(db, instant(clock["warn_at"]) + timedelta(minutes=1))
    warned = read(handler, done["id"])
    assert only(warned, "fulfilment")["warning"] is True
    sweep(db, instant(clock["due_at"]) + timedelta(minutes=1))
    with frozen(2026, 11, 27, 10, 0):
        late = handler.move(done["id"], "fulfil", PAID)
    assert only(late, "fulfilment")["state"] == "breached"  # stays breached once paid
    written = [
        (e["move"], e["payload"].get("trigger"))
        for e in events(handler, done["id"])
        if e["payload"].get("clock") == "fulfilment"
    ]
    # The follow-up call was late too (2 working days, breached by the same sweep, first): a second breach.
    assert written == [
        ("sla.warning", None),
        ("sla.breached", None),
        ("complaint.escalated", "fulfilment_breach"),
        ("complaint.escalated", "second_breach"),
    ]


def test_a_complaint_whose_remedy_is_owed_is_not_closed(handler: Caller, supervisor: Caller) -> None:
    done = approved(handler, supervisor, REFUND, *MONDAY)
    path = f"/v1/complaints/{done['id']}/revisit"
    with frozen(2026, 11, 24, 10, 0):
        refused = problem(handler.post(path, json={"satisfaction": "satisfied"}), 409)
        assert refused["guard"] == "remedy_not_owed"
        assert refused["detail"] == (
            "the remedy is still owed: a refund worth 300.00 yuan has not been carried out; record it with fulfil "
            "before closing"
        )
        assert refused["allowed_moves"] == ["fulfil", "call-attempt", "revisit", "reopen", "reassign", "escalate"]
        assert read(handler, done["id"])["state"] == "resolved"
        handler.move(done["id"], "fulfil", PAID)
        closed = handler.move(done["id"], "revisit", {"satisfaction": "satisfied"})
    assert closed["state"] == "revisited"
    assert "remedy_not_owed" in guards_of(handler, "revisit")


def test_reopening_cancels_the_fulfilment_and_a_new_resolution_owes_it_again(
    handler: Caller, supervisor: Caller
) -> None:
    done = approved(handler, supervisor, REFUND, *MONDAY)
    with frozen(2026, 11, 24, 10, 0):
        reopened = handler.move(done["id"], "reopen", {"reason": "客户要求换货而不是退款"})
        assert only(reopened, "fulfilment")["state"] == "cancelled"
        again = supervisor.move(done["id"], "resolve", remedy("exchange", "299.00"))
    running = [clock for clock in clocks(again, "fulfilment") if clock["state"] == "running"]
    assert len(running) == 1 and again["remedy_owed"] is True


def test_a_store_reads_the_fulfilment_but_does_not_record_it(
    handler: Caller, supervisor: Caller, make_caller: Any
) -> None:
    store = make_caller("store", store_id="SZ-FT-012", actor="店长王五")
    done = approved(handler, supervisor, REFUND, *MONDAY)
    with frozen(*MONDAY):
        refused = problem(store.post(f"/v1/complaints/{done['id']}/fulfil", json=PAID), 403)
        assert "store" not in refused["allowed_roles"]
        handler.move(done["id"], "fulfil", PAID)
    seen = read(store, done["id"])
    assert seen["fulfilment"]["fulfilled_by"] == "handler-07" and seen["remedy_owed"] is False
    assert "13812348000" not in str(seen) and "张三" not in str(seen)
