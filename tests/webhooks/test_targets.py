"""What a store-bound endpoint receives: the events of the complaints that were its store's when they happened, with
the complaint as it was then and masked for that store; and nothing built for one target ever goes to another (an
endpoint re-pointed to another URL or store). Real receivers on loopback, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import update

from app.complaints.sweeper import sweep
from app.db import Database, utcnow
from app.webhooks.dispatcher import Dispatcher
from app.webhooks.models import WebhookDelivery
from tests.conftest import Caller
from tests.planted import FEEDBACK, MINE, OTHER, OWN, THEIRS, forbidden_values, leaks, plant, quoting
from tests.webhooks.conftest import Receiver, Reply, deliveries, patch, subscribe

APOLOGY = {"remedy": {"kind": "apology"}, "reply": "非常抱歉给您带来不便。", "reply_channel": "sms"}


def test_a_store_endpoint_gets_the_complaint_as_it_was_when_it_was_the_stores(
    admin: Caller, handler: Caller, make_receiver: Callable[[], Receiver], dispatcher: Dispatcher
) -> None:
    """Finding 4: dispatched to OWN, resolved, reopened to OTHER, and only then fanned out."""
    own, other = make_receiver(), make_receiver()
    subscribe(admin, own, store_id=OWN)
    subscribe(admin, other, store_id=OTHER)
    complaint = handler.register(complainant={"name": MINE["name"], "phone": MINE["phone"]})
    handler.move(complaint["id"], "investigate", {"store_id": OWN})
    handler.move(complaint["id"], "store-feedback", FEEDBACK)
    handler.move(complaint["id"], "resolve", APOLOGY)
    handler.move(complaint["id"], "reopen", {"reason": "客户不满意", "store_id": OTHER})
    dispatcher.once()

    assert own.types() == ["complaint.dispatched", "complaint.store_feedback_received", "complaint.resolved"]
    shown = [message["data"]["complaint"] for message in (r.json() for r in own.received)]
    assert [c["responsible_store_id"] for c in shown] == [OWN, OWN, OWN]
    assert [c["state"] for c in shown] == ["investigating", "investigating", "resolved"]
    assert [c["version"] for c in shown] == [2, 3, 4]
    assert shown[0]["responsibility"] is None and shown[1]["responsibility"] == "staff_fault"
    assert all(c["complainant"]["phone"] == "139****4321" for c in shown)
    assert other.types() == ["complaint.reopened"]
    reopened = other.received[0].json()["data"]
    assert reopened["complaint"]["responsible_store_id"] == OTHER
    assert reopened["complaint"]["reopen_count"] == 1
    assert reopened["store_feedback_due_at"] is not None


def test_a_resolution_carries_the_reply_it_approved_after_a_new_proposal(
    admin: Caller, handler: Caller, supervisor: Caller, receiver: Receiver, dispatcher: Dispatcher
) -> None:
    subscribe(admin, receiver, event_types=["complaint.resolved"])
    complaint = handler.register()
    handler.move(complaint["id"], "investigate", {"store_id": OWN})
    handler.move(
        complaint["id"],
        "propose",
        {"remedy": {"kind": "refund", "amount": "300"}, "reply": "退款300元", "reply_channel": "sms"},
    )
    supervisor.move(complaint["id"], "approve")
    handler.move(complaint["id"], "reopen", {"reason": "客户仍不满意"})
    handler.move(
        complaint["id"],
        "propose",
        {"remedy": {"kind": "refund", "amount": "500"}, "reply": "退款500元", "reply_channel": "sms"},
    )
    dispatcher.once()
    (message,) = receiver.of_type("complaint.resolved")
    assert message["data"]["reply"] == "退款300元"
    assert message["data"]["remedy"]["amount"] == "300.00"
    assert message["data"]["complaint"]["state"] == "resolved"


def test_a_repointed_endpoint_never_gets_what_was_built_for_its_old_target(
    admin: Caller, handler: Caller, make_receiver: Callable[[], Receiver], dispatcher: Dispatcher
) -> None:
    """Finding 3: pending deliveries (the receiver was down), then PATCH url and store_id to store OWN's system."""
    crm, own_system = make_receiver(), make_receiver()
    crm.default = Reply(503)
    endpoint = subscribe(admin, crm)
    theirs, mine = dispatched_to_each_store(handler)
    dispatcher.once()
    assert len(crm.received) == 2  # the first of each complaint tried and failed; the rest wait behind them
    assert {d["status"] for d in deliveries(admin, endpoint)} == {"pending"}

    response = patch(admin, f"/v1/webhook-endpoints/{endpoint['id']}", {"url": own_system.url, "store_id": OWN})
    assert response.status_code == 200, response.text
    own_system.secrets = crm.secrets
    dispatcher.once(batch=100)
    for _ in range(3):  # each retry waits a few seconds: bring them forward
        _due_now(dispatcher.db)
        dispatcher.once(batch=100)

    assert own_system.types() == ["complaint.dispatched"]
    message = own_system.received[0].json()
    assert message["data"]["complaint"]["id"] == mine["id"]
    assert message["data"]["complaint"]["complainant"] == {
        "name": "欧***",
        "phone": "139****4321",
        "email": None,
        "customer_ref": None,
        "address": None,
    }
    planted = {OTHER: theirs, OWN: mine}
    assert all(not leaks(r.body, planted) for r in own_system.received)
    statuses = {d["event_type"]: d["status"] for d in deliveries(admin, endpoint) if d["complaint_id"] == theirs["id"]}
    assert statuses == {"complaint.accepted": "failed", "complaint.dispatched": "failed"}


def test_a_redelivery_after_a_repoint_is_rebuilt_for_the_new_target_or_refused(
    admin: Caller, handler: Caller, make_receiver: Callable[[], Receiver], dispatcher: Dispatcher
) -> None:
    crm, own_system = make_receiver(), make_receiver()
    endpoint = subscribe(admin, crm)
    theirs, mine = dispatched_to_each_store(handler)
    dispatcher.once()
    assert len(crm.received) == 4
    sent = {(d["complaint_id"], d["event_type"]): d for d in deliveries(admin, endpoint)}
    patch(admin, f"/v1/webhook-endpoints/{endpoint['id']}", {"url": own_system.url, "store_id": OWN})
    own_system.secrets = crm.secrets

    refused = admin.post(f"/v1/webhook-deliveries/{sent[theirs['id'], 'complaint.dispatched']['id']}/redeliver")
    assert refused.status_code == 409, refused.text
    again = admin.post(f"/v1/webhook-deliveries/{sent[mine['id'], 'complaint.dispatched']['id']}/redeliver")
    assert again.status_code == 202, again.text
    assert again.json()["payload"]["data"]["complaint"]["complainant"]["phone"] == "139****4321"
    dispatcher.once()
    assert own_system.types() == ["complaint.dispatched"]
    assert own_system.received[0].webhook_id == sent[mine["id"], "complaint.dispatched"]["message_id"]
    assert MINE["phone"] not in own_system.received[0].body.decode()


def test_nothing_a_store_endpoint_receives_leaks(
    admin: Caller,
    handler: Caller,
    supervisor: Caller,
    make_receiver: Callable[[], Receiver],
    dispatcher: Dispatcher,
    db: Database,
) -> None:
    """Every delivery to a store-bound endpoint, through a whole life with clocks warned and breached and the
    other store's complaint reassigned to it at the end, is searched for the planted data."""
    own = make_receiver()
    subscribe(admin, own, store_id=OWN)
    planted = plant(handler)
    late = handler.register(complainant=MINE, description=quoting(MINE))
    handler.move(late["id"], "investigate", {"store_id": OWN})  # and no feedback: its clock is breached
    sweep(db, utcnow() + timedelta(days=30))
    for complaint in planted.values():
        handler.move(
            complaint["id"],
            "propose",
            {"remedy": {"kind": "refund", "amount": "300"}, "reply": "退款", "reply_channel": "sms"},
        )
        supervisor.move(complaint["id"], "approve", {"reply": f"{complaint['number']} 已退款"})
    handler.move(planted[OTHER]["id"], "reopen", {"reason": "客户不满意", "store_id": OWN})
    dispatcher.once()

    assert len(own.received) >= 8
    assert {"sla.breached", "complaint.escalated", "complaint.resolved"} <= set(own.types())
    theirs = [r for r in own.received if r.json()["data"]["complaint"]["id"] == planted[OTHER]["id"]]
    assert all(not leaks(r.body, planted) for r in own.received if r not in theirs)
    # The other store's complaint reached this store only once it was this store's, its details masked.
    assert [r.json()["type"] for r in theirs] == ["complaint.reopened"]
    assert theirs[0].json()["data"]["complaint"]["complainant"]["phone"] == "158****2222"
    assert [value for value in forbidden_values(THEIRS) if value in theirs[0].body.decode()] == []


def dispatched_to_each_store(handler: Caller) -> tuple[dict[str, Any], dict[str, Any]]:
    """A complaint dispatched to store OTHER and one dispatched to store OWN, each with its planted person."""
    dispatched = []
    for store_id, person in ((OTHER, THEIRS), (OWN, MINE)):
        complaint = handler.register(store_id=store_id, complainant={"name": person["name"], "phone": person["phone"]})
        dispatched.append(handler.move(complaint["id"], "investigate", {"store_id": store_id}))
    return dispatched[0], dispatched[1]


def _due_now(db: Database) -> None:
    with db.writers.begin() as session:
        session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.next_attempt_at.is_not(None))
            .values(next_attempt_at=utcnow() - timedelta(seconds=1))
        )
