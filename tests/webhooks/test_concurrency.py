"""At least once, never twice at once: dispatchers sharing a database, and a dispatcher killed mid-delivery."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from datetime import timedelta
from pathlib import Path

import pytest
import time_machine
from sqlalchemy import func, select

from app.config import Settings
from app.db import Database, utcnow
from app.webhooks.dispatcher import Dispatched, Dispatcher
from app.webhooks.models import WebhookAttempt, WebhookDelivery
from tests.conftest import Caller
from tests.webhooks.conftest import Receiver, Reply, deliveries, subscribe

TOUSU = Path(sys.executable).with_name("tousu")
COMPLAINTS = 20


@pytest.mark.postgresql_only
def test_two_dispatchers_never_send_one_attempt_twice(
    admin: Caller, handler: Caller, receiver: Receiver, db: Database, settings: Settings
) -> None:
    subscribe(admin, receiver)
    for _ in range(COMPLAINTS):
        complaint = handler.register()
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
