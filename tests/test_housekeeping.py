"""Housekeeping, the worker's third job: expired idempotency keys are purged and the number sequences of past days
dropped (issue 15, "Arrows one way"). Time is controlled: ``housekeep(db, now)`` is given the moment, and the
requests are made under time-machine.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import time_machine
from sqlalchemy import func, select

from app.db import Database
from app.housekeeping import Cleared, housekeep
from app.idempotency import IdempotencyRecord
from tests.conftest import Caller, complaint_body

TOUSU = Path(sys.executable).with_name("tousu")
START = datetime(2026, 7, 1, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai


def idempotency_keys(db: Database) -> int:
    with db.readers() as session:
        return session.scalar(select(func.count()).select_from(IdempotencyRecord)) or 0


def register(caller: Caller, key: str) -> dict[str, object]:
    response = caller.post("/v1/complaints", json=complaint_body(), headers={"Idempotency-Key": key})
    assert response.status_code == 201, response.text
    return response.json()


def test_housekeeping_purges_idempotency_keys_past_their_time_only(intake: Caller, db: Database) -> None:
    with time_machine.travel(START, tick=False):
        register(intake, "crm-0001")
    with time_machine.travel(START + timedelta(hours=12), tick=False):
        register(intake, "crm-0002")
    assert idempotency_keys(db) == 2

    assert housekeep(db, now=START + timedelta(hours=24) - timedelta(seconds=1)).idempotency_keys == 0
    assert idempotency_keys(db) == 2
    assert housekeep(db, now=START + timedelta(hours=24)).idempotency_keys == 1  # kept 24 hours, not a second more
    assert idempotency_keys(db) == 1
    with time_machine.travel(START + timedelta(hours=25), tick=False):
        first = register(intake, "crm-0002")  # still kept: a replay
        again = intake.post("/v1/complaints", json=complaint_body(), headers={"Idempotency-Key": "crm-0002"})
        assert again.headers["Idempotent-Replayed"] == "true" and again.json() == first
    assert housekeep(db, now=START + timedelta(hours=36)) == Cleared(idempotency_keys=1, number_sequences=0)
    assert idempotency_keys(db) == 0


@pytest.mark.postgresql_only
def test_housekeeping_drops_the_sequences_of_past_days_only(handler: Caller, db: Database) -> None:
    for day in (1, 2, 5):
        with time_machine.travel(datetime(2026, 7, day, 2, 0, tzinfo=UTC), tick=False):
            handler.register()
    assert housekeep(db, now=datetime(2026, 7, 5, 3, 0, tzinfo=UTC)).number_sequences == 2
    with db.engine.connect() as connection:
        left = connection.exec_driver_sql(
            "SELECT relname FROM pg_class WHERE relkind = 'S' AND relname ~ '^complaint_numbers_' ORDER BY 1"
        ).scalars()
        assert list(left) == ["complaint_numbers_20260705"]
    with time_machine.travel(datetime(2026, 7, 5, 4, 0, tzinfo=UTC), tick=False):
        assert handler.register()["number"] == "TS-20260705-0002"


def tousu_worker_once(database_url: str, *flags: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "TOUSU_DATABASE_URL": database_url, **env}
    return subprocess.run(
        [str(TOUSU), "worker", "--once", *flags],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_tousu_worker_runs_the_three_jobs_each_of_which_can_be_switched_off(
    intake: Caller, db: Database, database_url: str
) -> None:
    with time_machine.travel(START, tick=False):
        register(intake, "crm-0001")  # long expired by the real clock of the worker

    result = tousu_worker_once(database_url, "--no-housekeeping", "--no-dispatch")
    assert result.returncode == 0, result.stderr
    assert "warned 0, breached 1" in result.stderr  # its written-reply clock, months overdue
    assert "housekeeping" not in result.stderr and "webhooks" not in result.stderr
    assert idempotency_keys(db) == 1

    result = tousu_worker_once(database_url, TOUSU_WORKER_SWEEP="false", TOUSU_WORKER_DISPATCH="0")
    assert result.returncode == 0, result.stderr
    assert "housekeeping: 1 idempotency keys purged" in result.stderr
    assert "warned" not in result.stderr and "webhooks" not in result.stderr
    assert idempotency_keys(db) == 0

    result = tousu_worker_once(database_url, "--dispatch", TOUSU_WORKER_SWEEP="false", TOUSU_WORKER_HOUSEKEEPING="no")
    assert result.returncode == 0, result.stderr
    assert "webhooks: 0 attempts, 0 delivered" in result.stderr
    assert "warned" not in result.stderr and "housekeeping" not in result.stderr

    result = tousu_worker_once(database_url, "--no-sweep", "--no-dispatch", "--no-housekeeping", "--no-retention")
    assert result.returncode == 2
    assert "every job is switched off" in result.stderr


def test_tousu_worker_once_fails_when_housekeeping_cannot_reach_the_database() -> None:
    refused = "postgresql+psycopg://tousu@127.0.0.1:1/tousu"  # nothing listens on port 1: refused at once
    result = tousu_worker_once(refused, "--no-sweep", "--no-dispatch")
    assert result.returncode == 1
    assert "housekeeping failed" in result.stderr
    assert "idempotency keys purged" not in result.stderr
