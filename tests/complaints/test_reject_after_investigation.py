"""A complaint found unfounded after investigation (经实地调查了解…) is rejected from `investigating`: the unit's
feedback clock no longer waits (cancelled), the written reply is given (met), the summary counts it as rejected,
and the workflow document and the webhooks say so. Over HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest

from app.webhooks.dispatcher import Dispatcher
from tests.conftest import Caller
from tests.sla.moments import frozen
from tests.webhooks.conftest import Receiver, dispatcher, make_receiver, settings, subscribe

__all__ = ["dispatcher", "make_receiver", "settings"]  # the webhook tests' fixtures: a receiver on loopback

STORE = "SZ-FT-012"
DEPARTMENT = "品管部"
VERIFIED = {"reason": "misunderstanding", "explanation": "经实地调查，该批次产品检验合格，投诉不成立，敬请谅解。"}
FEEDBACK = {"cause": "实地核查：当班店员按流程操作", "responsibility": "customer_misunderstanding"}


def problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    return body


def feedback_clocks(complaint: dict[str, Any]) -> list[dict[str, Any]]:
    return [clock for clock in complaint["clocks"] if clock["kind"] == "store_feedback"]


def written_reply(complaint: dict[str, Any]) -> dict[str, Any]:
    (clock,) = [clock for clock in complaint["clocks"] if clock["kind"] == "written_reply"]
    return clock


@pytest.mark.parametrize("unit", [{"store_id": STORE}, {"department": DEPARTMENT}], ids=["store", "department"])
def test_rejected_after_investigation_cancels_the_feedback_clock_and_meets_the_reply(
    handler: Caller, unit: dict[str, str]
) -> None:
    with frozen(2026, 11, 23, 10, 0):
        complaint = handler.register(store_id=STORE)
        investigating = handler.move(complaint["id"], "investigate", unit)
    assert "reject" in investigating["allowed_moves"]
    with frozen(2026, 11, 24, 15, 0):
        rejected = handler.move(complaint["id"], "reject", VERIFIED)
    assert rejected["state"] == "rejected"
    assert rejected["rejection_reason"] == "misunderstanding"
    assert rejected["reply"] == VERIFIED["explanation"]
    assert rejected["times"]["rejected_at"] is not None
    (feedback,) = feedback_clocks(rejected)
    assert feedback["state"] == "cancelled"
    assert written_reply(rejected)["state"] == "met"
    assert rejected["allowed_moves"] == ["reopen"]

    entry = handler.get(f"/v1/complaints/{complaint['id']}/events").json()[-1]
    assert (entry["move"], entry["from_state"], entry["to_state"]) == ("reject", "investigating", "rejected")
    explained = {c["kind"]: c for c in handler.get(f"/v1/complaints/{complaint['id']}/clocks").json()}
    cancelled = explained["store_feedback"]["history"][-1]
    assert (cancelled["kind"], cancelled["detail"]["why"]) == ("cancelled", "reject before feedback")
    met = explained["written_reply"]["history"][-1]
    assert (met["kind"], met["detail"]["why"]) == ("met", "reject: written reply given")


def test_rejected_after_the_units_feedback_keeps_the_feedback_met(handler: Caller, make_caller: Any) -> None:
    complaint = handler.register(store_id=STORE)
    handler.move(complaint["id"], "investigate", {"store_id": STORE})
    make_caller("store", store_id=STORE, actor="店长王五").move(complaint["id"], "store-feedback", FEEDBACK)
    rejected = handler.move(complaint["id"], "reject", VERIFIED)
    assert [clock["state"] for clock in feedback_clocks(rejected)] == ["met"]
    assert written_reply(rejected)["state"] == "met"
    assert rejected["responsibility"] == "customer_misunderstanding", "the finding stays with the complaint"


def test_a_late_rejection_after_investigation_is_a_breached_reply(handler: Caller) -> None:
    with frozen(2026, 11, 2, 10, 0):
        complaint = handler.register(store_id=STORE)
        handler.move(complaint["id"], "investigate", {"store_id": STORE})
    with frozen(2026, 11, 20, 10, 0):
        rejected = handler.move(complaint["id"], "reject", VERIFIED)
    assert written_reply(rejected)["state"] == "breached"


def test_a_rejection_after_investigation_may_be_reopened(handler: Caller) -> None:
    complaint = handler.register(store_id=STORE)
    handler.move(complaint["id"], "investigate", {"store_id": STORE})
    handler.move(complaint["id"], "reject", VERIFIED)
    reopened = handler.move(complaint["id"], "reopen", {"reason": "客户提供了新的照片"})
    assert reopened["state"] == "investigating"
    assert reopened["rejection_reason"] is None
    assert [clock["state"] for clock in reopened["clocks"] if clock["kind"] == "written_reply"] == ["met", "running"]


@pytest.mark.parametrize("state", ["awaiting_approval", "resolved"])
def test_a_rejection_later_than_investigation_is_an_illegal_move(handler: Caller, state: str) -> None:
    complaint = handler.register(store_id=STORE)
    handler.move(complaint["id"], "investigate", {"store_id": STORE})
    if state == "awaiting_approval":
        handler.move(
            complaint["id"],
            "propose",
            {"remedy": {"kind": "refund", "amount": "100"}, "reply": "退款", "reply_channel": "sms"},
        )
    else:
        handler.move(
            complaint["id"], "resolve", {"remedy": {"kind": "apology"}, "reply": "抱歉", "reply_channel": "phone"}
        )
    before = handler.get(f"/v1/complaints/{complaint['id']}").json()
    refused = problem(handler.post(f"/v1/complaints/{complaint['id']}/reject", json=VERIFIED), 409)
    assert refused["type"].endswith("/illegal-move")
    assert refused["state"] == state
    assert "reject" not in refused["allowed_moves"]
    assert handler.get(f"/v1/complaints/{complaint['id']}").json()["version"] == before["version"]


@pytest.mark.parametrize(
    ("role", "binding"), [("store", {"store_id": STORE}), ("department", {"department": DEPARTMENT})]
)
def test_a_responsible_unit_may_not_reject(
    handler: Caller, make_caller: Any, role: str, binding: dict[str, str]
) -> None:
    unit = make_caller(role, actor="单位负责人", **binding)
    complaint = handler.register(store_id=STORE)
    handler.move(complaint["id"], "investigate", {"store_id": STORE, "department": DEPARTMENT})
    refused = problem(unit.post(f"/v1/complaints/{complaint['id']}/reject", json=VERIFIED), 403)
    assert refused["allowed_roles"] == ["admin", "handler", "manager", "supervisor"]
    assert handler.get(f"/v1/complaints/{complaint['id']}").json()["state"] == "investigating"


def test_the_summary_counts_it_as_rejected(handler: Caller, make_caller: Any) -> None:
    at_once = handler.register(store_id=STORE)
    handler.move(at_once["id"], "reject", VERIFIED)
    after = handler.register(store_id=STORE)
    handler.move(after["id"], "investigate", {"department": DEPARTMENT})
    handler.move(after["id"], "reject", VERIFIED)
    today = date.today()
    params = {"from": str(today - timedelta(days=2)), "to": str(today + timedelta(days=2)), "group_by": "department"}
    summary = make_caller("reporter").get("/v1/reports/summary", params=params).json()
    assert (summary["total"]["rejected"], summary["total"]["open"], summary["total"]["reply_time"]["replied"]) == (
        2,
        0,
        2,
    )
    (department,) = [row for row in summary["groups"] if row["group"] == DEPARTMENT]
    assert department["rejected"] == 1
    feedback = department["clocks"]["store_feedback"]
    assert (feedback["met"], feedback["breached"], feedback["running"]) == (0, 0, 0), "cancelled counts for nothing"


def test_the_workflow_and_its_diagram_show_the_new_arrow(handler: Caller) -> None:
    workflow = handler.get("/v1/workflow").json()
    (reject,) = [move for move in workflow["moves"] if move["name"] == "reject"]
    assert reject["sources"] == ["accepted", "investigating"]
    assert reject["dest"] == "rejected"
    assert "    investigating --> rejected: reject" in workflow["mermaid"].splitlines()


def test_the_store_endpoint_is_told_of_the_rejection(
    admin: Caller, handler: Caller, make_receiver: Callable[[], Receiver], dispatcher: Dispatcher
) -> None:
    receiver = make_receiver()
    subscribe(admin, receiver, store_id=STORE)
    complaint = handler.register(store_id=STORE, complainant={"name": "欧阳靖宇", "phone": "13987654321"})
    handler.move(complaint["id"], "investigate", {"store_id": STORE})
    handler.move(complaint["id"], "reject", VERIFIED)
    dispatcher.once()
    assert receiver.types() == ["complaint.dispatched", "complaint.rejected"]
    data = receiver.of_type("complaint.rejected")[0]["data"]
    assert (data["from_state"], data["to_state"]) == ("investigating", "rejected")
    assert data["complaint"]["complainant"]["phone"] == "139****4321"
    assert "13987654321" not in receiver.received[-1].body.decode()
