"""Idempotency-Key on registration: a retry replays, never registers twice; on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from threading import Barrier
from typing import Any

import psycopg
import pytest
import time_machine
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from app.auth import service as keys
from app.complaints.models import Complaint
from app.config import Settings
from app.db import Database
from app.idempotency import IdempotencyRecord
from tests.conftest import Caller, LiveServer, _libpq, complaint_body


def count_complaints(db: Database) -> int:
    with db.readers() as session:
        return session.scalar(select(func.count()).select_from(Complaint)) or 0


def register(caller: Caller, key: str, body: dict[str, Any] | None = None) -> Any:
    return caller.post("/v1/complaints", json=body or complaint_body(), headers={"Idempotency-Key": key})


def test_a_retry_replays_the_first_response(intake: Caller, db: Database) -> None:
    first = register(intake, "crm-7f3a-0001")
    again = register(intake, "crm-7f3a-0001")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert again.headers["Location"] == first.headers["Location"] == f"/v1/complaints/{first.json()['id']}"
    assert again.headers["ETag"] == first.headers["ETag"]
    assert count_complaints(db) == 1


def test_key_order_and_whitespace_do_not_make_another_request(intake: Caller, db: Database) -> None:
    body = complaint_body()
    first = register(intake, "k-1", body)
    reordered = dict(reversed(list(body.items())))
    again = intake.post(
        "/v1/complaints",
        content=json.dumps(reordered, indent=4, ensure_ascii=False).encode(),
        headers={"Idempotency-Key": "k-1", "Content-Type": "application/json"},
    )
    assert again.status_code == 201
    assert again.json()["id"] == first.json()["id"]
    assert count_complaints(db) == 1


def test_the_same_key_with_another_body_is_422_and_registers_nothing(intake: Caller, db: Database) -> None:
    register(intake, "k-2")
    response = register(intake, "k-2", complaint_body(description="另一个投诉：商品有质量问题。"))
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["field"] == "Idempotency-Key"
    assert count_complaints(db) == 1


def test_keys_belong_to_the_api_key_that_sent_them(make_caller: Any, db: Database) -> None:
    crm = make_caller("intake", actor="crm")
    call_center = make_caller("intake", actor="call-center")
    one = register(crm, "shared-key")
    other = register(call_center, "shared-key")
    assert one.status_code == other.status_code == 201
    assert one.json()["id"] != other.json()["id"]
    assert count_complaints(db) == 2


def test_a_failed_request_keeps_no_key(make_caller: Any, intake: Caller, db: Database) -> None:
    reporter = make_caller("reporter")
    assert register(reporter, "k-3").status_code == 403
    refused = register(intake, "k-4", complaint_body(store_id=None, department=None))
    assert refused.status_code == 422
    assert register(intake, "k-4").status_code == 201
    with db.readers() as session:
        assert session.scalars(select(IdempotencyRecord.key)).all() == ["k-4"]


@pytest.mark.parametrize("key", ["", " ", "a" * 256, "含中文", "tab\there"])
def test_a_malformed_key_is_422(intake: Caller, db: Database, key: str) -> None:
    response = intake.post("/v1/complaints", json=complaint_body(), headers={"Idempotency-Key": key.encode()})
    assert response.status_code == 422, response.text
    assert count_complaints(db) == 0


def test_a_quoted_key_is_the_same_key(intake: Caller, db: Database) -> None:
    first = register(intake, '"8e03978e-40d5-43e8-bc93-6894a57f9324"')
    again = register(intake, "8e03978e-40d5-43e8-bc93-6894a57f9324")
    assert again.json()["id"] == first.json()["id"]


def test_keys_are_kept_24_hours_then_forgotten(intake: Caller, db: Database) -> None:
    start = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
    with time_machine.travel(start, tick=False):
        first = register(intake, "k-5")
    with time_machine.travel(start + timedelta(hours=23, minutes=59), tick=False):
        assert register(intake, "k-5").json()["id"] == first.json()["id"]
    with time_machine.travel(start + timedelta(hours=24, minutes=1), tick=False):
        later = register(intake, "k-5")
    assert later.status_code == 201
    assert later.json()["id"] != first.json()["id"]
    assert count_complaints(db) == 2


def test_twenty_concurrent_identical_requests_leave_one_complaint(live_server: LiveServer) -> None:
    intake = live_server.caller("intake")
    body = complaint_body()
    rounds = 5
    for round_ in range(rounds):
        key = f"burst-{round_}"
        barrier = Barrier(20)

        def send(_: int, key: str = key, barrier: Barrier = barrier) -> Any:
            barrier.wait()
            return intake.post("/v1/complaints", json=body, headers={"Idempotency-Key": key})

        with ThreadPoolExecutor(20) as pool:
            responses = list(pool.map(send, range(20)))
        statuses = sorted(r.status_code for r in responses)
        assert set(statuses) <= {201, 409}, [r.text for r in responses if r.status_code not in (201, 409)]
        created = {r.json()["id"] for r in responses if r.status_code == 201}
        assert len(created) == 1, created
        for response in responses:
            if response.status_code == 409:
                assert response.headers["content-type"] == "application/problem+json"
    database = Database.from_settings(live_server.settings)
    try:
        assert count_complaints(database) == rounds
    finally:
        database.dispose()


@pytest.mark.postgresql_only
def test_a_request_still_in_flight_is_409(intake: Caller, db: Database, settings: Settings) -> None:
    with db.readers() as session:
        key_id = keys.principal_for(session, intake.key, settings).key_id  # type: ignore[union-attr]
    with psycopg.connect(_libpq(make_url(settings.database_url)), autocommit=True) as other:
        # Another request with this key holds its lock: it has not committed yet.
        other.execute("SELECT pg_advisory_lock(hashtextextended(%s, 0))", (f"idempotency:{key_id}:k-6",))
        response = register(intake, "k-6")
        assert response.status_code == 409, response.text
        assert response.json()["idempotency_key"] == "k-6"
        other.execute("SELECT pg_advisory_unlock_all()")
    assert register(intake, "k-6").status_code == 201
    assert count_complaints(db) == 1
