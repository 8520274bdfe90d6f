"""``make bench``: tousu on PostgreSQL, measured with wrk against a bare FastAPI app; writes bench/RESULTS.md.

Run from the checkout's root with the virtual environment's Python: ``.venv/bin/python -m bench.run``. Progress goes
to standard error, the results table to standard output. Whatever happens, the servers are stopped and the
databases ``tousu_bench``, ``tousu_bench_ops`` and ``tousu_bench_100k`` are dropped at the end.
``--only reads,moves,list`` runs only those parts and prints their table without writing bench/RESULTS.md.
See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import json
import math
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import psycopg
from sqlalchemy.engine import URL, make_url

from bench import lifecycle, seed
from bench.results import start_run

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
LUA = BENCH / "lua"
OUT = BENCH / "out"  # server logs and id files of the last run (ignored by git)
BIN = Path(sys.executable).parent

# BENCH_DATABASE names the run's databases, so that two runs on one server keep apart (two checkouts at once).
DATABASE = os.environ.get("BENCH_DATABASE", "tousu_bench")  # registrations, 1,000 complaints, lifecycles
OPS_DATABASE = f"{DATABASE}_ops"  # reads, moves and the list, side by side with the bare app
LARGE_DATABASE = f"{DATABASE}_100k"  # 100,000 complaints, memory
TOUSU_APP = ["app.main:create_app", "--factory"]
BARE_APP = ["bench.baseline:app"]
WORKERS = 2
# Each engine's pool, and as many more under load, on both sides (tousu's default TOUSU_DB_POOL_SIZE). tousu's
# processes have two engines each (one for single statements); PostgreSQL's max_connections (100 by default) is
# shared with other work: bench/README.md, Caveats.
POOL_SIZE = int(os.environ.get("BENCH_POOL_SIZE", "10"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "16"))  # reads by size, lifecycles, memory
# The side-by-side comparisons with the bare app run at each of these.
CONNECTION_COUNTS = tuple(int(n) for n in os.environ.get("BENCH_CONNECTION_COUNTS", "16,64").split(","))
ROUNDS = 4  # the sides of a comparison take turns: this many measured runs each
ROUND_SECONDS = int(os.environ.get("BENCH_ROUND_SECONDS", "4"))  # seconds of each measured run
WARMUP = int(os.environ.get("BENCH_WARMUP", "3"))  # seconds of load before measuring a side
LIFECYCLE_DURATION = int(os.environ.get("BENCH_LIFECYCLE_DURATION", "10"))
READ_SIZES = (1_000, 100_000)
MEMORY_MARKS = tuple(int(n) for n in os.environ.get("BENCH_MEMORY_MARKS", "1000,100000").split(","))
GET_PERCENT = 90  # of the memory run's requests; the rest register complaints
TIMEZONE = os.environ.get("TOUSU_TIMEZONE", "Asia/Shanghai")
READ_TARGET = 1.2  # the 100k read latencies within 1.2x the 1k ones
MAX_ERROR_SHARE = 0.001  # a run with more failed (non-2xx, timed out) requests than this is no measurement
FEEDBACK_POOL = 1_000  # investigating complaints the store gives its feedback on, in turn
PAGE = 50  # complaints in a page of the list


@dataclass(frozen=True)
class Operation:
    """One of the side-by-side comparisons with the bare app: tousu/bare in requests per second ≥ target."""

    key: str
    label: str
    bare: str  # what the bare app does
    target: float


OPERATIONS = (
    Operation("register", "`POST /v1/complaints`", "insert one row", 0.6),
    Operation("get", "`GET /v1/complaints/{id}`", "select one row by key, as JSON", 0.5),
    Operation(
        "feedback",
        "`POST /v1/complaints/{id}/store-feedback` (the state stays)",
        "lock the row, update it, insert a history row",
        0.4,
    ),
    Operation(
        "investigate",
        "`POST /v1/complaints/{id}/investigate` (accepted → investigating)",
        "lock the row, update it, insert a history row",
        0.4,
    ),
    Operation("list", f"`GET /v1/complaints?limit={PAGE}`", f"select the {PAGE} newest rows, as JSON", 0.3),
)
# What ``--only`` names: register, reads (by id), moves, list: the comparisons; sizes (reads at 1,000 and 100,000
# complaints), lifecycles, memory.
PARTS = {
    "register": ("register",),
    "reads": ("get",),
    "moves": ("feedback", "investigate"),
    "list": ("list",),
    "sizes": (),
    "lifecycles": (),
    "memory": (),
}


def say(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# PostgreSQL


def server_url() -> URL:
    default = f"postgresql://{os.environ.get('PGUSER') or getpass.getuser()}@127.0.0.1:5432/postgres"
    return make_url(os.environ.get("BENCH_POSTGRES_URL", default)).set(drivername="postgresql")


def libpq(url: URL) -> str:
    return url.render_as_string(hide_password=False)


def sqlalchemy_url(url: URL) -> str:
    return url.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


def create_database(server: URL, name: str) -> URL:
    """A new, empty database (a crashed run's leftover is dropped first)."""
    with psycopg.connect(libpq(server), autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')
    say(f"database {name} created")
    return server.set(database=name)


def drop_database(server: URL, name: str) -> None:
    with psycopg.connect(libpq(server), autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    say(f"database {name} dropped")


def backend_pids(server: URL, name: str) -> list[int]:
    with psycopg.connect(libpq(server), autocommit=True) as connection:
        rows = connection.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", (name,))
        return [row[0] for row in rows]


def statements_loaded(pg: URL) -> bool:
    """Whether the server has pg_stat_statements loaded, loading it if not: ``ALTER SYSTEM SET
    shared_preload_libraries`` and a restart of the local cluster (pg_ctlcluster), once, said on standard error; the
    setting persists. BENCH_RESTART_POSTGRES=0, or a server that is not local, leaves the server alone and the
    statements unmeasured."""
    with psycopg.connect(libpq(pg), autocommit=True) as connection:
        loaded = [name.strip() for name in connection.execute("SHOW shared_preload_libraries").fetchone()[0].split(",")]
        major = int(connection.execute("SHOW server_version_num").fetchone()[0]) // 10000
        if "pg_stat_statements" in loaded:
            return True
        local = pg.host in ("127.0.0.1", "localhost", None) and shutil.which("pg_ctlcluster") is not None
        if os.environ.get("BENCH_RESTART_POSTGRES", "1") == "0" or not local:
            say("pg_stat_statements is not loaded and the server is left alone: statements per request not measured")
            return False
        libraries = ", ".join(f"'{name}'" for name in [*filter(None, loaded), "pg_stat_statements"])
        say(
            "pg_stat_statements is not loaded: ALTER SYSTEM SET shared_preload_libraries = "
            f"{libraries} and restarting the local PostgreSQL {major} cluster 'main' (once: the setting persists)"
        )
        connection.execute(f"ALTER SYSTEM SET shared_preload_libraries = {libraries}")
    command = ["pg_ctlcluster", "--skip-systemctl-redirect", str(major), "main", "restart"]
    subprocess.run(command, check=True, capture_output=True)
    deadline = time.monotonic() + 60
    while True:
        try:
            with psycopg.connect(libpq(pg), autocommit=True) as connection:
                return "pg_stat_statements" in connection.execute("SHOW shared_preload_libraries").fetchone()[0]
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def free_connections(pg: URL, database: str = "") -> tuple[int, int]:
    """PostgreSQL's connections not in use (other work shares the server), counting the idle ones of ``database``
    (the servers' pools, there to be used), and its max_connections."""
    query = (
        "SELECT count(*) FILTER (WHERE NOT (datname = %s AND state = 'idle')) FROM pg_stat_activity "
        "WHERE backend_type = 'client backend'"
    )
    with psycopg.connect(libpq(pg), autocommit=True) as connection:
        limit = int(connection.execute("SHOW max_connections").fetchone()[0])
        return limit - connection.execute(query, (database,)).fetchone()[0], limit


def check_connections(pg: URL) -> None:
    """Says so when other work holds so many of PostgreSQL's connections that the comparisons may be refused some:
    a tousu worker process may open 4 * POOL_SIZE (two engines, each a pool and as many more), a bare one half."""
    wanted = WORKERS * 6 * POOL_SIZE + 10
    free, limit = free_connections(pg)
    if free < wanted:
        say(f"PostgreSQL has {free} of its {limit} connections free; the servers may want {wanted}: requests may fail")


def wait_for_connections(pg: URL, database: str, wanted: int, patience: float = 60) -> None:
    """Before a run: until ``wanted`` connections are free or idle in the servers' pools (other work holds them for
    a while), at most ``patience`` seconds; a server refused a connection answers 503 and the run would stop."""
    deadline = time.monotonic() + patience

    def free() -> int:
        try:
            return free_connections(pg, database)[0]
        except psycopg.OperationalError:  # none left for asking
            return 0

    if (now := free()) >= wanted:
        return
    say(f"waiting for {wanted} free PostgreSQL connections ({now} now), at most {patience:.0f} s")
    while free() < wanted and time.monotonic() < deadline:
        time.sleep(1)


class Statements:
    """pg_stat_statements of one database: reset before a measured run, read after it. Only the statements of one
    side count: those whose text names ``tables`` (the bare app's: tousu's background worker runs beside it) or,
    with ``others``, those that do not (tousu's: the bare app may finish its last requests in tousu's turn)."""

    def __init__(self, database: URL, tables: str, *, others: bool = False) -> None:
        self.conninfo = libpq(database)
        self.tables = tables
        self.others = others

    @staticmethod
    def install(database: URL) -> None:
        with psycopg.connect(libpq(database), autocommit=True) as connection:
            connection.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")

    def reset(self) -> None:
        with psycopg.connect(self.conninfo, autocommit=True) as connection:
            database = "(SELECT oid FROM pg_database WHERE datname = current_database())"
            connection.execute(f"SELECT pg_stat_statements_reset(0, {database}, 0)")

    def read(self) -> dict[str, tuple[int, float]]:
        """Calls and total execution time (ms) of each statement since the reset."""
        query = (
            "SELECT query, calls, total_exec_time FROM pg_stat_statements "
            "WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) "
            "AND query NOT LIKE '%pg_stat_statements%'"
        )
        with psycopg.connect(self.conninfo, autocommit=True) as connection:
            rows = connection.execute(query).fetchall()
        return {text: (calls, ms) for text, calls, ms in rows if (self.tables in text) != self.others}


# Processes


def cpu_seconds(pids: list[int]) -> dict[int, float]:
    """User + system CPU time of each process still alive, from /proc/<pid>/stat."""
    ticks = os.sysconf("SC_CLK_TCK")
    seconds = {}
    for pid in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        seconds[pid] = (int(fields[11]) + int(fields[12])) / ticks
    return seconds


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for process {pid}")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    """``uvicorn APP --workers 2 --no-access-log`` in a session of its own, so stopping it stops its workers.

    tousu is run as production runs it: the API workers do not sweep clocks or deliver webhooks; one ``tousu
    worker`` process beside them does, and its CPU counts as the app's.
    """

    def __init__(self, name: str, app: list[str], env: dict[str, str], root: Path = ROOT) -> None:
        self.name = name
        self.root = root  # the checkout whose code it runs (bench/versus.py runs an earlier one beside this)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = OUT / f"{name}.log"
        command = [str(BIN / "uvicorn"), *app, "--host", "127.0.0.1", "--port", str(self.port)]
        command += ["--workers", str(WORKERS), "--no-access-log", "--log-level", "info"]
        self.command = command
        self.with_worker = app == TOUSU_APP
        if self.with_worker:
            env = {**env, "TOUSU_SWEEP_IN_SERVE": "false", "TOUSU_DISPATCH_IN_SERVE": "false"}
        self.env = env
        self.process: subprocess.Popen[bytes] | None = None
        self.worker: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        say(f"starting {self.name}: {' '.join(self.command[1:])}")
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                self.command, cwd=self.root, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
            if self.with_worker:
                self.worker = subprocess.Popen(
                    [str(BIN / "tousu"), "worker"],
                    cwd=self.root,
                    env=self.env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}:\n{self.log_tail()}")
            if self.log_path.read_text(errors="replace").count("Application startup complete") >= WORKERS:
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                        return
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} did not start within 60 s:\n{self.log_tail()}")

    def _processes(self) -> Iterator[tuple[int, int, int, bytes]]:
        """(pid, parent, process group, command line) of every process."""
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2 :].split()
            yield int(entry.name), int(fields[1]), int(fields[2]), cmdline

    def workers(self) -> list[int]:
        """The worker processes (children of uvicorn's supervisor running multiprocessing's spawn_main)."""
        assert self.process is not None
        supervisor = self.process.pid
        pids = sorted(pid for pid, parent, _, cmd in self._processes() if parent == supervisor and b"spawn_main" in cmd)
        if len(pids) != WORKERS:
            raise RuntimeError(f"{self.name}: expected {WORKERS} workers, found {pids}")
        return pids

    def app_pids(self) -> list[int]:
        """The processes whose CPU is the app's: the API workers and the background worker."""
        return self.workers() + ([self.worker.pid] if self.worker is not None else [])

    def stop(self) -> None:
        """SIGTERM to the supervisor and its workers (their own process group), SIGKILL to whatever is left."""
        if self.process is None:
            return
        group = self.process.pid
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(group, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=20)
        for pid, _, pgid, _ in list(self._processes()):
            if pgid == group:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        self.process = None
        if self.worker is not None:
            self.worker.terminate()
            try:
                self.worker.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.worker.kill()
                self.worker.wait()
            self.worker = None
        say(f"stopped {self.name}")

    def log_tail(self) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-30:])


RUNNING: list[Server] = []


@contextlib.contextmanager
def serving(name: str, app: list[str], env: dict[str, str]) -> Iterator[Server]:
    server = Server(name, app, env)
    RUNNING.append(server)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        RUNNING.remove(server)


# Load


@dataclass
class Run:
    """Measured load: wrk's figures and latency distribution, the CPU the app workers and the database's backends
    spent meanwhile, how many backends waited for a lock or sat idle in a transaction (means of samples), and the
    statements the database ran (pg_stat_statements: query -> calls, total ms; None if not measured)."""

    requests: int
    seconds: float
    # The latency distribution as (share of the responses, microseconds) points: each point stands for the
    # responses between the previous point's percentile and its own.
    quantiles: list[tuple[float, int]]
    errors: int
    app_cpu_s: float = 0.0
    db_cpu_s: float = 0.0
    lock_waits: float = 0.0
    idle_in_transaction: float = 0.0
    statements: dict[str, tuple[int, float]] | None = None

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    def percentile_ms(self, p: float) -> float:
        """The smallest latency with at least p% of the responses at or below it."""
        total = sum(share for share, _ in self.quantiles)
        seen = 0.0
        for share, us in sorted(self.quantiles, key=lambda point: point[1]):
            seen += share
            if seen >= p / 100 * total - 1e-9:
                return us / 1000
        return 0.0

    @property
    def p50_ms(self) -> float:
        return self.percentile_ms(50)

    @property
    def p99_ms(self) -> float:
        return self.percentile_ms(99)

    @property
    def app_ms(self) -> float:
        return self.app_cpu_s * 1000 / max(self.requests, 1)

    @property
    def db_ms(self) -> float:
        return self.db_cpu_s * 1000 / max(self.requests, 1)

    @property
    def statements_per_request(self) -> float | None:
        if self.statements is None:
            return None
        return sum(calls for calls, _ in self.statements.values()) / max(self.requests, 1)

    @classmethod
    def merge(cls, runs: list[Run]) -> Run:
        seconds = sum(run.seconds for run in runs)
        statements: dict[str, tuple[int, float]] | None = None
        if all(run.statements is not None for run in runs):
            statements = {}
            for run in runs:
                assert run.statements is not None
                for text, (calls, ms) in run.statements.items():
                    before = statements.get(text, (0, 0.0))
                    statements[text] = (before[0] + calls, before[1] + ms)
        return cls(
            requests=sum(run.requests for run in runs),
            seconds=seconds,
            quantiles=[(share * run.requests, us) for run in runs for share, us in run.quantiles],
            errors=sum(run.errors for run in runs),
            app_cpu_s=sum(run.app_cpu_s for run in runs),
            db_cpu_s=sum(run.db_cpu_s for run in runs),
            lock_waits=sum(run.lock_waits * run.seconds for run in runs) / seconds,
            idle_in_transaction=sum(run.idle_in_transaction * run.seconds for run in runs) / seconds,
            statements=statements,
        )


def quantiles(pairs: str) -> list[tuple[float, int]]:
    """wrk's "percentile:microseconds" pairs as (share, microseconds) points."""
    points, previous = [], 0.0
    for pair in filter(None, pairs.split(",")):
        percentile, us = pair.split(":")
        points.append(((float(percentile) - previous) / 100, int(us)))
        previous = float(percentile)
    return points


def wrk(
    server: Server,
    script: str,
    *,
    seconds: int,
    env: dict[str, str],
    connections: int = CONNECTIONS,
    check: bool = True,
) -> Run:
    """wrk with one thread. A script that stops early (mixed.lua) prints BENCH_STOPPED; wrk's main thread would
    sleep out the duration, so it is interrupted then (SIGINT: wrk reports and exits)."""
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s", "-s", str(LUA / script)]
    run_env = {**os.environ, "BENCH_LUA_DIR": str(LUA), **env}
    process = subprocess.Popen(
        [*command, server.url], env=run_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    output = []
    try:
        assert process.stdout is not None
        for line in process.stdout:
            output.append(line)
            if line.strip() == "BENCH_STOPPED":
                process.send_signal(signal.SIGINT)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    found = dict(
        line.rstrip("\n").split(" ", 1) for line in output if line.startswith(("BENCH_JSON ", "BENCH_QUANTILES "))
    )
    if process.returncode != 0 or "BENCH_JSON" not in found or "BENCH_QUANTILES" not in found:
        raise RuntimeError(f"wrk failed ({process.returncode}):\n{''.join(output)}")
    figures = json.loads(found["BENCH_JSON"])
    errors = sum(figures[k] for k in ("connect_errors", "read_errors", "write_errors", "status_errors", "timeouts"))
    run = Run(
        requests=figures["requests"],
        seconds=figures["duration_us"] / 1e6,
        quantiles=quantiles(found["BENCH_QUANTILES"]),
        errors=errors,
    )
    if check and errors > MAX_ERROR_SHARE * max(run.requests, 1):
        raise FailedRequests(f"{script} against {server.name}: {errors} of {run.requests} requests failed: {figures}")
    return run


class FailedRequests(RuntimeError):
    """More than MAX_ERROR_SHARE of a run's requests failed."""


class LockSampler(threading.Thread):
    """Samples pg_stat_activity every 100 ms: how many of the database's backends wait for a lock (a row lock held
    by another transaction), and how many are inside a transaction while the app, not the database, has the turn."""

    def __init__(self, pg: URL, database: str) -> None:
        super().__init__(daemon=True)
        self.pg = pg
        self.database = database
        self.stop = threading.Event()
        self.samples = 0
        self.lock_waits = 0
        self.idle_in_transaction = 0

    def run(self) -> None:
        query = (
            "SELECT count(*) FILTER (WHERE wait_event_type = 'Lock'), "
            "count(*) FILTER (WHERE state = 'idle in transaction') "
            "FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()"
        )
        with psycopg.connect(libpq(self.pg), autocommit=True) as connection:
            while not self.stop.wait(0.1):
                waiting, idle = connection.execute(query, (self.database,)).fetchone()
                self.samples += 1
                self.lock_waits += waiting
                self.idle_in_transaction += idle

    def finish(self) -> tuple[float, float]:
        self.stop.set()
        self.join()
        samples = max(self.samples, 1)
        return self.lock_waits / samples, self.idle_in_transaction / samples


@dataclass
class Pool:
    """The complaints a move is made on, taken in turn (bench/lua/move.lua) so that concurrent requests never share
    one: each wrk run starts past every complaint an earlier one may have sent a request for. ``refill``: the move
    uses a complaint up (investigate); before a run that could use up what is left, it is asked for more (at least
    1.5 times the best rate seen so far, or ``guess`` per second, for the run's length), and gives their ids.
    Without it the ids are taken over again from the first when used up."""

    path: Path
    ids: list[str]
    refill: Callable[[int], list[str]] | None = None
    guess: float = 0.0
    offset: int = 0
    best_rate: float = 0.0

    def __post_init__(self) -> None:
        self.path.write_text("\n".join(self.ids) + "\n")

    def env(self, seconds: int, connections: int) -> dict[str, str]:
        if self.refill is not None:
            needed = math.ceil(1.5 * max(self.best_rate, self.guess) * seconds) + 2 * connections
            left = len(self.ids) - self.offset
            if left < needed:
                self.ids += self.refill(needed - left)
                self.path.write_text("\n".join(self.ids) + "\n")
        wrap = "0" if self.refill is not None else "1"
        return {"BENCH_IDS": str(self.path), "BENCH_OFFSET": str(self.offset % len(self.ids)), "BENCH_WRAP": wrap}

    def used(self, run: Run, connections: int) -> None:
        """wrk counts the answered requests; up to one per connection was sent and not answered when it stopped."""
        self.offset += run.requests + connections
        self.best_rate = max(self.best_rate, run.rate)


@dataclass(frozen=True)
class Contender:
    """One side of a comparison: a running server, its database, the wrk script and its environment; the
    connections wrk opens, the complaints a move takes in turn, the statements counted."""

    label: str
    server: Server
    database: str
    script: str
    env: dict[str, str]
    connections: int = CONNECTIONS
    pool: Pool | None = None
    statements: Statements | None = None

    def load(self, pg: URL, seconds: int, *, measured: bool = True) -> Run:
        # The side under load may open more connections (up to its pools' size) than it holds idle.
        wait_for_connections(pg, self.database, min(self.connections, WORKERS * 2 * POOL_SIZE))
        env = self.env if self.pool is None else {**self.env, **self.pool.env(seconds, self.connections)}
        run = wrk(self.server, self.script, seconds=seconds, env=env, connections=self.connections, check=False)
        if self.pool is not None:
            self.pool.used(run, self.connections)
        if run.errors > MAX_ERROR_SHARE * max(run.requests, 1):
            raise FailedRequests(f"{self.label}: {run.errors} of {run.requests} requests failed")
        if measured and run.requests == 0:  # a warm-up may end before a slow first answer; a measured run not
            raise FailedRequests(f"{self.label}: no request answered in {seconds} s (is the server stuck?)")
        return run

    def warm_up(self, pg: URL, seconds: int) -> None:
        self.again(lambda: self.load(pg, seconds, measured=False))

    def measure(self, pg: URL, seconds: int) -> Run:
        return self.again(lambda: self.measure_once(pg, seconds))

    def again(self, attempt: Callable[[], Run], tries: int = 3) -> Run:
        """A run with failed requests is made again, up to ``tries`` in all: on this shared machine other work may
        hold PostgreSQL's connections for a moment (a server refused one answers 503). A refusal that repeats
        (a move not allowed, a server down) still stops the benchmark."""
        for tried in range(1, tries + 1):
            try:
                return attempt()
            except (FailedRequests, psycopg.OperationalError) as failed:  # the bench's own connections may be refused
                if tried == tries:
                    raise
                say(f"{failed}: again in 5 s, try {tried + 1} of {tries} (server log: {self.server.log_path})")
                time.sleep(5)
        raise AssertionError("unreachable")

    def measure_once(self, pg: URL, seconds: int) -> Run:
        if self.statements is not None:
            self.statements.reset()
        workers = self.server.app_pids()
        before = cpu_seconds(workers + backend_pids(pg, self.database))
        sampler = LockSampler(pg, self.database)
        sampler.start()
        try:
            run = self.load(pg, seconds)
        finally:
            lock_waits, idle_in_transaction = sampler.finish()
        backends = backend_pids(pg, self.database)
        after = cpu_seconds(workers + backends)
        run.app_cpu_s = sum(after.get(pid, 0.0) - before.get(pid, 0.0) for pid in workers)
        run.db_cpu_s = sum(after[pid] - before.get(pid, 0.0) for pid in backends if pid in after)
        run.lock_waits, run.idle_in_transaction = lock_waits, idle_in_transaction
        if self.statements is not None:
            run.statements = self.statements.read()
        return run


def interleaved(pg: URL, contenders: list[Contender]) -> list[Run]:
    """Each contender warmed up, then measured in ROUNDS short runs taking turns (A B A B ...), so that a change in
    the machine's other load during the comparison falls on every side alike; each side's runs are merged."""
    for contender in contenders:
        say(f"{contender.label}: {WARMUP} s warm-up, {contender.connections} connections")
        contender.warm_up(pg, WARMUP)
    runs: list[list[Run]] = [[] for _ in contenders]
    say(f"measuring {ROUNDS} rounds of {ROUND_SECONDS} s each")
    for _ in range(ROUNDS):
        for contender, measured in zip(contenders, runs, strict=True):
            measured.append(contender.measure(pg, ROUND_SECONDS))
    merged = [Run.merge(measured) for measured in runs]
    for contender, run in zip(contenders, merged, strict=True):
        per = "" if run.statements_per_request is None else f", {run.statements_per_request:.1f} statements/request"
        say(f"{contender.label}: {run.rate:,.0f} req/s, p50 {run.p50_ms:.1f} ms, p99 {run.p99_ms:.1f} ms{per}")
    return merged


# Setup


def tousu(env: dict[str, str], *args: str, root: Path = ROOT) -> str:
    finished = subprocess.run(
        [str(BIN / "tousu"), *args], cwd=root, env=env, capture_output=True, text=True, check=False
    )
    if finished.returncode != 0:
        raise RuntimeError(f"tousu {' '.join(args)} failed:\n{finished.stdout}\n{finished.stderr}")
    return finished.stdout


def create_key(env: dict[str, str], role: str, name: str, *extra: str, root: Path = ROOT) -> str:
    return tousu(env, "keys", "create", "--role", role, "--name", name, *extra, root=root).strip().splitlines()[-1]


def register_store(env: dict[str, str], root: Path = ROOT) -> None:
    """The lifecycle's store in the directory, loaded as a chain loads its stores: a complaint is dispatched only to
    a known store."""
    OUT.mkdir(parents=True, exist_ok=True)
    listed = OUT / "stores.csv"
    listed.write_text(f"id,name,region\n{lifecycle.STORE},福田中心店,华南区\n", encoding="utf-8")
    tousu(env, "stores", "import", str(listed), root=root)


def create_bare_table(database: URL) -> None:
    from bench.baseline import CREATE_TABLE

    with psycopg.connect(libpq(database)) as connection:
        connection.execute(CREATE_TABLE)


def create_bare_cases(database: URL) -> None:
    """The bare app's copies of tousu's complaints and history (bench/baseline.py)."""
    from bench.baseline import CREATE_CASES

    with psycopg.connect(libpq(database), autocommit=True) as connection:
        for statement in CREATE_CASES:
            connection.execute(statement)


def analyze(database: URL) -> None:
    """Every table's statistics brought up to date, tousu's as the bare app's copies get theirs: the planner then
    sees the complaints just registered, as autovacuum would show it them a little later."""
    with psycopg.connect(libpq(database), autocommit=True) as connection:
        connection.execute("VACUUM ANALYZE")


def accepted_ids(database: URL, after: str | None = None) -> list[str]:
    """The accepted complaints, in id (registration) order; only those after ``after``, if given."""
    query = "SELECT id FROM complaints WHERE state = 'accepted' AND (%s::uuid IS NULL OR id > %s::uuid) ORDER BY id"
    with psycopg.connect(libpq(database)) as connection:
        return [str(row[0]) for row in connection.execute(query, (after, after))]


def dispatch(base_url: str, key: str, ids: list[str]) -> None:
    """Each complaint investigated, dispatched to the lifecycle's store, through the API (CONNECTIONS at a time)."""
    headers = {"Authorization": f"Bearer {key}", "X-Actor": "handler-07"}

    async def investigate_all() -> None:
        waiting = iter(ids)
        async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:

            async def investigate() -> None:
                for complaint in waiting:
                    path = f"/v1/complaints/{complaint}/investigate"
                    response = await client.post(path, headers=headers, json={"store_id": lifecycle.STORE})
                    if response.status_code != 200:
                        raise RuntimeError(f"POST {path}: {response.status_code} {response.text[:300]}")

            await asyncio.gather(*(investigate() for _ in range(CONNECTIONS)))

    asyncio.run(investigate_all())


def write_ids(database: URL, name: str) -> Path:
    path = OUT / name
    path.write_text("\n".join(seed.ids(libpq(database))) + "\n")
    return path


def machine(pg: URL) -> dict[str, str]:
    model = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with psycopg.connect(libpq(pg)) as connection:
        version = connection.execute("SHOW server_version").fetchone()[0]
    wrk_version = subprocess.run(["wrk", "-v"], capture_output=True, text=True, check=False).stdout.split(" [")[0]
    return {
        "cores": str(os.cpu_count()),
        "cpu": model,
        "postgresql": version,
        "python": platform.python_version(),
        "wrk": wrk_version.strip(),
        "kernel": platform.release(),
    }


# The benchmark


@dataclass
class Results:
    parts: tuple[str, ...]
    statements: bool = False  # whether pg_stat_statements was there to count them
    # (operation, connections) -> (tousu, bare)
    compared: dict[tuple[str, int], tuple[Run, Run]] = field(default_factory=dict)
    reads: dict[int, Run] = field(default_factory=dict)
    lifecycles: dict[str, float] = field(default_factory=dict)
    rss: dict[int, list[int]] = field(default_factory=dict)  # mark -> KiB of each worker
    answered: dict[int, int] = field(default_factory=dict)  # mark -> requests answered (a few past it)
    memory_rate: float = 0.0

    @property
    def operations(self) -> list[Operation]:
        return [operation for operation in OPERATIONS if (operation.key, CONNECTION_COUNTS[0]) in self.compared]


def prepare(pg: URL, name: str, statements: bool) -> tuple[URL, dict[str, str], str]:
    """A migrated database with an intake key named bench: its URL, the servers' environment and the key."""
    database = create_database(pg, name)
    env = {
        **os.environ,
        "TOUSU_DATABASE_URL": sqlalchemy_url(database),
        "BENCH_DATABASE_URL": sqlalchemy_url(database),
        "TOUSU_TIMEZONE": TIMEZONE,
        "TOUSU_DB_POOL_SIZE": str(POOL_SIZE),
        "BENCH_POOL_SIZE": str(POOL_SIZE),
    }
    tousu(env, "migrate")
    if statements:
        Statements.install(database)
    return database, env, create_key(env, "intake", "bench")


def seed_to(database: URL, size: int) -> Path:
    """``size`` complaints seeded into an empty database; returns the file of their ids."""
    started = time.monotonic()
    seed.empty(libpq(database))
    with psycopg.connect(libpq(database)) as connection:
        key_id = str(connection.execute("SELECT id FROM api_keys WHERE name = 'bench'").fetchone()[0])
    seed.seed(libpq(database), 1, size, tz=TIMEZONE, key_id=key_id)
    say(f"{database.database}: {size:,} complaints seeded in {time.monotonic() - started:.1f} s")
    return write_ids(database, f"ids-{size}.txt")


def side_by_side(
    pg: URL,
    results: Results,
    operation: Operation,
    servers: tuple[Server, Server],
    database: URL,
    script: str,
    loads: tuple[dict[str, str], dict[str, str]],
    pools: Callable[[], tuple[Pool | None, Pool | None]] = lambda: (None, None),
) -> None:
    """tousu and the bare app taking turns on one operation, at each connection count."""
    name = database.database
    assert name is not None
    bare = "bench_bare_"
    counted = (
        (Statements(database, bare, others=True), Statements(database, bare)) if results.statements else (None, None)
    )
    tousu_pool, bare_pool = pools()
    for connections in CONNECTION_COUNTS:
        sides = [
            Contender(
                f"{operation.key}, {side}, {connections} connections",
                server,
                name,
                script,
                load,
                connections,
                pool,
                statements,
            )
            for side, server, load, pool, statements in zip(
                ("tousu", "bare"), servers, loads, (tousu_pool, bare_pool), counted, strict=True
            )
        ]
        tousu_run, bare_run = interleaved(pg, sides)
        results.compared[(operation.key, connections)] = (tousu_run, bare_run)
        say(f"{operation.key}, {connections} connections: tousu/bare {tousu_run.rate / bare_run.rate:.2f}")


def registration(pg: URL, results: Results, database: URL, env: dict[str, str], intake: str) -> None:
    """tousu's registrations against the bare app's inserts (into its own table in the same database)."""
    create_bare_table(database)
    load = {"BENCH_KEY": intake}
    with serving("tousu", TOUSU_APP, env) as tousu_server, serving("bare", BARE_APP, env) as bare_server:
        servers = (tousu_server, bare_server)
        side_by_side(pg, results, OPERATIONS[0], servers, database, "post.lua", (load, load))


def reads_and_moves(pg: URL, results: Results, keys: list[str]) -> None:
    """Reads by id, moves and the list, side by side, on complaints registered through the API (with their clocks
    and history, as the moves find them in use): a store's feedback on FEEDBACK_POOL complaints dispatched to it,
    taken in turn again and again; an investigation of each of the others once."""
    database, env, intake = prepare(pg, OPS_DATABASE, results.statements)
    handler = create_key(env, "handler", "bench handler")
    store = create_key(env, "store", "bench store", "--store", lifecycle.STORE)
    register_store(env)
    by_key = {operation.key: operation for operation in OPERATIONS}
    with serving("tousu-ops", TOUSU_APP, env) as tousu_server:
        registering = {"BENCH_KEY": intake}

        def register(seconds: int) -> float:
            say(f"{OPS_DATABASE}: registering complaints through the API for {seconds} s")
            return wrk(tousu_server, "post.lua", seconds=seconds, env=registering).rate

        # Enough to investigate for as long as the investigate runs last: an investigation costs at least what a
        # registration does. Running short, the pool registers more between runs.
        investigating = len(CONNECTION_COUNTS) * (WARMUP + ROUNDS * ROUND_SECONDS) if "investigate" in keys else 0
        rate = register(max(3, investigating))
        while len(accepted_ids(database)) < 2 * FEEDBACK_POOL:
            rate = register(3)
        ids = accepted_ids(database)
        feedback, fresh = ids[:FEEDBACK_POOL], ids[FEEDBACK_POOL:]
        say(f"{OPS_DATABASE}: {len(ids):,} complaints registered ({rate:,.0f}/s); dispatching {len(feedback):,}")
        dispatch(tousu_server.url, handler, feedback)
        create_bare_cases(database)
        analyze(database)
        read_ids = OUT / "ops-ids.txt"
        read_ids.write_text("\n".join(ids) + "\n")

        def refill(needed: int, pool: Pool) -> list[str]:
            register(max(1, math.ceil(needed / rate)))
            return accepted_ids(database, after=pool.ids[-1])

        def investigate_pools() -> tuple[Pool | None, Pool | None]:
            pool = Pool(OUT / "investigate-tousu.txt", list(fresh), guess=rate)
            pool.refill = lambda needed: refill(needed, pool)
            return pool, Pool(OUT / "investigate-bare.txt", list(fresh))

        reading = {"BENCH_KEY": handler, "BENCH_IDS": str(read_ids), "BENCH_PAGE": str(PAGE)}
        body = json.dumps(lifecycle.FEEDBACK, ensure_ascii=False)
        feeding_back = {
            "BENCH_KEY": store,
            "BENCH_ACTOR": quote("店长王五"),
            "BENCH_MOVE": "store-feedback",
            "BENCH_BODY": body,
        }
        body = json.dumps({"store_id": lifecycle.STORE})
        dispatching = {
            "BENCH_KEY": handler,
            "BENCH_ACTOR": "handler-07",
            "BENCH_MOVE": "investigate",
            "BENCH_BODY": body,
        }
        plans: dict[str, tuple[str, dict[str, str], Callable[[], tuple[Pool | None, Pool | None]]]] = {
            "get": ("get.lua", reading, lambda: (None, None)),
            "list": ("list.lua", reading, lambda: (None, None)),
            "feedback": (
                "move.lua",
                feeding_back,
                lambda: (Pool(OUT / "feedback-tousu.txt", feedback), Pool(OUT / "feedback-bare.txt", feedback)),
            ),
            "investigate": ("move.lua", dispatching, investigate_pools),
        }
        with serving("bare-ops", BARE_APP, env) as bare_server:
            for key in keys:
                script, load, pools = plans[key]
                servers = (tousu_server, bare_server)
                side_by_side(pg, results, by_key[key], servers, database, script, (load, load), pools)


def benchmark(pg: URL, results: Results) -> None:
    parts = set(results.parts)
    if parts & {"register", "sizes", "lifecycles"}:
        main, env, intake = prepare(pg, DATABASE, results.statements)
        register_store(env)
        if "register" in parts:
            registration(pg, results, main, env, intake)

    compared = [key for part in ("reads", "list", "moves") if part in parts for key in PARTS[part]]
    if compared:
        reads_and_moves(pg, results, compared)

    if parts & {"sizes", "memory"}:
        large, large_env, large_intake = prepare(pg, LARGE_DATABASE, False)
        large_load = {"BENCH_KEY": large_intake, "BENCH_IDS": str(seed_to(large, READ_SIZES[1]))}

    # Reads: 1,000 complaints in the main database, 100,000 in the other, a server on each, taking turns.
    if "sizes" in parts:
        small_load = {"BENCH_KEY": intake, "BENCH_IDS": str(seed_to(main, READ_SIZES[0]))}
        with serving("tousu", TOUSU_APP, env) as server, serving("tousu-100k", TOUSU_APP, large_env) as large_server:
            small_label, large_label = (f"GET /v1/complaints/{{id}}, {n:,} complaints" for n in READ_SIZES)
            reads = interleaved(
                pg,
                [
                    Contender(small_label, server, DATABASE, "get.lua", small_load),
                    Contender(large_label, large_server, LARGE_DATABASE, "get.lua", large_load),
                ],
            )
            results.reads = dict(zip(READ_SIZES, reads, strict=True))

    # Lifecycles, on the main database.
    if "lifecycles" in parts:
        keys = lifecycle.Keys(
            intake=intake,
            handler=create_key(env, "handler", "bench handler"),
            store=create_key(env, "store", "bench store", "--store", lifecycle.STORE),
            supervisor=create_key(env, "supervisor", "bench supervisor"),
        )
        with serving("tousu", TOUSU_APP, env) as server:
            say(f"lifecycles: {WARMUP} s warm-up, {LIFECYCLE_DURATION} s measured, {CONNECTIONS} concurrent")
            results.lifecycles = lifecycle.run(
                server.url, keys, concurrency=CONNECTIONS, warmup=WARMUP, duration=LIFECYCLE_DURATION
            )
            say(f"lifecycles: {results.lifecycles['lifecycles_per_s']:.1f}/s")

    # Memory of a fresh server's workers after 1,000 and 100,000 requests, GETs and POSTs mixed, on the
    # database of 100,000 complaints.
    if "memory" in parts:
        with serving("tousu-memory", TOUSU_APP, large_env) as server:
            workers = server.workers()
            results.rss[0] = [rss_kib(pid) for pid in workers]
            done = 0
            started = time.monotonic()
            for mark in MEMORY_MARKS:
                say(f"memory: {mark - done:,} mixed requests ({GET_PERCENT}% GET) to reach {mark:,}")
                mixed = {**large_load, "BENCH_LIMIT": str(mark - done), "BENCH_GET_PERCENT": str(GET_PERCENT)}
                done += wrk(server, "mixed.lua", seconds=3600, env=mixed).requests
                results.rss[mark] = [rss_kib(pid) for pid in workers]
                results.answered[mark] = done
                rss = ", ".join(f"{k / 1024:.1f} MiB" for k in results.rss[mark])
                say(f"memory: after {done:,} requests, RSS {rss}")
            results.memory_rate = done / (time.monotonic() - started)


# The report


def mib(kib: int) -> str:
    return f"{kib / 1024:.1f}"


def latency(run: Run) -> str:
    return f"{run.rate:,.0f} req/s; p50 {run.p50_ms:.1f} ms, p99 {run.p99_ms:.1f} ms"


def cpu(run: Run) -> str:
    return f"{run.app_ms:.2f} ms app + {run.db_ms:.2f} ms PostgreSQL"


def waits(run: Run) -> str:
    return f"{run.lock_waits:.1f} / {run.idle_in_transaction:.1f}"


def verdict(ok: bool) -> str:
    return "**met**" if ok else "**not met**"


def per_request(run: Run) -> str:
    return "n/a" if run.statements_per_request is None else f"{run.statements_per_request:.1f}"


def markdown(rows: list[tuple[str, ...]]) -> str:
    return "\n".join("| " + " | ".join(row) + " |" for row in rows)


def met(results: Results, operation: Operation) -> bool:
    """Met at every connection count."""
    return all(
        tousu_run.rate / bare_run.rate >= operation.target
        for (key, _), (tousu_run, bare_run) in results.compared.items()
        if key == operation.key
    )


def comparison_table(results: Results) -> str:
    rows: list[tuple[str, ...]] = [
        (
            "Operation",
            "conn.",
            "tousu req/s",
            "bare req/s",
            "tousu/bare",
            "target",
            "met?",
            "p50 / p99 ms, tousu",
            "p50 / p99 ms, bare",
            "CPU ms/request, tousu: app + PG",
            "CPU ms/request, bare: app + PG",
            "statements/request, tousu / bare",
            "backends waiting for a lock / idle in transaction, tousu",
        ),
        ("---", "---:", "---:", "---:", "---:", "---:", "---", "---:", "---:", "---:", "---:", "---:", "---:"),
    ]
    for operation in results.operations:
        for connections in CONNECTION_COUNTS:
            tousu_run, bare_run = results.compared[(operation.key, connections)]
            ratio = tousu_run.rate / bare_run.rate
            rows.append(
                (
                    f"{operation.label}; bare: {operation.bare}",
                    str(connections),
                    f"{tousu_run.rate:,.0f}",
                    f"{bare_run.rate:,.0f}",
                    f"**{ratio:.2f}**",
                    f"≥ {operation.target}",
                    "met" if ratio >= operation.target else "**missed**",
                    f"{tousu_run.p50_ms:.1f} / {tousu_run.p99_ms:.1f}",
                    f"{bare_run.p50_ms:.1f} / {bare_run.p99_ms:.1f}",
                    f"{tousu_run.app_ms:.2f} + {tousu_run.db_ms:.2f}",
                    f"{bare_run.app_ms:.2f} + {bare_run.db_ms:.2f}",
                    f"{per_request(tousu_run)} / {per_request(bare_run)}",
                    waits(tousu_run),
                )
            )
    return markdown(rows)


def statements_table(results: Results, top: int = 5) -> str:
    """tousu's statements taking the most database time, per operation, over both connection counts."""
    rows: list[tuple[str, ...]] = [
        ("Operation", "statement (pg_stat_statements)", "calls/request", "ms/call", "share of the time"),
        ("---", "---", "---:", "---:", "---:"),
    ]
    for operation in results.operations:
        runs = [results.compared[(operation.key, n)][0] for n in CONNECTION_COUNTS]
        merged = Run.merge(runs)
        if merged.statements is None:
            continue
        total = sum(ms for _, ms in merged.statements.values()) or 1.0
        ranked = sorted(merged.statements.items(), key=lambda item: item[1][1], reverse=True)[:top]
        for text, (calls, ms) in ranked:
            shown = " ".join(text.split())
            shown = (shown[:160] + " …" if len(shown) > 160 else shown).replace("|", "\\|")
            rows.append(
                (
                    operation.key,
                    f"`{shown}`",
                    f"{calls / max(merged.requests, 1):.2f}",
                    f"{ms / max(calls, 1):.3f}",
                    f"{ms / total:.0%}",
                )
            )
    return markdown(rows)


def other_table(results: Results) -> str:
    rows: list[tuple[str, ...]] = [("Benchmark", "tousu", "Target", "Met"), ("---", "---", "---", "---")]
    if results.reads:
        small, large = results.reads[READ_SIZES[0]], results.reads[READ_SIZES[-1]]
        p50_ratio, p99_ratio = large.p50_ms / small.p50_ms, large.p99_ms / small.p99_ms
        cpu_ratio = (large.app_ms + large.db_ms) / (small.app_ms + small.db_ms)
        rows += [
            (f"`GET /v1/complaints/{{id}}`, {READ_SIZES[0]:,} complaints", latency(small), "", ""),
            (
                f"`GET /v1/complaints/{{id}}`, {READ_SIZES[-1]:,} complaints",
                latency(large),
                f"p50, p99 ≤ {READ_TARGET}× the {READ_SIZES[0]:,} figures: **{p50_ratio:.2f}×, {p99_ratio:.2f}×** "
                f"(CPU per read: {cpu_ratio:.2f}×)",
                verdict(p50_ratio <= READ_TARGET and p99_ratio <= READ_TARGET),
            ),
            (f"CPU per read, {READ_SIZES[0]:,} complaints", cpu(small), "", ""),
            (f"CPU per read, {READ_SIZES[-1]:,} complaints", cpu(large), "", ""),
        ]
    if results.lifecycles:
        life = results.lifecycles
        rows.append(
            (
                f"Full lifecycles ({lifecycle.STEPS} moves each), {CONNECTIONS} concurrent",
                f"{life['lifecycles_per_s']:.1f} lifecycles/s ({life['moves_per_s']:.0f} moves/s); one lifecycle "
                f"p50 {life['p50_ms']:.0f} ms, p99 {life['p99_ms']:.0f} ms",
                "",
                "",
            )
        )
    if results.rss:
        first, last = MEMORY_MARKS[0], MEMORY_MARKS[-1]
        for mark in (0, *MEMORY_MARKS):
            label = "at start" if mark == 0 else f"after {results.answered[mark]:,} requests"
            rows.append(
                (f"RSS of each worker, {label}", " / ".join(f"{mib(k)} MiB" for k in results.rss[mark]), "", "")
            )
        growth = [b - a for a, b in zip(results.rss[first], results.rss[last], strict=True)]
        rows.append(
            (
                f"RSS growth, {results.answered[first]:,} → {results.answered[last]:,} requests",
                " / ".join(f"{g / 1024:+.1f} MiB" for g in growth),
                "",
                "",
            )
        )
    return markdown(rows)


def report(results: Results, facts: dict[str, str], started: datetime, elapsed: float, load: list[float]) -> str:
    runs = [run for pair in results.compared.values() for run in pair] + list(results.reads.values())
    errors = sum(run.errors for run in runs)
    counts = " and ".join(str(n) for n in CONNECTION_COUNTS)
    whole = set(results.parts) == set(PARTS)
    lines = [
        f"## {started:%Y-%m-%d %H:%M %Z}: make bench" + ("" if whole else f" (only {', '.join(results.parts)})"),
        "",
        f"Run by `{'make bench' if whole else 'python -m bench.run --only ' + ','.join(results.parts)}` "
        f"({elapsed / 60:.1f} minutes). Method: bench/README.md.",
        "",
        "### Machine",
        "",
        f"- {facts['cores']} cores, {facts['cpu']}; Linux {facts['kernel']}",
        f"- PostgreSQL {facts['postgresql']} (local, 127.0.0.1:5432), Python {facts['python']}, {facts['wrk']}",
        "- load generator, servers and PostgreSQL share the machine; load average (1 min) "
        f"{load[0]:.2f} before the run, {load[1]:.2f} after it"
        + (" (other work was running: the figures are lower than on an idle machine)" if load[0] > 1 else ""),
        "",
        "### Settings",
        "",
        f"- servers: `uvicorn APP --workers {WORKERS} --no-access-log` (uvloop, httptools), the same for tousu "
        "(`app.main:create_app --factory`, with one `tousu worker` beside it) and the bare app (`bench.baseline:app`); "
        f"database pools of {POOL_SIZE} and {POOL_SIZE} more under load per engine (`TOUSU_DB_POOL_SIZE={POOL_SIZE}`; "
        "tousu has two engines per process, the bare app one)",
        f"- load: wrk, 1 thread; Lua scripts in bench/lua/. The two sides of a comparison run side by side and take "
        f"turns under load: {WARMUP} s warm-up each, then {ROUNDS} rounds of {ROUND_SECONDS} s each, A B A B ..., "
        f"their latency distributions merged; tousu against the bare app at {counts} connections, the rest at "
        f"{CONNECTIONS}",
        f"- lifecycles: {CONNECTIONS} concurrent asyncio tasks (httpx), {WARMUP} s warm-up then "
        f"{LIFECYCLE_DURATION} s measured",
        "- CPU per request: user + system time of the app's processes and of the database's backends during the "
        "measured runs, divided by the requests; statements per request: pg_stat_statements calls in the database "
        "during the measured runs (the bare app's: those on its tables), divided by the requests"
        + ("" if results.statements else " (not measured: pg_stat_statements was not loaded)"),
        f"- failed requests in the measured runs: {errors}",
    ]
    if results.memory_rate:
        lines.append(
            f"- memory: a fresh tousu server on the 100,000 complaints, {GET_PERCENT}% GETs of random ids and "
            f"{100 - GET_PERCENT}% registrations, {CONNECTIONS} connections; requests counted over both workers "
            f"({results.memory_rate:,.0f} req/s)"
        )
    lines.append("")
    if results.compared:
        lines += [
            "### tousu against a bare FastAPI app doing the same database work",
            "",
            comparison_table(results),
            "",
            "Backends waiting for a lock: blocked on a lock another transaction holds. Idle in transaction: a "
            "transaction is open while the app, not the database, has the turn (Python work between statements, "
            "thread hand-offs). Means of samples every 100 ms, of up to the connections.",
            "",
        ]
        if results.statements:
            lines += [
                "### Where tousu's database time goes (pg_stat_statements, top 5 per operation)",
                "",
                statements_table(results),
                "",
            ]
    if results.reads or results.lifecycles or results.rss:
        lines += ["### Reads by size, lifecycles, memory", "", other_table(results), ""]
    if results.compared:
        lines += ["### Targets", ""]
        for operation in results.operations:
            ratios = ", ".join(
                f"{results.compared[(operation.key, n)][0].rate / results.compared[(operation.key, n)][1].rate:.2f} "
                f"at {n}"
                for n in CONNECTION_COUNTS
            )
            lines.append(
                f"- {operation.label}: tousu/bare ≥ {operation.target} at {counts} connections ({ratios}): "
                f"{verdict(met(results, operation))}"
            )
        lines.append("")
    return "\n".join(lines)


def main() -> int:
    def terminate(signum: int, _frame: Any) -> None:
        raise SystemExit(128 + signum)

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--only",
        help=f"comma-separated parts to run, of {','.join(PARTS)} (all by default); the table is printed, "
        "bench/RESULTS.md is left alone",
    )
    args = parser.parse_args()
    parts = tuple(PARTS) if args.only is None else tuple(part.strip() for part in args.only.split(","))
    if unknown := [part for part in parts if part not in PARTS]:
        parser.error(f"unknown parts {unknown}: choose from {','.join(PARTS)}")
    signal.signal(signal.SIGTERM, terminate)
    signal.signal(signal.SIGHUP, terminate)
    if shutil.which("wrk") is None:
        say("wrk is not installed (apt-get install -y wrk; make bench does it)")
        return 2
    OUT.mkdir(exist_ok=True)
    pg = server_url()
    started = datetime.now().astimezone()
    clock = time.monotonic()
    results = Results(parts)
    load_before = os.getloadavg()[0]
    if load_before > 1:
        say(f"load average {load_before:.2f}: other work is running, the figures will suffer")
    try:
        facts = machine(pg)
        results.statements = statements_loaded(pg)
        check_connections(pg)
        benchmark(pg, results)
    finally:
        for server in list(RUNNING):
            server.stop()
        for name in (DATABASE, OPS_DATABASE, LARGE_DATABASE):
            try:
                drop_database(pg, name)
            except psycopg.Error as exc:
                say(f"could not drop database {name}: {exc}")
    text = report(results, facts, started, time.monotonic() - clock, [load_before, os.getloadavg()[0]])
    print(text)
    if set(parts) == set(PARTS):
        start_run(BENCH / "RESULTS.md", text)
        say("wrote bench/RESULTS.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
