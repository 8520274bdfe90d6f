"""Every remedy but an apology has a value in yuan, and authority follows it (003 §3.6(5) "不得超越核決權限"); resolving
and approving record the reply as sent, by which channel and when (003 "以書面告知"), and the written-reply clock
is met when the customer was told. Over HTTP, at frozen local moments."""

from __future__ import annotations

from typing import Any

import pytest

from tests.complaints.remedies import (
    APOLOGY,
    REFUND,
    approved,
    clocks,
    events,
    guards_of,
    investigating,
    problem,
    read,
    remedy,
    resolved_by,
    summary,
)
from tests.conftest import Caller
from tests.sla.moments import frozen, instant, local

MONDAY = (2026, 11, 23, 10, 0)
EXCHANGE = remedy("exchange", "6999.00", description="更换同型号冰箱")


def unchanged(caller: Caller, before: dict[str, Any]) -> None:
    after = read(caller, before["id"])
    assert (after["state"], after["version"], after["remedy"]) == (before["state"], before["version"], before["remedy"])


@pytest.mark.parametrize("kind", ["exchange", "free_repair", "other", "refund", "price_reduction", "compensation"])
@pytest.mark.parametrize("amount", [None, "0", "0.00"])
def test_every_remedy_but_an_apology_needs_a_value(manager: Caller, kind: str, amount: str | None) -> None:
    complaint = investigating(manager, *MONDAY)
    for move in ("resolve", "propose"):
        refused = problem(manager.post(f"/v1/complaints/{complaint['id']}/{move}", json=remedy(kind, amount)), 422)
        assert "value in yuan" in str(refused["errors"]), refused
    unchanged(manager, complaint)


def test_an_apology_has_no_value(manager: Caller) -> None:
    complaint = investigating(manager, *MONDAY)
    refused = problem(manager.post(f"/v1/complaints/{complaint['id']}/resolve", json=remedy("apology", "10.00")), 422)
    assert "an apology carries no amount" in str(refused["errors"])
    unchanged(manager, complaint)


def test_an_exchange_worth_6999_yuan_is_not_a_handlers_to_grant(
    handler: Caller, supervisor: Caller, manager: Caller
) -> None:
    complaint = investigating(handler, *MONDAY)
    path = f"/v1/complaints/{complaint['id']}"
    with frozen(*MONDAY):
        for caller, authority in ((handler, "0"), (supervisor, "2000")):
            refused = problem(caller.post(f"{path}/resolve", json=EXCHANGE), 409)
            assert refused["guard"] == "within_own_authority"
            assert refused["detail"] == (
                f"an exchange worth 6999.00 yuan exceeds this key's authority of {authority} yuan; propose it for "
                "approval"
            )
        unchanged(handler, complaint)
        handler.move(complaint["id"], "propose", EXCHANGE)
        refused = problem(supervisor.post(f"{path}/approve"), 409)
        assert refused["guard"] == "authority_covers_amount"
        assert refused["detail"] == "an exchange worth 6999.00 yuan exceeds the approver's authority of 2000 yuan"
        assert refused["allowed_moves"] == ["approve", "send-back", "reassign", "escalate"]
        done = manager.move(complaint["id"], "approve")
    assert done["state"] == "resolved" and done["approved_by"] == "manager-01"
    assert done["remedy"] == {"kind": "exchange", "amount": "6999.00", "description": "更换同型号冰箱"}
    assert done["remedy_owed"] is True
    assert "within_own_authority" in guards_of(handler, "resolve")
    assert "authority_covers_amount" in guards_of(handler, "approve")


def test_a_free_repair_within_the_keys_authority_resolves_directly(handler: Caller, supervisor: Caller) -> None:
    done = resolved_by(supervisor, remedy("free_repair", "800.00"), *MONDAY, handler=handler)
    assert done["state"] == "resolved" and done["approved_by"] == "supervisor-03"
    assert done["remedy"]["amount"] == "800.00" and done["remedy_owed"] is True


def test_resolve_records_the_reply_as_sent(handler: Caller) -> None:
    with frozen(2026, 11, 23, 9, 0):
        complaint = handler.register()
        handler.move(complaint["id"], "investigate", {"store_id": "SZ-FT-012"})
    with frozen(*MONDAY):
        body = {**APOLOGY, "reply_channel": "wechat", "replied_at": "2026-11-23T09:30:00+08:00"}
        done = handler.move(complaint["id"], "resolve", body)
    assert done["reply_channel"] == "wechat"
    assert instant(done["replied_at"]) == local(2026, 11, 23, 9, 30)
    assert done["replied_at"].endswith("+08:00")
    (written_reply,) = clocks(done, "written_reply")
    assert written_reply["state"] == "met"
    assert instant(written_reply["stopped_at"]) == local(2026, 11, 23, 9, 30)  # when the customer was told
    (entry,) = [e for e in events(handler, complaint["id"]) if e["move"] == "resolve"]
    assert entry["payload"]["reply_channel"] == "wechat"
    assert instant(entry["payload"]["replied_at"]) == local(2026, 11, 23, 9, 30)


def test_the_written_reply_clock_is_met_when_the_customer_was_told_not_when_it_was_recorded(handler: Caller) -> None:
    told_in_time, recorded_late = investigating(handler, 2026, 11, 2, 10, 0), investigating(handler, 2026, 11, 2, 10, 0)
    with frozen(2026, 11, 10, 10, 0):  # 7 calendar days: due 11-09 10:00; nothing swept in between
        told = {**APOLOGY, "replied_at": "2026-11-06T15:00:00+08:00"}
        (in_time,) = clocks(handler.move(told_in_time["id"], "resolve", told), "written_reply")
        (late,) = clocks(handler.move(recorded_late["id"], "resolve", APOLOGY), "written_reply")
    assert in_time["state"] == "met" and instant(in_time["stopped_at"]) == local(2026, 11, 6, 15, 0)
    assert late["state"] == "breached" and instant(late["stopped_at"]) == local(2026, 11, 10, 10, 0)


@pytest.mark.parametrize(
    "body",
    [
        {"remedy": {"kind": "apology"}, "reply": "抱歉"},
        remedy("apology", channel="fax"),
        remedy("apology", channel=""),
        {**APOLOGY, "replied_at": "2026-11-23T10:06:00+08:00"},  # more than 5 minutes ahead of tousu's clock
        {**APOLOGY, "replied_at": "2026-11-23"},
        {**APOLOGY, "replied_at": "2026-11-23T09:00:00"},
    ],
)
def test_the_reply_is_recorded_with_its_channel_and_a_time_that_has_passed(handler: Caller, body: Any) -> None:
    complaint = investigating(handler, *MONDAY)
    with frozen(*MONDAY):
        problem(handler.post(f"/v1/complaints/{complaint['id']}/resolve", json=body), 422)
    unchanged(handler, complaint)


def test_a_reply_is_not_sent_before_the_complaint_was_received(handler: Caller) -> None:
    complaint = investigating(handler, *MONDAY)
    with frozen(2026, 11, 23, 11, 0):
        body = {**APOLOGY, "replied_at": "2026-11-23T09:59:00+08:00"}
        refused = problem(handler.post(f"/v1/complaints/{complaint['id']}/resolve", json=body), 409)
    assert refused["guard"] == "told_after_receipt"
    assert "before the complaint was received" in refused["detail"]
    assert "told_after_receipt" in guards_of(handler, "resolve")
    unchanged(handler, complaint)


def test_approve_sends_the_reply_by_the_channel_planned_at_the_proposal(handler: Caller, supervisor: Caller) -> None:
    complaint = investigating(handler, *MONDAY)
    with frozen(*MONDAY):
        proposed = handler.move(complaint["id"], "propose", {**REFUND, "reply_channel": "letter"})
    assert (proposed["reply_channel"], proposed["replied_at"]) == ("letter", None)
    with frozen(2026, 11, 23, 15, 0):
        done = supervisor.move(complaint["id"], "approve")  # no body at all
    assert done["reply_channel"] == "letter"
    assert instant(done["replied_at"]) == local(2026, 11, 23, 15, 0)
    (written_reply,) = clocks(done, "written_reply")
    assert instant(written_reply["stopped_at"]) == local(2026, 11, 23, 15, 0)


def test_approve_records_the_channel_and_time_actually_used(handler: Caller, supervisor: Caller) -> None:
    complaint = investigating(handler, *MONDAY)
    with frozen(*MONDAY):
        handler.move(complaint["id"], "propose", REFUND)
    with frozen(2026, 11, 23, 15, 0):
        body = {"reply_channel": "phone", "replied_at": "2026-11-23T14:40:00+08:00"}
        done = supervisor.move(complaint["id"], "approve", body)
    assert done["reply_channel"] == "phone"
    assert instant(done["replied_at"]) == local(2026, 11, 23, 14, 40)
    (entry,) = [e for e in events(handler, complaint["id"]) if e["move"] == "approve"]
    assert entry["payload"]["reply_channel"] == "phone"


def test_sending_a_proposal_back_forgets_its_planned_channel(handler: Caller, supervisor: Caller) -> None:
    complaint = investigating(handler, *MONDAY)
    with frozen(*MONDAY):
        handler.move(complaint["id"], "propose", REFUND)
        back = supervisor.move(complaint["id"], "send-back", {"reason": "请与门店重新协商"})
    assert back["reply_channel"] is None and back["remedy"] is None


def test_the_summary_shows_the_value_granted_by_kind(
    handler: Caller, supervisor: Caller, manager: Caller, make_caller: Any
) -> None:
    resolved_by(manager, EXCHANGE, *MONDAY, handler=handler)
    resolved_by(supervisor, remedy("free_repair", "800.00"), *MONDAY, handler=handler)
    resolved_by(handler, APOLOGY, *MONDAY, handler=handler)
    approved(handler, supervisor, remedy("price_reduction", "120.50"), *MONDAY)
    with frozen(2026, 11, 24, 9, 0):
        total = summary(make_caller("reporter", actor="reporter-01"), "2026-11-23")
    granted = [(r["kind"], r["count"], r["amount"]) for r in total["remedies"]]
    assert granted == [
        ("apology", 1, "0.00"),
        ("exchange", 1, "6999.00"),
        ("price_reduction", 1, "120.50"),
        ("free_repair", 1, "800.00"),
    ]
