"""Events reach their subscribers: signed, with the payload each event type promises, to whom it concerns."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import time_machine

from app.complaints.sweeper import sweep
from app.config import Settings
from app.db import Database, utcnow
from app.main import create_app
from app.webhooks.dispatcher import Dispatcher
from tests.conftest import Caller, issue_key
from tests.testclient import TestClient
from tests.webhooks.conftest import Receiver, Reply, deliveries, subscribe

FEEDBACK = {"cause": "店员未按退货流程操作", "responsible_person": "李四", "responsibility": "staff_fault"}
START = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
REFUND = {
    "remedy": {"kind": "refund", "amount": "300.00"},
    "reply": "非常抱歉，我们将为您全额退款并向您致歉。",
    "reply_channel": "sms",
}


def test_a_registration_is_delivered_signed_and_verifiable(
    admin: Caller, handler: Caller, receiver: Receiver, dispatcher: Dispatcher
) -> None:
    endpoint = subscribe(admin, receiver)
    complaint = handler.register()

    done = dispatcher.once()

    assert done.delivered == 1
    (request,) = receiver.received
    assert request.verified_with == [endpoint["secret"]]
    assert request.headers["webhook-id"].startswith("msg_")
    assert request.headers["content-type"] == "application/json"
    message = request.json()
    assert message["type"] == "complaint.accepted"
    assert message["data"]["complaint"]["id"] == complaint["id"]
    assert message["data"]["complaint"]["number"] == complaint["number"]
    assert message["data"]["complaint"]["complainant"] == {
        "name": "张三",
        "phone": "13812348000",
        "email": None,
        "customer_ref": None,
        "address": None,
    }
    assert datetime.fromisoformat(message["timestamp"]).utcoffset() is not None
    (logged,) = deliveries(admin, endpoint)
    assert logged["status"] == "delivered"
    assert logged["message_id"] == request.webhook_id
    assert logged["attempts"][0]["status_code"] == 200
    assert logged["attempts"][0]["response_body"] == "已收到"


def test_the_whole_lifecycle_is_delivered_in_order_with_what_each_event_promises(
    admin: Caller, handler: Caller, supervisor: Caller, receiver: Receiver, dispatcher: Dispatcher
) -> None:
    subscribe(admin, receiver)
    complaint = handler.register()
    handler.move(complaint["id"], "investigate", {"store_id": "SZ-FT-012"})
    handler.post(f"/v1/complaints/{complaint['id']}/notes", json={"text": "客户来电催促处理进度"})
    handler.move(complaint["id"], "store-feedback", FEEDBACK)
    handler.move(complaint["id"], "propose", REFUND)
    supervisor.move(complaint["id"], "approve")
    handler.move(complaint["id"], "fulfil", {"payment_reference": "WX-REFUND-4200001987"})
    handler.move(complaint["id"], "revisit", {"satisfaction": "satisfied"})

    dispatcher.once()

    assert receiver.types() == [
        "complaint.accepted",
        "complaint.dispatched",
        "complaint.store_feedback_received",
        "complaint.submitted_for_approval",
        "complaint.resolved",
        "complaint.fulfilled",
        "complaint.revisited",
    ]
    dispatched, resolved = receiver.received[1].json()["data"], receiver.received[4].json()["data"]
    clocks = handler.get(f"/v1/complaints/{complaint['id']}").json()["clocks"]
    (feedback_clock,) = [c for c in clocks if c["kind"] == "store_feedback"]
    assert datetime.fromisoformat(dispatched["store_feedback_due_at"]) == datetime.fromisoformat(
        feedback_clock["due_at"]
    )
    assert dispatched["detail"] == {"store_id": "SZ-FT-012"}
    assert resolved["reply"] == REFUND["reply"]
    assert resolved["remedy"] == {"kind": "refund", "amount": "300.00", "description": None}
    assert resolved["actor"] == "supervisor-03"
    fulfilled = receiver.received[5].json()["data"]
    assert fulfilled["detail"] == {"payment_reference": "WX-REFUND-4200001987"}
    assert fulfilled["complaint"]["fulfilment"]["fulfilled_by"] == "handler-07"
    assert len({r.webhook_id for r in receiver.received}) == 7


def test_an_endpoint_gets_only_the_event_types_it_subscribed_to(
    admin: Caller, handler: Caller, receiver: Receiver, dispatcher: Dispatcher
) -> None:
    subscribe(admin, receiver, event_types=["complaint.rejected"])
    first, second = handler.register(), handler.register()
    handler.move(first["id"], "reject", {"reason": "misunderstanding", "explanation": "经核实，属于误会。"})
    handler.move(second["id"], "investigate", {"department": "物业工程部"})

    dispatcher.once()

    assert receiver.types() == ["complaint.rejected"]
    assert receiver.received[0].json()["data"]["complaint"]["reply"] == "经核实，属于误会。"


def test_a_store_endpoint_gets_only_its_own_complaints_masked(
    admin: Caller, handler: Caller, make_caller, receiver: Receiver, dispatcher: Dispatcher
) -> None:
    subscribe(admin, receiver, store_id="SZ-FT-012")
    ours, theirs = handler.register(), handler.register(store_id="SZ-NS-003")
    handler.move(ours["id"], "investigate", {"store_id": "SZ-FT-012"})
    handler.move(theirs["id"], "investigate", {"store_id": "SZ-NS-003"})
    store = make_caller("store", store_id="SZ-FT-012", actor="店长王五")
    store.move(ours["id"], "store-feedback", FEEDBACK)

    dispatcher.once()

    # Not the registrations (nothing dispatched yet), not the other store's complaint.
    assert receiver.types() == ["complaint.dispatched", "complaint.store_feedback_received"]
    complaint = receiver.received[0].json()["data"]["complaint"]
    assert complaint["id"] == ours["id"]
    assert complaint["complainant"] == {
        "name": "张*",
        "phone": "138****8000",
        "email": None,
        "customer_ref": None,
        "address": None,
    }
    assert "13812348000" not in receiver.received[1].body.decode()


def test_a_ping_is_signed_and_logged(admin: Caller, receiver: Receiver, dispatcher: Dispatcher) -> None:
    endpoint = subscribe(admin, receiver)

    queued = admin.post(f"/v1/webhook-endpoints/{endpoint['id']}/test")
    assert queued.status_code == 202, queued.text
    assert queued.json()["status"] == "pending"
    dispatcher.once()

    (request,) = receiver.received
    assert request.json()["type"] == "ping"
    assert request.verified_with == [endpoint["secret"]]
    assert deliveries(admin, endpoint)[0]["status"] == "delivered"


def test_redelivery_sends_the_same_body_with_the_same_webhook_id(
    admin: Caller, handler: Caller, receiver: Receiver, dispatcher: Dispatcher
) -> None:
    endpoint = subscribe(admin, receiver)
    handler.register()
    dispatcher.once()
    (delivery,) = deliveries(admin, endpoint)

    response = admin.post(f"/v1/webhook-deliveries/{delivery['id']}/redeliver")
    assert response.status_code == 202, response.text
    dispatcher.once()

    first, again = receiver.received
    assert again.webhook_id == first.webhook_id
    assert again.body == first.body
    assert again.verified_with == [endpoint["secret"]]
    (logged,) = deliveries(admin, endpoint)
    assert [a["status_code"] for a in logged["attempts"]] == [200, 200]


def test_rotation_signs_with_both_secrets_for_a_day(
    admin: Caller, handler: Caller, receiver: Receiver, dispatcher: Dispatcher
) -> None:
    endpoint = subscribe(admin, receiver)
    rotated = admin.post(f"/v1/webhook-endpoints/{endpoint['id']}/rotate-secret")
    assert rotated.status_code == 200, rotated.text
    new_secret = rotated.json()["secret"]
    assert new_secret.startswith("whsec_") and new_secret != endpoint["secret"]
    receiver.secrets.append(new_secret)
    handler.register()

    dispatcher.once()

    (request,) = receiver.received
    assert request.verified_with == [endpoint["secret"], new_secret]
    assert len(request.headers["webhook-signature"].split(" ")) == 2


def test_events_of_one_complaint_wait_while_the_earlier_one_is_retried(
    admin: Caller, handler: Caller, receiver: Receiver, dispatcher: Dispatcher
) -> None:
    endpoint = subscribe(admin, receiver)
    with time_machine.travel(START) as clock:
        complaint = handler.register()
        handler.move(complaint["id"], "investigate", {"store_id": "SZ-FT-012"})
        other = handler.register()
        failed: list[str] = []

        def fail_the_first_registration_twice(message: dict) -> Reply | None:
            if message["data"]["complaint"]["id"] == complaint["id"] and len(failed) < 2:
                failed.append(message["type"])
                return Reply(status=503)
            return None

        receiver.rule = fail_the_first_registration_twice
        dispatcher.once()

        # The failed registration holds back its complaint's dispatch; the other complaint is not held back.
        assert receiver.by_complaint() == {
            complaint["id"]: ["complaint.accepted"],
            other["id"]: ["complaint.accepted"],
        }
        pending = [d for d in deliveries(admin, endpoint) if d["status"] == "pending"]
        assert sorted(d["event_type"] for d in pending) == ["complaint.accepted", "complaint.dispatched"]
        for _ in range(2):  # retried, failing once more, then delivered: the dispatch waits throughout
            (retried,) = [
                d
                for d in deliveries(admin, endpoint)
                if d["event_type"] == "complaint.accepted" and d["status"] == "pending"
            ]
            clock.move_to(datetime.fromisoformat(retried["next_attempt_at"]))
            dispatcher.once()

    assert failed == ["complaint.accepted", "complaint.accepted"]
    assert receiver.by_complaint()[complaint["id"]] == [
        "complaint.accepted",
        "complaint.accepted",
        "complaint.accepted",
        "complaint.dispatched",
    ]
    assert {d["status"] for d in deliveries(admin, endpoint)} == {"delivered"}


def test_a_store_endpoint_gets_the_clock_events_of_its_own_feedback_only(
    admin: Caller, handler: Caller, receiver: Receiver, dispatcher: Dispatcher, db: Database
) -> None:
    everyone, store = Receiver(), receiver
    try:
        subscribe(admin, everyone, event_types=["sla.breached", "complaint.escalated"])
        subscribe(admin, store, store_id="SZ-FT-012", event_types=["sla.breached", "complaint.escalated"])
        complaint = handler.register()
        handler.move(complaint["id"], "investigate", {"store_id": "SZ-FT-012"})
        sweep(db, utcnow() + timedelta(days=20))  # the feedback and the written reply are both overdue

        dispatcher.once()
    finally:
        everyone.close()

    # The written reply's breach is the second: it escalates twice (a late reply, a second breach).
    assert sorted((r.json()["type"], r.json()["data"]["detail"]["clock"]) for r in everyone.received) == [
        ("complaint.escalated", "store_feedback"),
        ("complaint.escalated", "written_reply"),
        ("complaint.escalated", "written_reply"),
        ("sla.breached", "store_feedback"),
        ("sla.breached", "written_reply"),
    ]
    assert sorted((r.json()["type"], r.json()["data"]["detail"]["clock"]) for r in store.received) == [
        ("complaint.escalated", "store_feedback"),
        ("sla.breached", "store_feedback"),
    ]
    assert store.received[0].json()["data"]["detail"]["store_id"] == "SZ-FT-012"


def test_the_dispatcher_inside_the_server_delivers_moments_after_the_commit(
    settings: Settings, receiver: Receiver
) -> None:
    serving = settings.model_copy(update={"dispatch_in_serve": True, "dispatch_interval": 0.05})
    with TestClient(create_app(serving)) as client:
        admin = Caller(client, issue_key(serving, "admin"), "admin-01")
        handler = Caller(client, issue_key(serving, "handler"), "handler-07")
        subscribe(admin, receiver)
        complaint = handler.register()
        handler.move(complaint["id"], "investigate", {"store_id": "SZ-FT-012"})

        received = receiver.wait_for(2, timeout=15)

    assert [r.json()["type"] for r in received] == ["complaint.accepted", "complaint.dispatched"]
