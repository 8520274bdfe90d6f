"""The series move with what happens: requests by route template, moves by outcome, clocks and the sweeper's lag,
webhook deliveries and attempts, the pool in use (issue 16, "Operations can see it"). In one process, on each
database; tests/metrics/test_served.py scrapes a real ``tousu serve --workers 2``."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.samples import Sample
from sqlalchemy import update

from app.api_docs import ASSETS_PATH
from app.complaints.sweeper import sweep, sweep_batch
from app.config import Settings
from app.db import Database, utcnow
from app.metrics.database import DatabaseState
from app.metrics.http import UNMATCHED
from app.sla.models import Clock
from app.vocabulary import ClockKind
from app.webhooks.dispatcher import Dispatcher
from tests.conftest import Caller
from tests.testclient import TestClient
from tests.webhooks.conftest import Receiver

FEEDBACK = {"cause": "店员未按退货流程操作", "responsible_person": "李四", "responsibility": "staff_fault"}


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(
        database_url=database_url, sweep_in_serve=False, dispatch_in_serve=False, webhook_allow_private=True
    )


@pytest.fixture
def state(db: Database) -> CollectorRegistry:
    """What a scrape reads of the database."""
    registry = CollectorRegistry()
    registry.register(DatabaseState(db))
    return registry


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    yield receiver
    receiver.close()


def value(name: str, registry: CollectorRegistry = REGISTRY, **labels: str) -> float:
    return registry.get_sample_value(name, labels) or 0.0


class Changes:
    """The counters of this process as they were, to compare with later."""

    def __init__(self) -> None:
        self.before = {(s.name, tuple(sorted(s.labels.items()))): s.value for s in _samples()}

    def since(self, name: str, **labels: str) -> float:
        return value(name, **labels) - self.before.get((name, tuple(sorted(labels.items()))), 0.0)


def _samples() -> Iterator[Sample]:
    for family in REGISTRY.collect():
        yield from family.samples


def test_requests_are_counted_by_route_template_method_and_status(handler: Caller) -> None:
    changes = Changes()
    complaint = handler.register()
    handler.get(f"/v1/complaints/{complaint['id']}")
    handler.get("/v1/complaints/00000000-0000-0000-0000-000000000000")
    handler.get("/v1/no/such/path/12345")

    assert changes.since("tousu_http_requests_total", route="/v1/complaints", method="POST", status="201") == 1
    one = "/v1/complaints/{complaint_id}"
    assert changes.since("tousu_http_requests_total", route=one, method="GET", status="200") == 1
    assert changes.since("tousu_http_requests_total", route=one, method="GET", status="404") == 1
    assert changes.since("tousu_http_requests_total", route=UNMATCHED, method="GET", status="404") == 1
    assert changes.since("tousu_http_request_duration_seconds_count", route=one, method="GET") == 2
    # The labels only: a sample's value (a _created timestamp such as 1796438727.6123455) may hold the digits too.
    assert not [s for s in _samples() if "12345" in str(s.labels)], "a raw path became a label"


def test_the_docs_pages_and_their_assets_are_counted_by_their_own_paths(client: TestClient) -> None:
    changes = Changes()
    assert client.get("/docs").status_code == 200
    assert client.get(f"{ASSETS_PATH}/swagger-ui.css").status_code == 200
    assert changes.since("tousu_http_requests_total", route="/docs", method="GET", status="200") == 1
    assert changes.since("tousu_http_requests_total", route=ASSETS_PATH, method="GET", status="200") == 1


def test_moves_are_counted_by_outcome(handler: Caller) -> None:
    changes = Changes()
    complaint = handler.register()
    handler.move(complaint["id"], "investigate", {"store_id": "SZ-FT-012"})
    handler.move(complaint["id"], "investigate", {"store_id": "SZ-FT-012"}, expect=409)
    refused = handler.post(
        f"/v1/complaints/{complaint['id']}/store-feedback", json={**FEEDBACK, "store_id": "SZ-XX-999"}
    )
    assert refused.json()["guard"] == "dispatched_store"

    assert changes.since("tousu_moves_total", move="investigate", outcome="done") == 1
    assert changes.since("tousu_moves_total", move="investigate", outcome="refused_state") == 1
    assert changes.since("tousu_moves_total", move="store-feedback", outcome="refused_guard") == 1
    assert changes.since("tousu_moves_total", move="store-feedback", outcome="done") == 0


def store_feedback_due(db: Database, seconds_ago: float, *, breached: bool = False) -> None:
    """The store-feedback clocks due for the sweep since that many seconds: for their warning, or (``breached``)
    past their deadline."""
    past = utcnow() - timedelta(seconds=seconds_ago)
    values = {"next_check_at": past, **({"due_at": past} if breached else {})}
    with db.writers.begin() as session:
        session.execute(update(Clock).where(Clock.kind == ClockKind.store_feedback).values(**values))


def test_running_clocks_and_the_sweeper_lag_are_read_from_the_database(
    handler: Caller, db: Database, state: CollectorRegistry
) -> None:
    changes = Changes()
    complaint = handler.register()
    handler.move(complaint["id"], "investigate", {"store_id": "SZ-FT-012"})
    assert value("tousu_clocks_running", state, kind="written_reply") == 1
    assert value("tousu_clocks_running", state, kind="store_feedback") == 1
    assert value("tousu_clocks_running", state, kind="follow_up") == 0
    assert value("tousu_clocks_warning", state, kind="store_feedback") == 0
    assert value("tousu_sweeper_lag_seconds", state) == 0

    store_feedback_due(db, seconds_ago=90)  # due for its warning for 90 seconds, and no sweep came
    assert 90 <= value("tousu_sweeper_lag_seconds", state) < 120

    assert sweep(db).warned == 1
    assert value("tousu_sweeper_lag_seconds", state) == 0
    assert value("tousu_clocks_warning", state, kind="store_feedback") == 1
    assert value("tousu_clocks_running", state, kind="store_feedback") == 1
    assert changes.since("tousu_clock_warnings_total", kind="store_feedback") == 1
    assert changes.since("tousu_clock_breaches_total", kind="store_feedback") == 0


def test_a_clock_breached_by_the_sweep_is_counted(handler: Caller, db: Database, state: CollectorRegistry) -> None:
    changes = Changes()
    complaint = handler.register()
    handler.move(complaint["id"], "investigate", {"store_id": "SZ-FT-012"})
    store_feedback_due(db, seconds_ago=5, breached=True)
    assert sweep(db).breached == 1
    assert changes.since("tousu_clock_breaches_total", kind="store_feedback") == 1
    assert value("tousu_clocks_running", state, kind="store_feedback") == 0


def test_a_warning_is_counted_when_its_sweep_commits_and_not_when_it_rolls_back(
    handler: Caller, db: Database, state: CollectorRegistry
) -> None:
    changes = Changes()
    complaint = handler.register()
    handler.move(complaint["id"], "investigate", {"store_id": "SZ-FT-012"})
    store_feedback_due(db, seconds_ago=5)

    with db.writers() as session:
        assert sweep_batch(session, utcnow(), db.settings).warned == 1
        assert changes.since("tousu_clock_warnings_total", kind="store_feedback") == 0  # not committed yet
        session.rollback()
    assert changes.since("tousu_clock_warnings_total", kind="store_feedback") == 0
    assert value("tousu_sweeper_lag_seconds", state) > 0  # still due: the warning did not happen

    with db.writers() as session:
        assert sweep_batch(session, utcnow(), db.settings).warned == 1
    assert changes.since("tousu_clock_warnings_total", kind="store_feedback") == 0  # closed without a commit

    assert sweep(db).warned == 1
    assert changes.since("tousu_clock_warnings_total", kind="store_feedback") == 1
    assert value("tousu_sweeper_lag_seconds", state) == 0


def test_webhook_deliveries_pending_and_attempts(
    admin: Caller, handler: Caller, db: Database, settings: Settings, state: CollectorRegistry, receiver: Receiver
) -> None:
    changes = Changes()
    endpoint = admin.post("/v1/webhook-endpoints", json={"url": receiver.url}).json()["id"]
    assert value("tousu_webhook_deliveries_pending", state, endpoint=endpoint) == 0
    handler.register()
    dispatcher = Dispatcher(db, settings)
    try:
        assert dispatcher.fan_out() == 1
        assert value("tousu_webhook_deliveries_pending", state, endpoint=endpoint) == 1
        assert value("tousu_webhook_oldest_pending_age_seconds", state, endpoint=endpoint) > 0
        assert value("tousu_webhook_dispatch_lag_seconds", state) > 0
        assert dispatcher.once().delivered == 1
    finally:
        dispatcher.stop()
    assert value("tousu_webhook_deliveries_pending", state, endpoint=endpoint) == 0
    assert value("tousu_webhook_oldest_pending_age_seconds", state, endpoint=endpoint) == 0
    assert value("tousu_webhook_dispatch_lag_seconds", state) == 0
    assert changes.since("tousu_webhook_attempts_total", result="delivered") == 1
    assert changes.since("tousu_webhook_attempts_total", result="refused") == 0


def test_the_pool_in_use_is_counted_as_connections_go_out_and_back(db: Database) -> None:
    before = value("tousu_db_pool_in_use", pool="main")
    with db.readers() as session, db.writers() as other:
        session.connection()
        other.connection()
        assert value("tousu_db_pool_in_use", pool="main") == before + 2
    assert value("tousu_db_pool_in_use", pool="main") == before
    assert value("tousu_db_pool_size", pool="main") == db.engine.pool.size()  # type: ignore[attr-defined]
