"""The series that the API, the moves, the sweep and the webhook dispatcher count as they go.

The state of the database (clocks running, the sweeper's lag, deliveries pending) is read at scrape time instead:
app/metrics/database.py. Label values come from closed sets (route templates, move names, clock kinds), so the
number of series stays bounded.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import Counter, Gauge, Histogram
from sqlalchemy import Engine, event

HTTP_REQUESTS = Counter(
    "tousu_http_requests",
    "HTTP requests answered, by route template, method and status.",
    ["route", "method", "status"],
)
HTTP_DURATION = Histogram(
    "tousu_http_request_duration_seconds",
    "Time from a request's arrival to the end of its answer, by route template and method.",
    ["route", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
MOVES = Counter(
    "tousu_moves",
    "Moves asked for, by move and outcome: done (counted once committed), refused_state (not allowed in the "
    "complaint's state), refused_guard (a guard said no).",
    ["move", "outcome"],
)
# Counted once the transaction that marked the clock has committed (app.db.on_commit), as the moves done are.
CLOCK_WARNINGS = Counter("tousu_clock_warnings", "Clocks that reached their warning, by kind.", ["kind"])
CLOCK_BREACHES = Counter("tousu_clock_breaches", "Clocks that passed their deadline, by kind.", ["kind"])
WEBHOOK_ATTEMPTS = Counter(
    "tousu_webhook_attempts",
    "Webhook delivery attempts by result: delivered (2xx), refused (any other answer), unreachable (no answer).",
    ["result"],
)
# A worker's pool is gone with it: its files are dropped when it exits (livesum adds up the living ones).
DB_POOL_IN_USE = Gauge(
    "tousu_db_pool_in_use",
    "Database connections checked out of the pool, by pool.",
    ["pool"],
    multiprocess_mode="livesum",
)
DB_POOL_SIZE = Gauge(
    "tousu_db_pool_size",
    "Connections a pool keeps open (its overflow may add as many again), by pool.",
    ["pool"],
    multiprocess_mode="livesum",
)


def watch_pool(engine: Engine, pool: str) -> None:
    """Count the engine's connections in use as they are checked out and in."""
    in_use = DB_POOL_IN_USE.labels(pool)
    size = getattr(engine.pool, "size", None)
    DB_POOL_SIZE.labels(pool).set(size() if callable(size) else 0)

    @event.listens_for(engine, "checkout")
    def _checkout(*_: Any) -> None:
        in_use.inc()

    @event.listens_for(engine, "checkin")
    def _checkin(*_: Any) -> None:
        in_use.dec()


def attempt_result(status_code: int | None) -> str:
    if status_code is None:
        return "unreachable"
    return "delivered" if 200 <= status_code < 300 else "refused"
