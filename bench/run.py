"""``make bench``: tousu on PostgreSQL, measured with wrk against a bare FastAPI app; writes bench/RESULTS.md.

Run from the checkout's root with the virtual environment's Python: ``.venv/bin/python -m bench.run``. Progress goes
to standard error, the results table to standard output. Whatever happens, the servers are stopped and the
databases ``tousu_bench`` and ``tousu_bench_100k`` are dropped at the end. See bench/README.md.
"""

from __future__ import annotations

import contextlib
import getpass
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

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

DATABASE = "tousu_bench"  # registrations, 1,000 complaints, lifecycles
LARGE_DATABASE = "tousu_bench_100k"  # 100,000 complaints, memory
TOUSU_APP = ["app.main:create_app", "--factory"]
BARE_APP = ["bench.baseline:app"]
WORKERS = 2
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "16"))
ROUNDS = 4  # the sides of a comparison take turns: this many measured runs each
ROUND_SECONDS = int(os.environ.get("BENCH_ROUND_SECONDS", "4"))  # seconds of each measured run
WARMUP = int(os.environ.get("BENCH_WARMUP", "3"))  # seconds of load before measuring a side
LIFECYCLE_DURATION = int(os.environ.get("BENCH_LIFECYCLE_DURATION", "10"))
READ_SIZES = (1_000, 100_000)
MEMORY_MARKS = tuple(int(n) for n in os.environ.get("BENCH_MEMORY_MARKS", "1000,100000").split(","))
GET_PERCENT = 90  # of the memory run's requests; the rest register complaints
TIMEZONE = os.environ.get("TOUSU_TIMEZONE", "Asia/Shanghai")
READ_TARGET = 1.2  # the 100k read latencies within 1.2x the 1k ones
POST_TARGET = 0.5  # tousu/bare requests per second
MAX_ERROR_SHARE = 0.01  # a run with more failed requests than this is no measurement


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
    spent meanwhile, and how many backends waited for a lock or sat idle in a transaction (means of samples)."""

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

    @classmethod
    def merge(cls, runs: list[Run]) -> Run:
        seconds = sum(run.seconds for run in runs)
        return cls(
            requests=sum(run.requests for run in runs),
            seconds=seconds,
            quantiles=[(share * run.requests, us) for run in runs for share, us in run.quantiles],
            errors=sum(run.errors for run in runs),
            app_cpu_s=sum(run.app_cpu_s for run in runs),
            db_cpu_s=sum(run.db_cpu_s for run in runs),
            lock_waits=sum(run.lock_waits * run.seconds for run in runs) / seconds,
            idle_in_transaction=sum(run.idle_in_transaction * run.seconds for run in runs) / seconds,
        )


def quantiles(pairs: str) -> list[tuple[float, int]]:
    """wrk's "percentile:microseconds" pairs as (share, microseconds) points."""
    points, previous = [], 0.0
    for pair in filter(None, pairs.split(",")):
        percentile, us = pair.split(":")
        points.append(((float(percentile) - previous) / 100, int(us)))
        previous = float(percentile)
    return points


def wrk(server: Server, script: str, *, seconds: int, env: dict[str, str]) -> Run:
    """wrk with one thread. A script that stops early (mixed.lua) prints BENCH_STOPPED; wrk's main thread would
    sleep out the duration, so it is interrupted then (SIGINT: wrk reports and exits)."""
    command = ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{seconds}s", "--timeout", "10s", "-s", str(LUA / script)]
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
    if errors > MAX_ERROR_SHARE * max(run.requests, 1):
        raise RuntimeError(f"{script} against {server.name}: {errors} of {run.requests} requests failed: {figures}")
    return run


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


@dataclass(frozen=True)
class Contender:
    """One side of a comparison: a running server, its database, the wrk script and its environment."""

    label: str
    server: Server
    database: str
    script: str
    env: dict[str, str]

    def measure(self, pg: URL, seconds: int) -> Run:
        workers = self.server.app_pids()
        before = cpu_seconds(workers + backend_pids(pg, self.database))
        sampler = LockSampler(pg, self.database)
        sampler.start()
        try:
            run = wrk(self.server, self.script, seconds=seconds, env=self.env)
        finally:
            lock_waits, idle_in_transaction = sampler.finish()
        backends = backend_pids(pg, self.database)
        after = cpu_seconds(workers + backends)
        run.app_cpu_s = sum(after.get(pid, 0.0) - before.get(pid, 0.0) for pid in workers)
        run.db_cpu_s = sum(after.get(pid, 0.0) - before.get(pid, 0.0) for pid in backends)
        run.lock_waits, run.idle_in_transaction = lock_waits, idle_in_transaction
        return run


def interleaved(pg: URL, contenders: list[Contender]) -> list[Run]:
    """Each contender warmed up, then measured in ROUNDS short runs taking turns (A B A B ...), so that a change in
    the machine's other load during the comparison falls on every side alike; each side's runs are merged."""
    for contender in contenders:
        say(f"{contender.label}: {WARMUP} s warm-up")
        wrk(contender.server, contender.script, seconds=WARMUP, env=contender.env)
    runs: list[list[Run]] = [[] for _ in contenders]
    say(f"measuring {ROUNDS} rounds of {ROUND_SECONDS} s each, {CONNECTIONS} connections")
    for _ in range(ROUNDS):
        for contender, measured in zip(contenders, runs, strict=True):
            measured.append(contender.measure(pg, ROUND_SECONDS))
    merged = [Run.merge(measured) for measured in runs]
    for contender, run in zip(contenders, merged, strict=True):
        say(f"{contender.label}: {run.rate:,.0f} req/s, p50 {run.p50_ms:.1f} ms, p99 {run.p99_ms:.1f} ms")
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
    post_tousu: Run | None = None
    post_bare: Run | None = None
    reads: dict[int, Run] = field(default_factory=dict)
    lifecycles: dict[str, float] = field(default_factory=dict)
    rss: dict[int, list[int]] = field(default_factory=dict)  # mark -> KiB of each worker
    answered: dict[int, int] = field(default_factory=dict)  # mark -> requests answered (a few past it)
    memory_rate: float = 0.0


def prepare(pg: URL, name: str) -> tuple[URL, dict[str, str], str]:
    """A migrated database with an intake key named bench: its URL, the servers' environment and the key."""
    database = create_database(pg, name)
    env = {
        **os.environ,
        "TOUSU_DATABASE_URL": sqlalchemy_url(database),
        "BENCH_DATABASE_URL": sqlalchemy_url(database),
        "TOUSU_TIMEZONE": TIMEZONE,
    }
    tousu(env, "migrate")
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


def benchmark(pg: URL, results: Results) -> None:
    main, env, intake = prepare(pg, DATABASE)
    keys = lifecycle.Keys(
        intake=intake,
        handler=create_key(env, "handler", "bench handler"),
        store=create_key(env, "store", "bench store", "--store", lifecycle.STORE),
        supervisor=create_key(env, "supervisor", "bench supervisor"),
    )
    register_store(env)
    create_bare_table(main)
    large, large_env, large_intake = prepare(pg, LARGE_DATABASE)
    small_load = {"BENCH_KEY": intake}
    large_load = {"BENCH_KEY": large_intake}

    # 1. Registration: tousu and the bare app (its own table in the same database), taking turns.
    with serving("tousu", TOUSU_APP, env) as tousu_server, serving("bare", BARE_APP, env) as bare_server:
        results.post_tousu, results.post_bare = interleaved(
            pg,
            [
                Contender("POST /v1/complaints, tousu", tousu_server, DATABASE, "post.lua", small_load),
                Contender("POST /v1/complaints, bare FastAPI", bare_server, DATABASE, "post.lua", small_load),
            ],
        )

    # 2. Reads: 1,000 complaints in the main database, 100,000 in the other, a server on each, taking turns.
    small_load["BENCH_IDS"] = str(seed_to(main, READ_SIZES[0]))
    large_load["BENCH_IDS"] = str(seed_to(large, READ_SIZES[1]))
    with serving("tousu", TOUSU_APP, env) as server:
        with serving("tousu-100k", TOUSU_APP, large_env) as large_server:
            small_label, large_label = (f"GET /v1/complaints/{{id}}, {n:,} complaints" for n in READ_SIZES)
            reads = interleaved(
                pg,
                [
                    Contender(small_label, server, DATABASE, "get.lua", small_load),
                    Contender(large_label, large_server, LARGE_DATABASE, "get.lua", large_load),
                ],
            )
            results.reads = dict(zip(READ_SIZES, reads, strict=True))

        # 3. Lifecycles, on the main database.
        say(f"lifecycles: {WARMUP} s warm-up, {LIFECYCLE_DURATION} s measured, {CONNECTIONS} concurrent")
        results.lifecycles = lifecycle.run(
            server.url, keys, concurrency=CONNECTIONS, warmup=WARMUP, duration=LIFECYCLE_DURATION
        )
        say(f"lifecycles: {results.lifecycles['lifecycles_per_s']:.1f}/s")

    # 4. Memory of a fresh server's workers after 1,000 and 100,000 requests, GETs and POSTs mixed, on the
    # database of 100,000 complaints.
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
            say(f"memory: after {done:,} requests, RSS {', '.join(f'{k / 1024:.1f} MiB' for k in results.rss[mark])}")
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


def table(results: Results) -> tuple[str, dict[str, bool]]:
    post, bare = results.post_tousu, results.post_bare
    assert post is not None and bare is not None
    small, large = results.reads[READ_SIZES[0]], results.reads[READ_SIZES[-1]]
    post_ratio = post.rate / bare.rate
    p50_ratio, p99_ratio = large.p50_ms / small.p50_ms, large.p99_ms / small.p99_ms
    cpu_ratio = (large.app_ms + large.db_ms) / (small.app_ms + small.db_ms)
    met = {"post": post_ratio >= POST_TARGET, "read": p50_ratio <= READ_TARGET and p99_ratio <= READ_TARGET}
    life = results.lifecycles
    first, last = MEMORY_MARKS[0], MEMORY_MARKS[-1]
    growth = [b - a for a, b in zip(results.rss[first], results.rss[last], strict=True)]
    rows = [
        ("Benchmark", "tousu", "bare FastAPI", "Target", "Met"),
        ("---", "---", "---", "---", "---"),
        (
            "1. `POST /v1/complaints`",
            latency(post),
            latency(bare),
            f"tousu/bare ≥ {POST_TARGET}: **{post_ratio:.2f}**",
            verdict(met["post"]),
        ),
        ("1. CPU per registration", cpu(post), cpu(bare), "", ""),
        (
            f"1. PostgreSQL backends (of up to {CONNECTIONS}) waiting for a lock / idle in transaction, mean",
            waits(post),
            waits(bare),
            "",
            "",
        ),
        (f"2. `GET /v1/complaints/{{id}}`, {READ_SIZES[0]:,} complaints", latency(small), "", "", ""),
        (
            f"2. `GET /v1/complaints/{{id}}`, {READ_SIZES[-1]:,} complaints",
            latency(large),
            "",
            f"p50, p99 ≤ {READ_TARGET}× the {READ_SIZES[0]:,} figures: **{p50_ratio:.2f}×, {p99_ratio:.2f}×** "
            f"(CPU per read: {cpu_ratio:.2f}×)",
            verdict(met["read"]),
        ),
        (f"2. CPU per read, {READ_SIZES[0]:,} complaints", cpu(small), "", "", ""),
        (f"2. CPU per read, {READ_SIZES[-1]:,} complaints", cpu(large), "", "", ""),
        (
            "3. Full lifecycles (6 moves each)",
            f"{life['lifecycles_per_s']:.1f} lifecycles/s ({life['moves_per_s']:.0f} moves/s); one lifecycle "
            f"p50 {life['p50_ms']:.0f} ms, p99 {life['p99_ms']:.0f} ms",
            "",
            "",
            "",
        ),
    ]
    for mark in (0, *MEMORY_MARKS):
        label = "at start" if mark == 0 else f"after {results.answered[mark]:,} requests"
        rows.append(
            (f"4. RSS of each worker, {label}", " / ".join(f"{mib(k)} MiB" for k in results.rss[mark]), "", "", "")
        )
    rows.append(
        (
            f"4. RSS growth, {results.answered[first]:,} → {results.answered[last]:,} requests",
            " / ".join(f"{g / 1024:+.1f} MiB" for g in growth),
            "",
            "",
            "",
        )
    )
    return "\n".join("| " + " | ".join(row) + " |" for row in rows), met


def report(results: Results, facts: dict[str, str], started: datetime, elapsed: float, load: list[float]) -> str:
    body, met = table(results)
    post, bare = results.post_tousu, results.post_bare
    assert post is not None and bare is not None
    errors = sum(run.errors for run in (post, bare, *results.reads.values()))
    lines = [
        f"## {started:%Y-%m-%d %H:%M %Z}: make bench",
        "",
        f"Run by `make bench` ({elapsed / 60:.1f} minutes). Method: bench/README.md.",
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
        "(`app.main:create_app --factory`) and the bare app (`bench.baseline:app`)",
        f"- load: wrk, 1 thread, {CONNECTIONS} connections; Lua scripts in bench/lua/. The two sides of a comparison "
        f"(tousu and the bare app; 1,000 and 100,000 complaints) run side by side and take turns under load: "
        f"{WARMUP} s warm-up each, then {ROUNDS} rounds of {ROUND_SECONDS} s each, A B A B ..., their latency "
        "distributions merged",
        f"- lifecycles: {CONNECTIONS} concurrent asyncio tasks (httpx), {WARMUP} s warm-up then "
        f"{LIFECYCLE_DURATION} s measured",
        f"- memory: a fresh tousu server on the 100,000 complaints, {GET_PERCENT}% GETs of random ids and "
        f"{100 - GET_PERCENT}% registrations, {CONNECTIONS} connections; requests counted over both workers "
        f"({results.memory_rate:,.0f} req/s)",
        "- CPU per request: user + system time of the two workers and of the database's backends during the "
        "measured run, divided by the requests",
        f"- failed requests in the measured runs: {errors}",
        "",
        "### Results",
        "",
        body,
        "",
        "Waiting for a lock: backends blocked on a lock another transaction holds (tousu's registrations share no "
        "row since complaint numbers come from a sequence per day, migration 0007). Idle in transaction: a "
        "transaction is open while the app, not the database, has the turn "
        "(Python work between statements, thread hand-offs). CPU per request counts the workers' and the "
        "database backends' time only, not wrk's or the machine's other work.",
        "",
        "### Targets",
        "",
        f"- registration throughput at least {POST_TARGET} of the bare app's: {verdict(met['post'])}",
        f"- reads at {READ_SIZES[-1]:,} complaints within {READ_TARGET}× of the latency at {READ_SIZES[0]:,} "
        f"(p50 and p99): {verdict(met['read'])}",
        "",
    ]
    return "\n".join(lines)


def main() -> int:
    def terminate(signum: int, _frame: Any) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, terminate)
    signal.signal(signal.SIGHUP, terminate)
    if shutil.which("wrk") is None:
        say("wrk is not installed (apt-get install -y wrk; make bench does it)")
        return 2
    OUT.mkdir(exist_ok=True)
    pg = server_url()
    started = datetime.now().astimezone()
    clock = time.monotonic()
    results = Results()
    load_before = os.getloadavg()[0]
    if load_before > 1:
        say(f"load average {load_before:.2f}: other work is running, the figures will suffer")
    try:
        facts = machine(pg)
        benchmark(pg, results)
    finally:
        for server in list(RUNNING):
            server.stop()
        for name in (DATABASE, LARGE_DATABASE):
            try:
                drop_database(pg, name)
            except psycopg.Error as exc:
                say(f"could not drop database {name}: {exc}")
    text = report(results, facts, started, time.monotonic() - clock, [load_before, os.getloadavg()[0]])
    start_run(BENCH / "RESULTS.md", text)
    print(text)
    say("wrote bench/RESULTS.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
