"""Failed deliveries are retried on the schedule, on a moved clock; receivers that are dead, gone or slow."""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine

from app.config import Settings
from app.db import Database, utcnow
from app.webhooks.dispatcher import JITTER, SCHEDULE, Dispatcher, next_wait, record
from app.webhooks.sender import Outcome
from tests.conftest import Caller
from tests.webhooks.conftest import Receiver, Reply, deliveries, patch, subscribe

START = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
SLACK = timedelta(seconds=2)  # the wait counts from when the answer was recorded, a moment after the attempt


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def only_delivery(admin: Caller, endpoint: dict[str, Any]) -> dict[str, Any]:
    (delivery,) = deliveries(admin, endpoint)
    return delivery


def assert_waited(delivery: dict[str, Any], wait: timedelta) -> None:
    gap = at(delivery["next_attempt_at"]) - at(delivery["attempts"][-1]["attempted_at"])
    assert wait * (1 - JITTER) <= gap <= wait * (1 + JITTER) + SLACK, (gap, wait)


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_failing_delivery_is_retried_on_the_schedule_then_fails(
    admin: Caller, handler: Caller, receiver: Receiver, dispatcher: Dispatcher
) -> None:
    endpoint = subscribe(admin, receiver)
    receiver.default = Reply(500, body=b"internal error")
    with time_machine.travel(START) as clock:
        handler.register()
        dispatcher.once()
        for number, wait in enumerate(SCHEDULE, start=1):
            delivery = only_delivery(admin, endpoint)
            assert delivery["status"] == "pending" and delivery["attempt_count"] == number
            assert_waited(delivery, wait)
            clock.move_to(at(delivery["next_attempt_at"]) - timedelta(seconds=1))
            assert dispatcher.once().attempts == 0  # not due yet
            clock.move_to(at(delivery["next_attempt_at"]))
            assert dispatcher.once().attempts == 1

    delivery = only_delivery(admin, endpoint)
    assert delivery["status"] == "failed" and delivery["next_attempt_at"] is None
    assert len(delivery["attempts"]) == len(SCHEDULE) + 1 == 12
    assert {a["status_code"] for a in delivery["attempts"]} == {500}
    assert delivery["attempts"][0]["response_body"] == "internal error"
    took = at(delivery["attempts"][-1]["attempted_at"]) - at(delivery["attempts"][0]["attempted_at"])
    assert timedelta(days=2, hours=12) < took < timedelta(days=3, hours=6)
    assert len({r.webhook_id for r in receiver.received}) == 1 and len(receiver.received) == 12


def test_a_dead_receiver_is_retried_until_the_last_attempt(
    admin: Caller, handler: Caller, receiver: Receiver, dispatcher: Dispatcher
) -> None:
    response = admin.post("/v1/webhook-endpoints", json={"url": f"http://127.0.0.1:{closed_port()}/hooks"})
    endpoint = response.json()
    with time_machine.travel(START) as clock:
        handler.register()
        dispatcher.once()
        for _ in SCHEDULE:
            clock.move_to(at(only_delivery(admin, endpoint)["next_attempt_at"]))
            dispatcher.once()

    delivery = only_delivery(admin, endpoint)
    assert delivery["status"] == "failed"
    assert len(delivery["attempts"]) == 12
    assert all(a["status_code"] is None and "ConnectError" in a["error"] for a in delivery["attempts"])


def test_410_fails_the_delivery_and_disables_the_endpoint(
    admin: Caller, handler: Caller, receiver: Receiver, dispatcher: Dispatcher
) -> None:
    endpoint = subscribe(admin, receiver)
    receiver.default = Reply(410, body=b"gone")
    handler.register()
    dispatcher.once()

    assert only_delivery(admin, endpoint)["status"] == "failed"
    shown = admin.get(f"/v1/webhook-endpoints/{endpoint['id']}").json()
    assert shown["enabled"] is False and shown["disabled_reason"] == "answered 410 Gone"
    handler.register()
    dispatcher.once()
    assert len(receiver.received) == 1


def test_retry_after_is_honoured(admin: Caller, handler: Caller, receiver: Receiver, dispatcher: Dispatcher) -> None:
    endpoint = subscribe(admin, receiver)
    receiver.reply(Reply(429, headers={"Retry-After": "3600"}))
    with time_machine.travel(START) as clock:
        handler.register()
        dispatcher.once()
        assert_waited(only_delivery(admin, endpoint), timedelta(hours=1) / (1 - JITTER))  # not the 5 s
        clock.move_to(START + timedelta(minutes=59))
        assert dispatcher.once().attempts == 0
        clock.move_to(START + timedelta(hours=1, seconds=5))
        assert dispatcher.once().delivered == 1


def test_a_slow_receiver_times_out_and_is_retried(
    admin: Caller, handler: Caller, receiver: Receiver, db: Database, settings: Settings
) -> None:
    endpoint = subscribe(admin, receiver)
    receiver.reply(Reply(200, delay=3))
    impatient = Dispatcher(db, settings.model_copy(update={"webhook_timeout_seconds": 1}))
    try:
        handler.register()
        impatient.once()
    finally:
        impatient.stop()

    delivery = only_delivery(admin, endpoint)
    (attempt,) = delivery["attempts"]
    assert attempt["status_code"] is None and attempt["error"] == "timed out after 1 s"
    assert 900 <= attempt["latency_ms"] < 2900
    assert delivery["status"] == "pending"
    assert_waited(delivery, SCHEDULE[0])


def test_an_endpoint_failing_for_too_long_is_disabled_and_resumes_when_enabled(
    admin: Caller, handler: Caller, receiver: Receiver, db: Database, settings: Settings
) -> None:
    endpoint = subscribe(admin, receiver)
    receiver.default = Reply(503)
    dispatcher = Dispatcher(db, settings.model_copy(update={"webhook_disable_after_hours": 1}))
    try:
        with time_machine.travel(START) as clock:
            handler.register()
            dispatcher.once()
            while admin.get(f"/v1/webhook-endpoints/{endpoint['id']}").json()["enabled"]:
                clock.move_to(at(only_delivery(admin, endpoint)["next_attempt_at"]))
                assert dispatcher.once().attempts == 1
            shown = admin.get(f"/v1/webhook-endpoints/{endpoint['id']}").json()
            assert shown["disabled_reason"].startswith("every attempt failed since 2026-11-23 02:00")
            assert len(receiver.received) == 5  # 0 s, 5 s, 5 min, 30 min: still under an hour; 2 h: over
            clock.move_to(at(only_delivery(admin, endpoint)["next_attempt_at"]))
            assert dispatcher.once().attempts == 0

            receiver.default = Reply(200)
            assert patch(admin, f"/v1/webhook-endpoints/{endpoint['id']}", {"enabled": True}).status_code == 200
            assert dispatcher.once().delivered == 1
    finally:
        dispatcher.stop()
    shown = admin.get(f"/v1/webhook-endpoints/{endpoint['id']}").json()
    assert shown["enabled"] is True and shown["disabled_reason"] is None and shown["failing_since"] is None


def test_every_wait_is_jittered_within_a_tenth() -> None:
    for number, wait in enumerate(SCHEDULE, start=1):
        waits = [next_wait(number, None) for _ in range(200)]
        assert all(w is not None and wait * (1 - JITTER) <= w <= wait * (1 + JITTER) for w in waits)
        assert max(waits) - min(waits) > wait * JITTER  # spread, not the same moment for every delivery
    assert next_wait(len(SCHEDULE) + 1, None) is None


def test_retry_after_as_a_date_is_honoured(
    admin: Caller, handler: Caller, receiver: Receiver, dispatcher: Dispatcher
) -> None:
    endpoint = subscribe(admin, receiver)
    receiver.reply(Reply(503, headers={"Retry-After": "Mon, 23 Nov 2026 04:00:00 GMT"}))  # START + 2 h
    with time_machine.travel(START) as clock:
        handler.register()
        dispatcher.once()
        delivery = only_delivery(admin, endpoint)
        assert at(delivery["next_attempt_at"]) >= START + timedelta(hours=2)
        clock.move_to(START + timedelta(hours=1, minutes=59))
        assert dispatcher.once().attempts == 0
        clock.move_to(at(delivery["next_attempt_at"]))
        assert dispatcher.once().delivered == 1


@pytest.mark.parametrize("status", [201, 202, 204, 299])
def test_any_2xx_is_delivered(
    admin: Caller, handler: Caller, receiver: Receiver, dispatcher: Dispatcher, status: int
) -> None:
    endpoint = subscribe(admin, receiver)
    receiver.default = Reply(status, body=b"" if status == 204 else b"accepted")
    handler.register()

    assert dispatcher.once().delivered == 1
    delivery = only_delivery(admin, endpoint)
    assert delivery["status"] == "delivered" and delivery["attempts"][0]["status_code"] == status


def test_the_log_keeps_the_first_2_kb_of_the_answer(
    admin: Caller, handler: Caller, receiver: Receiver, dispatcher: Dispatcher
) -> None:
    endpoint = subscribe(admin, receiver)
    receiver.reply(Reply(500, body=b"x" * 2040 + "错误信息".encode() + b"y" * 5000))
    handler.register()
    dispatcher.once()

    (attempt,) = only_delivery(admin, endpoint)["attempts"]
    assert attempt["response_body"] == "x" * 2040 + "错误\ufffd"  # 2048 bytes; the character cut in two shows so


def test_a_success_clears_a_failure_recorded_while_it_was_in_flight(
    admin: Caller, handler: Caller, receiver: Receiver, db: Database, settings: Settings
) -> None:
    """Two deliveries claimed together: one fails, then the other succeeds; the endpoint is not failing."""
    endpoint = subscribe(admin, receiver)
    handler.register()
    handler.register()
    dispatcher = Dispatcher(db, settings)
    try:
        dispatcher.fan_out()
        first, second = dispatcher.claim(10)
        now = utcnow()
        for claimed, status in ((first, 503), (second, 200)):
            outcome = Outcome(now, status, 12, "", None, None)
            with db.writers.begin() as session:
                record(session, claimed, outcome, settings)
    finally:
        dispatcher.stop()

    shown = admin.get(f"/v1/webhook-endpoints/{endpoint['id']}").json()
    assert shown["failing_since"] is None


def test_a_failed_delivery_is_redelivered_once_its_endpoint_is_enabled_again(
    admin: Caller, handler: Caller, receiver: Receiver, dispatcher: Dispatcher
) -> None:
    endpoint = subscribe(admin, receiver)
    receiver.reply(Reply(410, body=b"gone"))
    handler.register()
    dispatcher.once()
    failed = only_delivery(admin, endpoint)
    assert failed["status"] == "failed" and failed["failed_at"] is not None

    refused = admin.post(f"/v1/webhook-deliveries/{failed['id']}/redeliver")
    assert refused.status_code == 409 and refused.headers["content-type"] == "application/problem+json"
    assert patch(admin, f"/v1/webhook-endpoints/{endpoint['id']}", {"enabled": True}).status_code == 200
    queued = admin.post(f"/v1/webhook-deliveries/{failed['id']}/redeliver")
    assert queued.status_code == 202, queued.text
    assert queued.json()["status"] == "pending" and queued.json()["attempt_count"] == 0
    assert dispatcher.once().delivered == 1

    delivery = only_delivery(admin, endpoint)
    assert delivery["status"] == "delivered" and delivery["failed_at"] is None
    assert [a["status_code"] for a in delivery["attempts"]] == [410, 200]
    gone, again = receiver.received
    assert again.webhook_id == gone.webhook_id and again.body == gone.body
