"""The summary analysis over 1,000,000 complaints: one month (October 2026, about 83,000 complaints), target
under 1 s on PostgreSQL; the median of several runs, through the HTTP API (in-process client, JSON and CSV and
the chart) and of the service alone. The same on the embedded SQLite file with ``--sqlite``.

Run with ``python -m bench.report --append bench/RESULTS.md``. It makes and drops its own PostgreSQL database
(``tousu_bench_report``); rows come from bench/report_seed.py, loaded with COPY. ``--explain`` prints the
PostgreSQL plan of every query of the summary in total and by store.
"""

from __future__ import annotations

import argparse
import getpass
import os
import platform
import sqlite3
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from fastapi.testclient import TestClient
from sqlalchemy import event
from sqlalchemy.engine import URL, make_url

from app import migrate
from app.auth import service as keys
from app.auth.models import Role
from app.config import Settings
from app.main import create_app
from app.reports import service
from app.reports.schemas import GroupBy
from app.visibility import Viewer
from bench import report_seed
from bench.results import add_to_latest_run

DATABASE = "tousu_bench_report"
ROUNDS = 7
MONTH = {"from": "2026-10-01", "to": "2026-10-31"}
TARGET_MS = 1000
# (name, path, extra query parameters, Accept): what a manager asks for at the end of a month.
CASES = (
    ("JSON, total only", "/v1/reports/summary", {}, None),
    ("JSON, by store (500 stores)", "/v1/reports/summary", {"group_by": "store"}, None),
    ("JSON, by category", "/v1/reports/summary", {"group_by": "category"}, None),
    ("JSON, by channel", "/v1/reports/summary", {"group_by": "channel"}, None),
    ("JSON, by department", "/v1/reports/summary", {"group_by": "department"}, None),
    ("CSV, by store", "/v1/reports/summary", {"group_by": "store"}, "text/csv"),
    ("SVG chart", "/v1/reports/summary.svg", {}, None),
)
Results = dict[str, list[tuple[str, float]]]  # database -> (case, median ms)
LOADS: list[str] = []  # the load average before and after each database's runs


def say(message: str) -> None:
    print(f"[bench.report {time.strftime('%H:%M:%S')}] {message}", flush=True)


def seed_postgres(libpq: str, complaints: list[tuple], clocks: list[tuple]) -> None:
    with psycopg.connect(libpq) as connection, connection.cursor() as cursor:
        for table, columns, rows in (
            ("complaints", report_seed.COMPLAINT_COLUMNS, complaints),
            ("sla_clocks", report_seed.CLOCK_COLUMNS, clocks),
        ):
            with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
    with psycopg.connect(libpq, autocommit=True) as connection:
        connection.execute("VACUUM ANALYZE complaints, sla_clocks")


def _sqlite_value(value: Any) -> Any:
    # As SQLAlchemy stores them on SQLite: UUIDs as 32 hex digits, times as naive UTC text.
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    if hasattr(value, "hex") and not isinstance(value, str | bytes | float):
        return value.hex
    return value


def seed_sqlite(path: str, complaints: list[tuple], clocks: list[tuple]) -> None:
    with sqlite3.connect(path) as connection:
        for table, columns, rows in (
            ("complaints", report_seed.COMPLAINT_COLUMNS, complaints),
            ("sla_clocks", report_seed.CLOCK_COLUMNS, clocks),
        ):
            marks = ", ".join("?" * len(columns))
            statement = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"
            connection.executemany(statement, ([_sqlite_value(v) for v in row] for row in rows))
        connection.execute("ANALYZE")


def timed(action: Callable[[], Any], rounds: int) -> float:
    action()  # warm-up: caches, the chart library's import
    timings = []
    for _ in range(rounds):
        started = time.perf_counter()
        action()
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)


def measure(settings: Settings, rounds: int, explain: bool) -> list[tuple[str, float]]:
    before = os.getloadavg()[0]
    app = create_app(settings)
    results = []
    with TestClient(app) as client:
        db = app.state.db
        with db.writers.begin() as session:
            _, secret = keys.create_key(session, name="bench", role=Role.reporter, store_id=None, created_by="bench")
        headers = {"Authorization": f"Bearer {secret}"}
        for name, path, params, accept in CASES:

            def request(path: str = path, params: dict = params, accept: str | None = accept) -> None:
                extra = {"Accept": accept} if accept else {}
                response = client.get(path, params={**MONTH, **params}, headers={**headers, **extra})
                assert response.status_code == 200, response.text

            results.append((f"HTTP {name}", timed(request, rounds)))
        the_period = service.period(datetime(2026, 10, 1).date(), datetime(2026, 10, 31).date(), settings.tz)
        where = service.Scope(the_period.start, the_period.end, Viewer(), datetime.now(UTC))

        def alone(group_by: GroupBy | None = None) -> None:
            with db.readers() as session:
                service.summary(session, the_period, group_by, where)

        results.append(("service alone, total only", timed(alone, rounds)))
        if explain:
            explain_queries(db, alone)
            explain_queries(db, lambda: alone(GroupBy.store))
    LOADS.append(f"{before:.1f} → {os.getloadavg()[0]:.1f}")
    return results


def explain_queries(db: Any, run: Callable[[], None]) -> None:
    """EXPLAIN ANALYZE of each statement one summary sends (PostgreSQL)."""
    statements: list[tuple[str, Any]] = []
    ours = threading.get_ident()  # not the app's background workers, which share the engine

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
        if threading.get_ident() == ours:
            statements.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", capture)
    try:
        run()
    finally:
        event.remove(db.engine, "before_cursor_execute", capture)
    with db.engine.connect() as connection:
        raw = connection.connection.driver_connection
        for statement, parameters in statements:
            if statement.startswith("SET "):  # the report's settings, in force for the plans that follow
                raw.execute(statement, parameters)
                continue
            plan = raw.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters).fetchall()
            print(statement, "\n", "\n".join(row[0] for row in plan), "\n", flush=True)


def postgres(server: URL, rows: Callable[[], tuple[list, list]], rounds: int, args: Any) -> Results:
    """Measured on a new database, dropped afterwards (``--keep``: left for EXPLAIN by hand; ``--reuse``: measure
    the one a kept run left, without seeding)."""
    admin = server.set(drivername="postgresql").render_as_string(hide_password=False)
    url = server.set(database=DATABASE)
    libpq = url.set(drivername="postgresql").render_as_string(hide_password=False)
    settings = Settings(database_url=url.render_as_string(hide_password=False), sweep_in_serve=False)
    if not args.reuse:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{DATABASE}"')
    try:
        if not args.reuse:
            migrate.upgrade(settings)
            started = time.perf_counter()
            seed_postgres(libpq, *rows())
            say(f"PostgreSQL: loaded with COPY in {time.perf_counter() - started:.0f} s")
        return {"PostgreSQL": measure(settings, rounds, args.explain)}
    finally:
        if not args.keep:
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')


def sqlite(complaints: list, clocks: list, rounds: int) -> list[tuple[str, float]]:
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "tousu.db")
        settings = Settings(database_url=f"sqlite:///{path}", sweep_in_serve=False)
        migrate.upgrade(settings)
        started = time.perf_counter()
        seed_sqlite(path, complaints, clocks)
        say(f"SQLite: loaded in {time.perf_counter() - started:.0f} s")
        return measure(settings, rounds, explain=False)


def table(results: Results, count: int, rounds: int, started: datetime) -> str:
    model = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
         if line.startswith("model name")),
        "unknown",
    )  # fmt: skip
    databases = list(results)
    lines = [
        f"### Summary report (bench/report.py, {started:%Y-%m-%d %H:%M} UTC)",
        "",
        f"{count:,} complaints received over 365 days (2.7 clock runs each), 500 stores; the report for October "
        f"2026 (about {count * 31 // 365:,} complaints). Median of {rounds} runs after one warm-up, "
        f"in-process HTTP client. Machine: {os.cpu_count()} cores, {model}; Python {platform.python_version()}.",
        "",
        "| | " + " | ".join(f"{db} ms" for db in databases) + " |",
        "|---|" + "---:|" * len(databases),
    ]
    for i, (name, _) in enumerate(results[databases[0]]):
        lines.append(f"| {name} | " + " | ".join(f"{results[db][i][1]:.0f}" for db in databases) + " |")
    worst, slowest = max((ms, name) for name, ms in results["PostgreSQL"] if name.startswith("HTTP"))
    lines += ["", f"Load average (1 min) before → after each column's runs: {'; '.join(LOADS)} (the machine is "
              "shared; PostgreSQL runs on the same cores).", "",
              f"Target: every case under {TARGET_MS} ms on PostgreSQL: slowest {worst:.0f} ms ({slowest}), "
              f"{'met' if worst < TARGET_MS else 'NOT met'}."]  # fmt: skip
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    user = os.environ.get("PGUSER") or getpass.getuser()
    parser.add_argument("--server", default=f"postgresql+psycopg://{user}@127.0.0.1:5432/postgres")
    parser.add_argument("--complaints", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument("--sqlite", action="store_true", help="Measure on the embedded SQLite file too.")
    parser.add_argument("--explain", action="store_true", help="Print EXPLAIN ANALYZE of the summary's queries.")
    parser.add_argument("--keep", action="store_true", help="Keep the PostgreSQL database (tousu_bench_report).")
    parser.add_argument("--reuse", action="store_true", help="Measure the database a --keep run left.")
    parser.add_argument("--append", type=Path, help="Append the table to this Markdown file (bench/RESULTS.md).")
    args = parser.parse_args()
    started_at = datetime.now(UTC)
    made: list[tuple[list, list]] = []

    def rows() -> tuple[list, list]:
        if not made:
            generated = time.perf_counter()
            complaints, clocks = [], []
            for complaint, runs in report_seed.rows(args.complaints):
                complaints.append(complaint)
                clocks.extend(runs)
            say(f"{len(complaints):,} complaints, {len(clocks):,} clocks in {time.perf_counter() - generated:.0f} s")
            made.append((complaints, clocks))
        return made[0]

    results = postgres(make_url(args.server), rows, args.rounds, args)
    if args.sqlite:
        results["SQLite"] = sqlite(*rows(), args.rounds)
    result = table(results, args.complaints, args.rounds, started_at)
    print(result)
    if args.append:
        add_to_latest_run(args.append, result)


if __name__ == "__main__":
    main()
