"""Sweep cost against table size: 1,000 running clocks, all due, against 1,000,000 running clocks of which 1,000
are due. The sweep reads an index of the clocks' next check times, so both should take about as long.

Run with ``python -m bench.sweep`` (``make bench`` runs it too). It makes and drops its own PostgreSQL database.
"""

from __future__ import annotations

import argparse
import getpass
import statistics
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from sqlalchemy.engine import URL, make_url

from app import migrate
from app.complaints.sweeper import sweep
from app.config import Settings
from app.db import Database
from bench.results import add_to_latest_run

DUE = 1_000
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
ROUNDS = 7

SEED_COMPLAINTS = """
INSERT INTO complaints (id, number, state, version, complainant_name, complainant_phone, channel, category, priority,
    store_id, description, received_at, owner, reopen_count, accepted_at, updated_at, responsible_store_id)
SELECT gen_random_uuid(), 'TS-B-' || n, 'investigating', 2, '张三', '138' || lpad(n::text, 8, '0'), 'phone',
    'service_attitude', 'normal', 'SZ-FT-' || (n %% 500), '店员态度恶劣', %(start)s, 'bench', 0, %(start)s,
    %(start)s, 'SZ-FT-' || (n %% 500)
FROM generate_series(1, %(complaints)s) AS n
"""

# Each complaint gets clocks_per_complaint clock runs; the first DUE clocks (by id) are due, the rest far ahead.
SEED_CLOCKS = """
INSERT INTO sla_clocks (id, complaint_id, kind, unit, target, warn_after, store_id, started_at, warn_at, due_at,
    calendar_assumed, state, next_check_at)
SELECT gen_random_uuid(), c.id, 'store_feedback', 'working_days', 2, 1, c.store_id, %(start)s,
    %(far)s, %(far)s + interval '1 day', false, 'running', %(far)s
FROM complaints c CROSS JOIN generate_series(1, %(per)s)
"""

MAKE_DUE = """
UPDATE sla_clocks SET next_check_at = %(due)s, warn_at = %(due)s, warned_at = NULL
WHERE id IN (SELECT id FROM sla_clocks ORDER BY id LIMIT %(count)s)
"""

RESET = """
DELETE FROM sla_clock_events;
DELETE FROM complaint_events;
UPDATE complaints SET escalated_to = NULL WHERE escalated_to IS NOT NULL;
"""


def seed(conn: psycopg.Connection, clocks: int) -> None:
    per = max(1, clocks // 100_000)
    complaints = clocks // per
    start = NOW - timedelta(hours=1)
    conn.execute("TRUNCATE sla_clock_events, sla_clocks, complaint_events, complaints CASCADE")
    conn.execute(SEED_COMPLAINTS, {"start": start, "complaints": complaints})
    conn.execute(SEED_CLOCKS, {"start": start, "far": NOW + timedelta(days=30), "per": per})
    conn.execute("VACUUM ANALYZE sla_clocks")
    conn.execute("VACUUM ANALYZE complaints")


def measure(conn: psycopg.Connection, db: Database) -> list[float]:
    timings = []
    for _ in range(ROUNDS):
        for statement in RESET.strip().split(";"):
            if statement.strip():
                conn.execute(statement)
        conn.execute(MAKE_DUE, {"due": NOW - timedelta(minutes=1), "count": DUE})
        started = time.perf_counter()
        swept = sweep(db, NOW)
        timings.append((time.perf_counter() - started) * 1000)
        assert swept.warned == DUE, swept
    return timings


def run(server: URL) -> list[tuple[int, float, float]]:
    name = "tousu_bench_sweep"
    admin = server.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    url = server.set(database=name)
    settings = Settings(database_url=url.render_as_string(hide_password=False), sweep_in_serve=False)
    results = []
    try:
        migrate.upgrade(settings)
        db = Database.from_settings(settings)
        libpq = url.set(drivername="postgresql").render_as_string(hide_password=False)
        with psycopg.connect(libpq, autocommit=True) as conn:
            for clocks in (DUE, 1_000_000):
                seeded = time.perf_counter()
                seed(conn, clocks)
                print(f"seeded {clocks:,} clocks in {time.perf_counter() - seeded:.1f} s", flush=True)
                timings = measure(conn, db)
                results.append((clocks, statistics.median(timings), max(timings)))
        db.dispose()
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return results


def table(results: list[tuple[int, float, float]]) -> str:
    (small, small_median, _), (large, large_median, _) = results
    ratio = large_median / small_median
    lines = [
        f"Sweep of {DUE:,} due clocks (one warning event each, batches of 500), median of {ROUNDS} runs:",
        "",
        "| running clocks | due | median ms | worst ms |",
        "|---:|---:|---:|---:|",
        *(f"| {clocks:,} | {DUE:,} | {median:.0f} | {worst:.0f} |" for clocks, median, worst in results),
        "",
        f"Ratio {large:,} / {small:,}: **{ratio:.2f}** (target ≤ 1.5: {'met' if ratio <= 1.5 else 'NOT met'}).",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--server", default=f"postgresql+psycopg://{getpass.getuser()}@127.0.0.1:5432/postgres")
    parser.add_argument("--append", type=Path, help="Append the table to this Markdown file (bench/RESULTS.md).")
    args = parser.parse_args()
    started = datetime.now(UTC)
    result = table(run(make_url(args.server)))
    print(result)
    if args.append:
        heading = f"### Sweep (bench/sweep.py, {started:%Y-%m-%d %H:%M} UTC, PostgreSQL)"
        add_to_latest_run(args.append, f"{heading}\n\n{result}")


if __name__ == "__main__":
    main()
