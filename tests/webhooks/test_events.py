"""Every event type comes from the move or clock that should make it, with the payload the OpenAPI document shows."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import time_machine

from app.complaints.sweeper import sweep
from app.db import Database
from app.webhooks.dispatcher import Dispatcher
from app.webhooks.schemas import EventType, model_of
from tests.attachments.conftest import PDF, upload
from tests.conftest import Caller, another_customer
from tests.webhooks.conftest import Receiver, subscribe

MONDAY = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
FEEDBACK = {"cause": "店员未按退货流程操作", "responsible_person": "李四", "responsibility": "staff_fault"}
TOO_MUCH = {
    "remedy": {"kind": "compensation", "amount": "1500.00"},
    "reply": "我们将赔偿您1500元。",
    "reply_channel": "sms",
}
REFUND = {
    "remedy": {"kind": "refund", "amount": "300.00"},
    "reply": "非常抱歉，我们将为您全额退款。",
    "reply_channel": "sms",
}
FINAL_WORDING = "非常抱歉给您带来不便，我们将为您全额退款并向您致歉。"
APOLOGY = {"remedy": {"kind": "apology"}, "reply": "再次致歉，新的处理结果如下。", "reply_channel": "sms"}


def documented_fields(document: dict[str, Any], event_type: str) -> set[str]:
    """The fields of ``data`` that the OpenAPI document promises for this webhook."""
    body = document["webhooks"][event_type]["post"]["requestBody"]["content"]["application/json"]["schema"]
    schemas = document["components"]["schemas"]
    message = schemas[body["$ref"].rsplit("/", 1)[1]]
    return set(schemas[message["properties"]["data"]["$ref"].rsplit("/", 1)[1]]["properties"])


def clock(caller: Caller, complaint_id: str, kind: str, running: bool = True) -> dict[str, Any]:
    clocks = caller.get(f"/v1/complaints/{complaint_id}").json()["clocks"]
    return [c for c in clocks if c["kind"] == kind and (c["stopped_at"] is None) == running][-1]


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_every_event_type_is_sent_by_what_should_send_it(
    admin: Caller,
    handler: Caller,
    supervisor: Caller,
    make_caller: Callable[..., Caller],
    make_receiver: Callable[[], Receiver],
    dispatcher: Dispatcher,
    db: Database,
) -> None:
    everyone, first_store, second_store = make_receiver(), make_receiver(), make_receiver()
    subscribe(admin, everyone)
    subscribe(admin, first_store, store_id="SZ-FT-012")
    subscribe(admin, second_store, store_id="SZ-NS-003")
    store = make_caller("store", store_id="SZ-FT-012", actor="店长王五")
    with time_machine.travel(MONDAY):
        full = handler.register()
        handler.move(full["id"], "investigate", {"store_id": "SZ-FT-012"})
        first_feedback = clock(handler, full["id"], "store_feedback")
        store.move(full["id"], "store-feedback", FEEDBACK)
        internal = upload(handler, full["id"], PDF, filename="内部评估.pdf").json()
        receipt = upload(handler, full["id"], PDF + b"%receipt", filename="小票.pdf").json()
        handler.client.patch(receipt["download"], json={"visible_to_unit": True}, headers=handler.headers())
        handler.move(full["id"], "propose", TOO_MUCH)
        supervisor.move(full["id"], "send-back", {"reason": "补偿金额过高，请与门店重新协商方案"})
        handler.move(full["id"], "propose", REFUND)
        supervisor.move(full["id"], "approve", {"reply": FINAL_WORDING})
        handler.move(full["id"], "fulfil", {"payment_reference": "WX-4200001987"})
        handler.move(full["id"], "call-attempt", {"outcome": "no_answer"})
        handler.move(full["id"], "reopen", {"reason": "客户表示仍未收到退款", "store_id": "SZ-NS-003"})
        second_feedback = clock(handler, full["id"], "store_feedback")
        handler.move(full["id"], "resolve", APOLOGY)
        handler.move(full["id"], "revisit", {"satisfaction": "satisfied"})
        media = handler.register(channel="media")  # escalated at once; then found unfounded (its clock stops)
        handler.move(media["id"], "reassign", {"owner": "handler-12", "reason": "转交媒体专员"})
        headers = handler.headers({"If-Match": '"2"'})
        corrected = handler.client.patch(f"/v1/complaints/{media['id']}", json={"order_number": "P-1"}, headers=headers)
        assert corrected.status_code == 200, corrected.text
        handler.move(media["id"], "reject", {"reason": "misunderstanding", "explanation": "经核实，属于误会。"})
        # Found to be a food-safety case: raised to major, its report written.
        major = handler.register(complainant=another_customer(2))
        handler.move(major["id"], "escalate", {"priority": "major", "reason": "顾客食用后就医"})
        handler.move(major["id"], "incident-report", {"report": "已下架同批次产品并送检。"})
        handler.move(major["id"], "reject", {"reason": "misunderstanding", "explanation": "经检验，产品合格。"})
        late = handler.register(complainant=another_customer(1))  # not the third from the phone: no repeat
        handler.move(late["id"], "investigate", {"store_id": "SZ-FT-012"})
        late_feedback = clock(handler, late["id"], "store_feedback")
    sweep(db, at(late_feedback["warn_at"]) + timedelta(minutes=1))
    sweep(db, at(late_feedback["due_at"]) + timedelta(minutes=1))

    dispatcher.once()  # everything fanned out only now: each body must still tell what its event did

    assert set(everyone.types()) == set(EventType)
    document = handler.client.app.openapi()
    for request in everyone.received:
        message = request.json()
        assert set(message) == {"type", "timestamp", "data"}
        assert set(message["data"]) == documented_fields(document, message["type"]), message["type"]
        model_of(message["type"]).model_validate(message)
    (dispatched, _) = everyone.of_type("complaint.dispatched")
    assert at(dispatched["data"]["store_feedback_due_at"]) == at(first_feedback["due_at"])
    (reopened,) = everyone.of_type("complaint.reopened")
    assert at(reopened["data"]["store_feedback_due_at"]) == at(second_feedback["due_at"])
    assert reopened["data"]["detail"]["store_id"] == "SZ-NS-003"
    approved, resolved = everyone.of_type("complaint.resolved")
    assert (approved["data"]["move"], approved["data"]["actor"]) == ("approve", "supervisor-03")
    assert approved["data"]["reply"] == FINAL_WORDING  # not the reply of the later resolution
    assert approved["data"]["remedy"] == {"kind": "refund", "amount": "300.00", "description": None}
    assert resolved["data"]["reply"] == APOLOGY["reply"]
    assert resolved["data"]["remedy"] == {"kind": "apology", "amount": "0.00", "description": None}
    (sent_back,) = everyone.of_type("complaint.sent_back")
    assert sent_back["data"]["detail"] == {"reason": "补偿金额过高，请与门店重新协商方案"}
    added = everyone.of_type("complaint.attachment_added")
    assert [m["data"]["detail"]["download"] for m in added] == [internal["download"], receipt["download"]]
    (shown,) = first_store.of_type("complaint.attachment_visibility_changed")
    assert shown["data"]["detail"]["filename"] == "小票.pdf" and shown["data"]["detail"]["visible_to_unit"] is True
    assert "内部评估".encode() not in b"".join(r.body for r in first_store.received + second_store.received)
    assert "内部评估".encode() in b"".join(r.body for r in everyone.received)
    (rejected,) = [m for m in everyone.of_type("complaint.rejected") if m["data"]["complaint"]["id"] == media["id"]]
    assert rejected["data"]["complaint"]["reply"] == "经核实，属于误会。"
    escalations = {
        (m["data"]["complaint"]["id"], m["data"]["detail"].get("clock"))
        for m in everyone.of_type("complaint.escalated")
    }
    assert escalations == {(media["id"], None), (major["id"], None), (late["id"], "store_feedback")}
    (warning,) = everyone.of_type("sla.warning")
    (breached,) = everyone.of_type("sla.breached")
    for message in (warning, breached):
        assert message["data"]["complaint"]["id"] == late["id"] and message["data"]["actor"] == "tousu"
        assert message["data"]["detail"]["clock"] == "store_feedback"
        assert at(message["data"]["detail"]["due_at"]) == at(late_feedback["due_at"])

    # Each store: its own dispatches, findings and feedback clock, from its dispatch on, and no other; each
    # complaint's in the order of its history (complaints between themselves go out side by side).
    assert first_store.by_complaint() == {
        full["id"]: [
            "complaint.dispatched",
            "complaint.store_feedback_received",
            "complaint.attachment_visibility_changed",  # not the two uploads: internal when they were made
            "complaint.submitted_for_approval",
            "complaint.sent_back",
            "complaint.submitted_for_approval",
            "complaint.resolved",
            "complaint.fulfilled",
            "complaint.call_attempted",
        ],
        late["id"]: [
            "complaint.dispatched",
            "sla.warning",
            "complaint.escalated",  # to its store manager
            "sla.breached",
            "complaint.escalated",  # to its region's manager
        ],
    }
    assert second_store.by_complaint() == {
        full["id"]: ["complaint.reopened", "complaint.resolved", "complaint.revisited"]
    }
    assert all(r.verified_with for r in everyone.received + first_store.received + second_store.received)


def test_a_clock_stopped_after_its_deadline_is_reported_breached(
    admin: Caller, handler: Caller, make_caller: Callable[..., Caller], receiver: Receiver, dispatcher: Dispatcher
) -> None:
    """The store fed back late, before any sweep noticed: the breach still goes out, and escalates."""
    subscribe(admin, receiver, event_types=["sla.breached", "complaint.escalated"])
    store = make_caller("store", store_id="SZ-FT-012", actor="店长王五")
    with time_machine.travel(MONDAY) as moment:
        complaint = handler.register()
        handler.move(complaint["id"], "investigate", {"store_id": "SZ-FT-012"})
        feedback = clock(handler, complaint["id"], "store_feedback")
        moment.move_to(at(feedback["due_at"]) + timedelta(hours=1))
        store.move(complaint["id"], "store-feedback", FEEDBACK)
        dispatcher.once()

    assert clock(handler, complaint["id"], "store_feedback", running=False)["state"] == "breached"
    assert [(m["type"], m["data"]["move"]) for m in (r.json() for r in receiver.received)] == [
        ("sla.breached", "sla.breached"),
        ("complaint.escalated", "complaint.escalated"),
    ]
    breached = receiver.received[0].json()["data"]
    assert breached["detail"]["clock"] == "store_feedback"
    assert breached["detail"]["why"] == "stopped after its deadline"
    assert at(breached["detail"]["due_at"]) == at(feedback["due_at"])
