"""Failed deliveries are retried on the schedule, on a moved clock; receivers that are dead, gone or slow."""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta
from typing import Any

import time_machine

from app.config import Settings
from app.db import Database
from app.webhooks.dispatcher import JITTER, SCHEDULE, Dispatcher
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
