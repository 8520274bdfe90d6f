"""Each move's happy path and each guard's refusal, over HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Caller

FEEDBACK = {"cause": "店员未按退货流程操作", "responsible_person": "李四", "responsibility": "staff_fault"}
REFUND = {
    "remedy": {"kind": "refund", "amount": "300.00", "description": "退还货款"},
    "reply": "非常抱歉，全额退款。",
    "reply_channel": "sms",
}
APOLOGY = {"remedy": {"kind": "apology"}, "reply": "非常抱歉给您带来不便。", "reply_channel": "sms"}


def investigating(handler: Caller, store_id: str = "SZ-FT-012") -> dict[str, Any]:
    complaint = handler.register()
    return handler.move(complaint["id"], "investigate", {"store_id": store_id})


def awaiting_approval(handler: Caller, proposal: dict[str, Any] = REFUND) -> dict[str, Any]:
    complaint = investigating(handler)
    return handler.move(complaint["id"], "propose", proposal)


def resolved(handler: Caller) -> dict[str, Any]:
    complaint = investigating(handler)
    return handler.move(complaint["id"], "resolve", APOLOGY)


def problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    return response.json()


def history(caller: Caller, complaint_id: str) -> list[str]:
    return [event["move"] for event in caller.get(f"/v1/complaints/{complaint_id}/events").json()]


def test_register_starts_accepted_with_number_and_owner(handler: Caller) -> None:
    complaint = handler.register()
    assert complaint["state"] == "accepted"
    assert complaint["version"] == 1
    assert complaint["owner"] == "handler-07"
    assert complaint["number"].startswith("TS-") and complaint["number"].endswith("-0001")
    assert complaint["complainant"]["phone"] == "13812348000"
    assert complaint["allowed_moves"] == ["reject", "investigate", "reassign", "escalate"]
    assert history(handler, complaint["id"]) == ["register"]


def test_reject_records_reason_and_explanation(handler: Caller) -> None:
    complaint = handler.register()
    body = {"reason": "outside_contract", "explanation": "经核实，该要求超出合同约定范围，敬请谅解。"}
    rejected = handler.move(complaint["id"], "reject", body)
    assert rejected["state"] == "rejected"
    assert rejected["rejection_reason"] == "outside_contract"
    assert rejected["reply"] == body["explanation"]
    assert rejected["times"]["rejected_at"] is not None
    assert rejected["allowed_moves"] == ["reopen"]


@pytest.mark.parametrize(
    "body", [{"reason": "other"}, {"explanation": "不成立"}, {"reason": "other", "explanation": "   "}]
)
def test_reject_requires_reason_and_explanation(handler: Caller, body: dict[str, Any]) -> None:
    complaint = handler.register()
    problem(handler.post(f"/v1/complaints/{complaint['id']}/reject", json=body), 422)
    assert handler.get(f"/v1/complaints/{complaint['id']}").json()["state"] == "accepted"


def test_investigate_dispatches_to_a_store(handler: Caller) -> None:
    complaint = investigating(handler, "SZ-LH-003")
    assert complaint["state"] == "investigating"
    assert complaint["responsible_store_id"] == "SZ-LH-003"
    assert complaint["dispatched_at"] is not None
    assert complaint["store_id"] == "SZ-FT-012", "the store complained about stays as registered"


def test_investigate_by_a_department_dispatches_the_department(handler: Caller) -> None:
    complaint = handler.register(store_id=None, department="物业工程部")
    moved = handler.move(complaint["id"], "investigate", {"department": "物业工程部"})
    assert moved["responsible_department"] == "物业工程部"
    assert moved["responsible_store_id"] is None
    assert moved["dispatched_at"] is not None
    assert "store-feedback" in moved["allowed_moves"], "the department's feedback, recorded on its behalf"


def test_investigate_requires_a_responsible_unit(handler: Caller) -> None:
    complaint = handler.register()
    problem(handler.post(f"/v1/complaints/{complaint['id']}/investigate", json={"note": "查"}), 422)


def test_store_feedback_from_the_dispatched_store_keeps_the_state(handler: Caller, make_caller: Any) -> None:
    complaint = investigating(handler)
    store = make_caller("store", store_id="SZ-FT-012", actor="店长王五")
    after = store.move(complaint["id"], "store-feedback", FEEDBACK)
    assert after["state"] == "investigating"
    assert after["responsibility"] == "staff_fault"
    assert after["version"] == complaint["version"] + 1
    events = handler.get(f"/v1/complaints/{complaint['id']}/events").json()
    assert events[-1]["move"] == "store-feedback"
    assert events[-1]["actor"] == "店长王五"
    assert events[-1]["from_state"] == events[-1]["to_state"] == "investigating"
    assert events[-1]["payload"]["cause"] == FEEDBACK["cause"]


def test_store_feedback_by_a_handler_on_the_stores_behalf(handler: Caller) -> None:
    complaint = investigating(handler)
    after = handler.move(complaint["id"], "store-feedback", {**FEEDBACK, "store_id": "SZ-FT-012"})
    assert after["responsibility"] == "staff_fault"


def test_store_feedback_guard_refuses_another_store(handler: Caller) -> None:
    complaint = investigating(handler)
    refused = problem(
        handler.post(f"/v1/complaints/{complaint['id']}/store-feedback", json={**FEEDBACK, "store_id": "SZ-XX-999"}),
        409,
    )
    assert refused["guard"] == "dispatched_store"
    assert history(handler, complaint["id"]) == ["register", "investigate"]


def test_store_feedback_guard_refuses_a_store_on_a_complaint_dispatched_to_a_department(handler: Caller) -> None:
    complaint = handler.register(store_id=None, department="物业工程部")
    handler.move(complaint["id"], "investigate", {"department": "物业工程部"})
    body = {**FEEDBACK, "store_id": "SZ-FT-012"}
    refused = problem(handler.post(f"/v1/complaints/{complaint['id']}/store-feedback", json=body), 409)
    assert refused["guard"] == "dispatched_store"
    assert refused["detail"] == (
        "feedback for store SZ-FT-012 but the complaint was dispatched to department 物业工程部"
    )


def test_propose_waits_for_approval(handler: Caller) -> None:
    complaint = awaiting_approval(handler)
    assert complaint["state"] == "awaiting_approval"
    assert complaint["remedy"] == {"kind": "refund", "amount": "300.00", "description": "退还货款"}
    assert complaint["proposed_by"] == "handler-07"
    assert complaint["reply"] == REFUND["reply"]
    assert "approve" not in complaint["allowed_moves"], "a handler key may not approve"


@pytest.mark.parametrize(
    "remedy",
    [
        {"kind": "refund"},
        {"kind": "refund", "amount": "0"},
        {"kind": "apology", "amount": "50"},
        {"kind": "compensation", "amount": "-1"},
        {"kind": "refund", "amount": "1.005"},
        {"kind": "bribe"},
    ],
)
def test_propose_refuses_a_remedy_that_does_not_add_up(handler: Caller, remedy: dict[str, Any]) -> None:
    complaint = investigating(handler)
    problem(
        handler.post(
            f"/v1/complaints/{complaint['id']}/propose",
            json={"remedy": remedy, "reply": "抱歉", "reply_channel": "sms"},
        ),
        422,
    )


def test_resolve_within_a_handlers_own_authority(handler: Caller) -> None:
    complaint = resolved(handler)
    assert complaint["state"] == "resolved"
    assert complaint["remedy"]["kind"] == "apology"
    assert complaint["approved_by"] == "handler-07"
    assert complaint["allowed_moves"] == [
        "call-attempt",
        "revisit",
        "reopen",
        "reassign",
        "escalate",
    ]  # an apology: nothing to fulfil


def test_resolve_guard_refuses_money_beyond_own_authority(handler: Caller) -> None:
    complaint = investigating(handler)
    refused = problem(handler.post(f"/v1/complaints/{complaint['id']}/resolve", json=REFUND), 409)
    assert refused["guard"] == "within_own_authority"
    assert "propose" in refused["allowed_moves"]
    assert handler.get(f"/v1/complaints/{complaint['id']}").json()["state"] == "investigating"


def test_supervisor_resolves_within_two_thousand_yuan(supervisor: Caller) -> None:
    complaint = investigating(supervisor)
    assert supervisor.move(complaint["id"], "resolve", REFUND)["state"] == "resolved"


def test_approve_by_a_supervisor_within_authority(handler: Caller, supervisor: Caller) -> None:
    complaint = awaiting_approval(handler)
    approved = supervisor.move(complaint["id"], "approve", {"reply": "非常抱歉，已为您全额退款300元。"})
    assert approved["state"] == "resolved"
    assert approved["approved_by"] == "supervisor-03"
    assert approved["reply"] == "非常抱歉，已为您全额退款300元。"
    assert approved["times"]["resolved_at"] is not None


def test_approve_without_a_body(handler: Caller, supervisor: Caller) -> None:
    complaint = awaiting_approval(handler)
    response = supervisor.post(f"/v1/complaints/{complaint['id']}/approve")
    assert response.status_code == 200, response.text
    assert response.json()["reply"] == REFUND["reply"]


def test_approve_guard_refuses_beyond_the_approvers_authority(
    handler: Caller, supervisor: Caller, manager: Caller
) -> None:
    proposal = {
        "remedy": {"kind": "compensation", "amount": "5000.00"},
        "reply": "赔偿5000元。",
        "reply_channel": "sms",
    }
    complaint = awaiting_approval(handler, proposal)
    refused = problem(supervisor.post(f"/v1/complaints/{complaint['id']}/approve", json={}), 409)
    assert refused["guard"] == "authority_covers_amount"
    assert manager.move(complaint["id"], "approve", {})["state"] == "resolved"


def test_approve_guard_refuses_the_proposer(supervisor: Caller) -> None:
    complaint = awaiting_approval(supervisor)
    refused = problem(supervisor.post(f"/v1/complaints/{complaint['id']}/approve", json={}), 409)
    assert refused["guard"] == "not_the_proposer"
    other = supervisor.as_actor("supervisor-09")
    assert other.move(complaint["id"], "approve", {})["state"] == "resolved"


def test_approve_is_forbidden_to_a_handler(handler: Caller) -> None:
    complaint = awaiting_approval(handler)
    refused = problem(handler.as_actor("handler-99").post(f"/v1/complaints/{complaint['id']}/approve", json={}), 403)
    assert "supervisor" in refused["allowed_roles"]


def test_send_back_returns_to_investigation(handler: Caller, supervisor: Caller) -> None:
    complaint = awaiting_approval(handler)
    sent_back = supervisor.move(complaint["id"], "send-back", {"reason": "补偿金额过高，请重新协商方案"})
    assert sent_back["state"] == "investigating"
    assert sent_back["remedy"] is None and sent_back["proposed_by"] is None
    events = handler.get(f"/v1/complaints/{complaint['id']}/events").json()
    assert events[-1]["payload"] == {"reason": "补偿金额过高，请重新协商方案"}


def test_send_back_requires_a_reason(handler: Caller, supervisor: Caller) -> None:
    complaint = awaiting_approval(handler)
    problem(supervisor.post(f"/v1/complaints/{complaint['id']}/send-back", json={}), 422)


@pytest.mark.parametrize("satisfaction", ["satisfied", "neutral"])
def test_revisit_closes_a_satisfied_or_neutral_complaint(handler: Caller, satisfaction: str) -> None:
    complaint = resolved(handler)
    body = {"satisfaction": satisfaction, "call_notes": "客户表示认可", "improvement": "回复再快一些"}
    closed = handler.move(complaint["id"], "revisit", body)
    assert closed["state"] == "revisited"
    assert closed["satisfaction"] == satisfaction
    assert closed["allowed_moves"] == ["reopen"]


def test_revisit_guard_refuses_an_unsatisfied_customer(handler: Caller) -> None:
    complaint = resolved(handler)
    refused = problem(
        handler.post(f"/v1/complaints/{complaint['id']}/revisit", json={"satisfaction": "unsatisfied"}), 409
    )
    assert refused["guard"] == "satisfied_or_neutral"
    assert "reopen" in refused["allowed_moves"]


@pytest.mark.parametrize("start", ["resolved", "revisited", "rejected"])
def test_reopen_counts_and_returns_to_investigation(handler: Caller, start: str) -> None:
    if start == "rejected":
        complaint = handler.register()
        handler.move(complaint["id"], "reject", {"reason": "misunderstanding", "explanation": "误会"})
        body = {"reason": "客户补充了新证据", "store_id": "SZ-FT-012"}
    else:
        complaint = resolved(handler)
        if start == "revisited":
            handler.move(complaint["id"], "revisit", {"satisfaction": "neutral", "improvement": "回复再快一些"})
        body = {"reason": "客户回访时表示仍未收到退款"}
    reopened = handler.move(complaint["id"], "reopen", body)
    assert reopened["state"] == "investigating"
    assert reopened["reopen_count"] == 1
    assert reopened["times"]["reopened_at"] is not None
    again = handler.move(complaint["id"], "resolve", APOLOGY)
    assert handler.move(again["id"], "reopen", {"reason": "仍不满意"})["reopen_count"] == 2


def test_reopen_from_resolved_records_the_unsatisfied_follow_up(handler: Caller) -> None:
    complaint = resolved(handler)
    assert handler.move(complaint["id"], "reopen", {"reason": "客户不满意"})["satisfaction"] == "unsatisfied"


def test_reopen_guard_needs_a_responsible_unit(handler: Caller) -> None:
    complaint = handler.register()
    handler.move(complaint["id"], "reject", {"reason": "misunderstanding", "explanation": "误会"})
    refused = problem(handler.post(f"/v1/complaints/{complaint['id']}/reopen", json={"reason": "新证据"}), 409)
    assert refused["guard"] == "responsible_unit_named"


def test_reopen_requires_a_reason(handler: Caller) -> None:
    complaint = resolved(handler)
    problem(handler.post(f"/v1/complaints/{complaint['id']}/reopen", json={}), 422)


@pytest.mark.parametrize(
    ("move", "body"),
    [
        ("approve", {}),
        ("revisit", {"satisfaction": "satisfied"}),
        ("reopen", {"reason": "x"}),
        ("store-feedback", FEEDBACK),
        ("send-back", {"reason": "x"}),
    ],
)
def test_an_illegal_move_is_refused_with_the_allowed_moves(supervisor: Caller, move: str, body: Any) -> None:
    complaint = supervisor.register()
    refused = problem(supervisor.post(f"/v1/complaints/{complaint['id']}/{move}", json=body), 409)
    assert refused["type"].endswith("/illegal-move")
    assert refused["allowed_moves"] == ["reject", "investigate", "reassign", "escalate"]
    after = supervisor.get(f"/v1/complaints/{complaint['id']}").json()
    assert after["state"] == "accepted" and after["version"] == 1
    assert history(supervisor, complaint["id"]) == ["register"]


def test_a_whole_life_is_kept_in_history(handler: Caller, supervisor: Caller, make_caller: Any) -> None:
    complaint = investigating(handler)
    make_caller("store", store_id="SZ-FT-012", actor="店长").move(complaint["id"], "store-feedback", FEEDBACK)
    handler.move(complaint["id"], "propose", REFUND)
    supervisor.move(complaint["id"], "send-back", {"reason": "请与门店重新协商"})
    handler.move(complaint["id"], "propose", {**REFUND, "remedy": {"kind": "refund", "amount": "200.00"}})
    supervisor.move(complaint["id"], "approve", {})
    handler.move(complaint["id"], "fulfil", {"payment_reference": "WX-4200001987"})
    final = handler.move(complaint["id"], "revisit", {"satisfaction": "satisfied"})
    events = handler.get(f"/v1/complaints/{complaint['id']}/events").json()
    assert [e["move"] for e in events] == [
        "register",
        "investigate",
        "store-feedback",
        "propose",
        "send-back",
        "propose",
        "approve",
        "fulfil",
        "revisit",
    ]
    assert [(e["from_state"], e["to_state"]) for e in events][-3:] == [
        ("awaiting_approval", "resolved"),
        ("resolved", "resolved"),
        ("resolved", "revisited"),
    ]
    assert final["version"] == len(events)
    assert all(e["api_key_id"] for e in events)


def test_notes_are_kept_without_changing_state(handler: Caller, intake: Caller) -> None:
    complaint = intake.register()
    response = intake.post(f"/v1/complaints/{complaint['id']}/notes", json={"text": "客户来电催促处理进度"})
    assert response.status_code == 201, response.text
    assert response.json()["move"] == "note"
    after = handler.get(f"/v1/complaints/{complaint['id']}").json()
    assert after["state"] == "accepted" and after["version"] == 2
    assert history(handler, complaint["id"]) == ["register", "note"]
