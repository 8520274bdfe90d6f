"""At least once, never twice at once: dispatchers sharing a database, and a dispatcher killed mid-delivery."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
from datetime import timedelta
from pathlib import Path

import pytest
import time_machine
from sqlalchemy import func, select, text

from app.config import Settings
from app.db import Database, utcnow
from app.webhooks import events
from app.webhooks.dispatcher import Dispatched, Dispatcher, claim
from app.webhooks.models import WebhookAttempt, WebhookDelivery
from tests.conftest import Caller, another_customer
from tests.webhooks.conftest import Receiver, Reply, deliveries, subscribe

TOUSU = Path(sys.executable).with_name("tousu")
COMPLAINTS = 20
FEEDBACK = {"cause": "店员未按退货流程操作", "responsible_person": "李四", "responsibility": "staff_fault"}


@pytest.mark.postgresql_only
def test_two_dispatchers_never_send_one_attempt_twice(
    admin: Caller, handler: Caller, receiver: Receiver, db: Database, settings: Settings
) -> None:
    subscribe(admin, receiver)
    for i in range(COMPLAINTS):
        complaint = handler.register(complainant=another_customer(i))
        handler.move(complaint["id"], "investigate", {"store_id": "SZ-FT-012"})
    receiver.default = Reply(200, delay=0.01)
    other_db = Database.from_settings(settings)
    first, second = Dispatcher(db, settings), Dispatcher(other_db, settings)
    assert first.fan_out() == 2 * COMPLAINTS  # then both only claim and deliver, at the same time
    results: dict[str, Dispatched] = {}
    start = threading.Barrier(2)

    def run(name: str, dispatcher: Dispatcher) -> None:
        start.wait()
        results[name] = dispatcher.once(batch=3)

    threads = [threading.Thread(target=run, args=pair) for pair in (("first", first), ("second", second))]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    finally:
        first.stop()
        second.stop()
        other_db.dispose()

    assert results["first"].attempts > 0 and results["second"].attempts > 0  # both took part
    assert results["first"].attempts + results["second"].attempts == 2 * COMPLAINTS
    ids = [r.webhook_id for r in receiver.received]
    assert len(ids) == len(set(ids)) == 2 * COMPLAINTS
    with db.readers() as session:
        assert session.scalar(select(func.count()).select_from(WebhookAttempt)) == 2 * COMPLAINTS
        assert set(session.scalars(select(WebhookDelivery.status))) == {"delivered"}
    # And each complaint's registration arrived before its dispatch.
    order = [(r.json()["data"]["complaint"]["id"], r.json()["type"]) for r in receiver.received]
    for complaint_id in {c for c, _ in order}:
        assert [t for c, t in order if c == complaint_id] == ["complaint.accepted", "complaint.dispatched"]


@pytest.mark.postgresql_only
def test_a_claim_skips_the_deliveries_another_dispatcher_is_claiming(
    admin: Caller, handler: Caller, receiver: Receiver, db: Database, settings: Settings, dispatcher: Dispatcher
) -> None:
    """Two claims at once: the second neither waits for the first nor takes what the first holds."""
    subscribe(admin, receiver)
    for _ in range(6):
        handler.register()
    dispatcher.fan_out()
    with db.writers() as first, db.writers() as second:
        second.execute(text("SET LOCAL lock_timeout = '2s'"))  # waiting would fail the claim, not hang the test
        now = utcnow()
        held = claim(first, now, 4, settings)  # not committed yet
        taken = claim(second, now, 10, settings)
        second.commit()
        first.commit()

    assert len(held) == 4 and len(taken) == 2
    assert not {c.delivery_id for c in held} & {c.delivery_id for c in taken}


def test_each_complaints_events_arrive_in_order_while_many_are_sent_at_once(
    admin: Caller, handler: Caller, supervisor: Caller, receiver: Receiver, db: Database, settings: Settings
) -> None:
    """The dispatcher's thread sends 8 at a time; the receiver answers each after a random while."""
    subscribe(admin, receiver)
    moves = [
        ("investigate", {"store_id": "SZ-FT-012"}),
        ("store-feedback", FEEDBACK),
        (
            "propose",
            {
                "remedy": {"kind": "refund", "amount": "300.00"},
                "reply": "非常抱歉，我们将为您全额退款。",
                "reply_channel": "sms",
            },
        ),
        ("approve", None),
        ("fulfil", {"payment_reference": "WX-REFUND-4200001987"}),
        ("revisit", {"satisfaction": "satisfied"}),
    ]
    history: dict[str, list[str]] = {}
    for i in range(8):
        complaint = handler.register(complainant=another_customer(i))
        for name, body in moves:
            (supervisor if name == "approve" else handler).move(complaint["id"], name, body)
        history[complaint["id"]] = [e["move"] for e in handler.get(f"/v1/complaints/{complaint['id']}/events").json()]
    jitter = random.Random(5)
    receiver.rule = lambda message: Reply(200, delay=jitter.uniform(0, 0.03))
    running = Dispatcher(db, settings.model_copy(update={"dispatch_interval": 0.05, "webhook_concurrency": 8}))
    running.start()
    try:
        receiver.wait_for(8 * 7, timeout=60)
    finally:
        running.stop()

    assert receiver.by_complaint() == {
        complaint_id: [events.TYPE_OF_MOVE[move] for move in moved] for complaint_id, moved in history.items()
    }


def test_a_dispatcher_killed_before_recording_is_sent_again_with_the_same_webhook_id(
    admin: Caller, handler: Caller, receiver: Receiver, dispatcher: Dispatcher, database_url: str
) -> None:
    endpoint = subscribe(admin, receiver)
    handler.register()
    receiver.reply(Reply(200, delay=60))  # holds the first request until the worker is dead
    env = {
        **os.environ,
        "TOUSU_DATABASE_URL": database_url,
        "TOUSU_WEBHOOK_ALLOW_PRIVATE": "1",
        "TOUSU_LOG_LEVEL": "ERROR",
    }
    worker = subprocess.Popen([str(TOUSU), "worker", "--once"], env=env, stderr=subprocess.PIPE)
    try:
        receiver.wait_for(1, timeout=30)
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait(10)
    assert worker.returncode == -signal.SIGKILL

    (delivery,) = deliveries(admin, endpoint)
    assert delivery["status"] == "pending" and delivery["attempts"] == []  # sent, never recorded
    assert dispatcher.once().attempts == 0  # its lease still holds
    with time_machine.travel(utcnow() + timedelta(minutes=2)):
        assert dispatcher.once().delivered == 1

    killed, again = receiver.received
    assert again.webhook_id == killed.webhook_id and again.body == killed.body
    assert again.verified_with == [endpoint["secret"]]
    (delivery,) = deliveries(admin, endpoint)
    assert delivery["status"] == "delivered" and len(delivery["attempts"]) == 1
