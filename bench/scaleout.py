"""The scale-out run: two ``tousu serve`` processes and two ``tousu worker`` processes on one PostgreSQL database
under a mixed load for a bounded time, then checked.

Run with ``python -m bench.scaleout`` (``make bench`` runs it last, ``--append bench/RESULTS.md``). It makes and
drops its own database ``tousu_bench_scaleout``. The two API processes run as two hosts would (ports of their own,
no sweeping or dispatching inside them); each worker sweeps every second, delivers webhooks and keeps house. The
load (asyncio tasks sharing two httpx clients, each request sent to either API process at random):

- lifecycles: register, investigate, store-feedback, propose, approve, fulfil, revisit, with reads between; some
  complaints are registered as received days ago, so that their written-reply clock warns, or is due while the
  lifecycle runs (a sweep and a move race for its breach);
- registrations left open, received days ago at a steady rate, so that their clocks warn and breach during the run;
- reads: a complaint by id, and a page of the queue.

A receiver (a process of its own, subscribed to every event) writes each delivery with its ``webhook-id``, time and
body to a file. After the load stops the workers drain the work; then the run fails (exit 1) unless:

- no clock warned or breached twice (its events in ``sla_clock_events``, the history and the webhooks);
- every history entry arrived as a webhook, and per complaint in the order of its history;
- every acknowledged registration is in the database, and every acknowledged move's version is in its complaint's
  history (the complaint's version at least that);
- less than 1 % of the requests failed, and each API process answered at least a third of them.

Throughput is shown per process with the CPU each process spent (from /proc), beside the machine's.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import psycopg
from sqlalchemy.engine import URL

from app.webhooks.events import TYPE_OF_MOVE
from bench import lifecycle
from bench.results import add_to_latest_run
from bench.run import (
    BIN,
    OUT,
    ROOT,
    create_database,
    create_key,
    drop_database,
    free_port,
    libpq,
    register_store,
    server_url,
    sqlalchemy_url,
    tousu,
)

DATABASE = "tousu_bench_scaleout"
SECONDS = int(os.environ.get("BENCH_SCALEOUT_SECONDS", "60"))
CONNECTIONS = int(os.environ.get("BENCH_SCALEOUT_CONNECTIONS", "32"))
API_WORKERS = int(os.environ.get("BENCH_SCALEOUT_API_WORKERS", "1"))
CLOCKED_PER_SECOND = float(os.environ.get("BENCH_SCALEOUT_CLOCKED_PER_S", "10"))
# Through PgBouncer in transaction mode (TOUSU_DATABASE_POOLER=pgbouncer), with this many server connections.
PGBOUNCER = os.environ.get("BENCH_SCALEOUT_PGBOUNCER", "") not in ("", "0")
PGBOUNCER_SERVER_CONNECTIONS = 20
# Each process may open twice its pool (pool and overflow), an API process as many again for its single statements:
# with 4, the four processes stay under some 50 connections, room beside others' on a server of 100. Through
# PgBouncer a client connection costs PostgreSQL nothing: the default pool.
POOL_SIZE = os.environ.get("BENCH_SCALEOUT_POOL_SIZE", "10" if PGBOUNCER else "4")
DRAIN_SECONDS = 600  # at most, after the load, for the workers to sweep and deliver the rest
MAX_FAILED_SHARE = 0.01
MIN_PROCESS_SHARE = 1 / 3
READERS_SHARE = 1 / 4  # of the connections; the others run lifecycles
WORKER_ENV = {
    "TOUSU_SWEEP_INTERVAL": "1",
    "TOUSU_DISPATCH_INTERVAL": "0.5",
    "TOUSU_HOUSEKEEPING_INTERVAL": "10",
}
# Written-reply clocks (normal priority: due 7 days after receipt, warning after 5) count from received_at.
WARN = timedelta(days=5)
DUE = timedelta(days=7)


def say(message: str) -> None:
    print(f"[scaleout {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# The receiver (a process of its own)


def receive(port_file: Path, deliveries: Path) -> None:
    lock = threading.Lock()
    out = deliveries.open("a", encoding="utf-8")
    count = [0]

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            line = json.dumps({"webhook_id": self.headers["webhook-id"], "at": time.time(), "body": body.decode()})
            with lock:
                out.write(line + "\n")
                out.flush()
                count[0] += 1
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_GET(self) -> None:
            body = str(count[0]).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    port_file.write_text(str(server.server_address[1]))
    server.serve_forever()


# Processes


@dataclass
class Process:
    """A process in a session of its own (its process group: a ``tousu serve`` and its workers)."""

    name: str
    command: list[str]
    env: dict[str, str]
    url: str | None = None
    popen: subprocess.Popen[bytes] | None = None

    @property
    def log_path(self) -> Path:
        return OUT / f"scaleout-{self.name}.log"

    def start(self) -> None:
        with self.log_path.open("wb") as log:
            self.popen = subprocess.Popen(
                self.command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )

    def wait_ready(self) -> None:
        assert self.popen is not None
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.popen.returncode}:\n{self.log_tail()}")
            if self.url is None:
                return
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} did not start within 90 s:\n{self.log_tail()}")

    def pids(self) -> list[int]:
        assert self.popen is not None
        return [pid for pid, pgid in process_groups() if pgid == self.popen.pid]

    def stop(self) -> None:
        if self.popen is None:
            return
        group = self.popen.pid
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group, signal.SIGTERM)
        try:
            self.popen.wait(timeout=30)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(group, signal.SIGKILL)
            self.popen.wait()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group, signal.SIGKILL)  # a worker left behind by its supervisor
        self.popen = None

    def log_tail(self) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-30:])


def pgbouncer(folder: Path, database: URL) -> tuple[Process, URL]:
    """PgBouncer (Debian's) in transaction mode in front of ``database``, and the URL that reaches it through it."""
    port = free_port()
    (folder / "pgbouncer.ini").write_text(
        f"[databases]\ntousu = host={database.host} port={database.port or 5432} dbname={database.database} "
        f"user={database.username}\n[pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = {port}\n"
        "unix_socket_dir =\nauth_type = any\npool_mode = transaction\n"
        f"default_pool_size = {PGBOUNCER_SERVER_CONNECTIONS}\nmax_client_conn = 1000\n"
    )
    binary = shutil.which("pgbouncer") or shutil.which("pgbouncer", path="/usr/sbin")
    if binary is None:
        raise RuntimeError("BENCH_SCALEOUT_PGBOUNCER: pgbouncer is not installed (apt-get install pgbouncer)")
    command = [binary, *(["-u", "nobody"] if os.geteuid() == 0 else []), str(folder / "pgbouncer.ini")]
    process = Process("pgbouncer", command, dict(os.environ))
    process.start()
    pooled = database.set(host="127.0.0.1", port=port, database="tousu")
    deadline = time.monotonic() + 10
    while True:
        try:
            psycopg.connect(libpq(pooled), connect_timeout=2).close()
            return process, pooled
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"PgBouncer did not start:\n{process.log_tail()}") from None
            time.sleep(0.1)


def process_groups() -> Iterator[tuple[int, int]]:
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                stat = (entry / "stat").read_text()
                yield int(entry.name), int(stat[stat.rindex(")") + 2 :].split()[2])


def cpu_of(pids: list[int]) -> float:
    """User + system CPU seconds of these processes (those still alive)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        with contextlib.suppress(OSError):
            stat = Path(f"/proc/{pid}/stat").read_text()
            fields = stat[stat.rindex(")") + 2 :].split()
            total += (int(fields[11]) + int(fields[12])) / ticks
    return total


class Backends(threading.Thread):
    """The CPU the database's backends spend: their pids and CPU read every 0.2 s, since a backend of a pool's
    overflow lives for a few requests only; each one's last reading counts (less what it had at the start)."""

    def __init__(self, monitor: psycopg.Connection) -> None:
        super().__init__(daemon=True)
        self.monitor = monitor
        self.stop = threading.Event()
        self.first = self.sample()
        self.last = dict(self.first)

    def sample(self) -> dict[int, float]:
        query = "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()"
        return {pid: cpu_of([pid]) for (pid,) in self.monitor.execute(query, (DATABASE,))}

    def run(self) -> None:
        while not self.stop.wait(0.2):
            self.last.update({pid: cpu for pid, cpu in self.sample().items() if cpu > 0})

    def finish(self) -> float:
        self.stop.set()
        self.join()
        self.last.update(self.sample())
        return sum(self.last.values()) - sum(self.first.values())


def machine_ticks() -> tuple[int, int]:
    """(busy, all) jiffies of every core since boot, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle, iowait
    return sum(values) - idle, sum(values)


# The load


@dataclass
class Tally:
    until: float
    by_process: Counter[str] = field(default_factory=Counter)
    by_kind: Counter[str] = field(default_factory=Counter)
    failed: Counter[str] = field(default_factory=Counter)  # "kind status"
    registered: dict[str, str] = field(default_factory=dict)  # acknowledged: id -> number
    moved: list[tuple[str, str, int]] = field(default_factory=list)  # acknowledged: (id, move, version)
    ids: list[str] = field(default_factory=list)  # for the readers
    serial: int = 0

    def next_customer(self) -> int:
        self.serial += 1
        return self.serial


class Load:
    def __init__(self, urls: list[str], keys: lifecycle.Keys, tally: Tally) -> None:
        limits = httpx.Limits(max_connections=CONNECTIONS, max_keepalive_connections=CONNECTIONS)
        self.clients = {url: httpx.AsyncClient(base_url=url, limits=limits, timeout=60) for url in urls}
        self.keys = keys
        self.tally = tally

    async def close(self) -> None:
        for client in self.clients.values():
            await client.aclose()

    def headers(self, key: str, actor: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {key}", "X-Actor": quote(actor)}

    async def send(self, kind: str, method: str, path: str, key: str, actor: str, body: Any = None) -> Any:
        """The answer's JSON when it is a 2xx, else None (counted as failed)."""
        url = random.choice(list(self.clients))
        try:
            response = await self.clients[url].request(method, path, json=body, headers=self.headers(key, actor))
        except httpx.HTTPError as error:
            self.tally.failed[f"{kind} {type(error).__name__}"] += 1
            return None
        self.tally.by_process[url] += 1
        self.tally.by_kind[kind] += 1
        if not 200 <= response.status_code < 300:
            self.tally.failed[f"{kind} {response.status_code}"] += 1
            return None
        return response.json()

    async def register(self, received_at: datetime | None) -> dict[str, Any] | None:
        body = lifecycle.complaint_body(self.tally.next_customer())
        if received_at is not None:
            body["received_at"] = received_at.isoformat()
        complaint = await self.send("register", "POST", "/v1/complaints", self.keys.intake, "agent-0042", body)
        if complaint is not None:
            self.tally.registered[complaint["id"]] = complaint["number"]
            self.tally.ids.append(complaint["id"])
        return complaint

    async def move(self, complaint_id: str, move: str, key: str, actor: str, body: Any) -> bool:
        answer = await self.send(move, "POST", f"/v1/complaints/{complaint_id}/{move}", key, actor, body)
        if answer is not None:
            self.tally.moved.append((complaint_id, move, answer["version"]))
        return answer is not None

    async def read(self, complaint_id: str) -> None:
        await self.send("read", "GET", f"/v1/complaints/{complaint_id}", self.keys.handler, "handler-07")

    async def one_lifecycle(self) -> None:
        now = datetime.now(UTC)
        received_at = random.choice(
            [
                None,
                None,
                now - WARN + timedelta(seconds=random.uniform(0, 3)),  # warns while the lifecycle runs
                now - DUE + timedelta(seconds=random.uniform(0, 3)),  # due while it runs: sweep and move race
                now - DUE - timedelta(hours=1),  # overdue from the start
            ]
        )
        complaint = await self.register(received_at)
        if complaint is None:
            return
        i, keys = complaint["id"], self.keys
        steps = [
            ("investigate", keys.handler, "handler-07", {"store_id": lifecycle.STORE}),
            ("store-feedback", keys.store, "店长王五", lifecycle.FEEDBACK),
            ("propose", keys.handler, "handler-07", lifecycle.REFUND),
            ("approve", keys.supervisor, "supervisor-03", lifecycle.APPROVAL),
            ("fulfil", keys.handler, "handler-07", lifecycle.PAID),
            ("revisit", keys.handler, "handler-07", lifecycle.REVISIT),
        ]
        for move, key, actor, body in steps:
            if time.monotonic() >= self.tally.until:
                return
            await self.read(i)
            if not await self.move(i, move, key, actor, body):
                return

    async def lifecycles(self) -> None:
        while time.monotonic() < self.tally.until:
            await self.one_lifecycle()

    async def reader(self) -> None:
        while time.monotonic() < self.tally.until:
            if not self.tally.ids or random.random() < 0.3:
                await self.send("queue", "GET", "/v1/complaints?limit=50", self.keys.handler, "handler-07")
            else:
                await self.read(random.choice(self.tally.ids))

    async def clocked(self) -> None:
        """Registrations left open, received days ago, whose clocks warn or breach within the run."""
        tasks = set()
        while (left := self.tally.until - time.monotonic()) > 0:
            later = timedelta(seconds=random.uniform(0, left))
            received_at = datetime.now(UTC) - random.choice([WARN, DUE]) + later
            task = asyncio.create_task(self.register(received_at))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            await asyncio.sleep(1 / CLOCKED_PER_SECOND)
        await asyncio.gather(*tasks)


async def load(urls: list[str], keys: lifecycle.Keys, seconds: float) -> Tally:
    tally = Tally(until=time.monotonic() + seconds)
    generator = Load(urls, keys, tally)
    readers = max(1, round(CONNECTIONS * READERS_SHARE))
    try:
        await asyncio.gather(
            generator.clocked(),
            *(generator.reader() for _ in range(readers)),
            *(generator.lifecycles() for _ in range(CONNECTIONS - readers)),
        )
    finally:
        await generator.close()
    return tally


# The run


@dataclass
class Figures:
    seconds: float = 0.0
    tally: Tally | None = None
    names: dict[str, str] = field(default_factory=dict)  # url -> process name
    cpu: dict[str, float] = field(default_factory=dict)  # process name -> CPU seconds during the load
    machine_busy: float = 0.0  # share of all cores' time busy during the load
    swept: dict[str, Counter[str]] = field(default_factory=dict)  # worker -> warned, breached (from its log)
    drained_s: float = 0.0
    checks: list[tuple[str, bool, str]] = field(default_factory=list)


def swept_by(worker: Process) -> Counter[str]:
    """The warnings and breaches a worker's sweeps fired, from its log (JSON lines)."""
    swept: Counter[str] = Counter()
    for line in worker.log_path.read_text(errors="replace").splitlines():
        with contextlib.suppress(ValueError):
            record = json.loads(line)
            if record.get("message") == "swept":
                swept["warned"] += record.get("warned", 0)
                swept["breached"] += record.get("breached", 0)
    return swept


def drain(database: str, receiver_url: str) -> float:
    """Waits until nothing is due: no clock to sweep, no history entry to fan out, no delivery pending, and every
    delivery arrived; returns how long it took."""
    started = time.monotonic()
    query = """
        SELECT (SELECT count(*) FROM sla_clocks WHERE next_check_at <= now())
             + (SELECT count(*) FROM complaint_events WHERE fanned_out_at IS NULL)
             + (SELECT count(*) FROM webhook_deliveries WHERE status <> 'delivered'),
               (SELECT count(*) FROM webhook_deliveries)
    """
    with psycopg.connect(database, autocommit=True) as connection:
        while True:
            waiting, deliveries = connection.execute(query).fetchone()  # type: ignore[misc]
            arrived = int(httpx.get(receiver_url, timeout=10).text)
            if not waiting and arrived >= deliveries:
                return time.monotonic() - started
            if time.monotonic() - started > DRAIN_SECONDS:
                raise RuntimeError(f"not drained in {DRAIN_SECONDS} s: {waiting} waiting, {arrived}/{deliveries}")
            time.sleep(1)


def check_clocks(connection: psycopg.Connection, webhooks: list[dict[str, Any]], figures: Figures) -> None:
    twice = connection.execute(
        "SELECT count(*) FROM (SELECT clock_id, kind FROM sla_clock_events WHERE kind IN ('warned', 'breached') "
        "GROUP BY clock_id, kind HAVING count(*) > 1) AS t"
    ).fetchone()[0]  # type: ignore[index]
    history_twice = connection.execute(
        "SELECT count(*) FROM (SELECT payload->>'clock_id', move FROM complaint_events "
        "WHERE move IN ('sla.warning', 'sla.breached') GROUP BY 1, 2 HAVING count(*) > 1) AS t"
    ).fetchone()[0]  # type: ignore[index]
    warned, breached = connection.execute(
        "SELECT count(*) FILTER (WHERE kind = 'warned'), count(*) FILTER (WHERE kind = 'breached') "
        "FROM sla_clock_events"
    ).fetchone()  # type: ignore[misc]
    hooked = Counter(
        (body["type"], body["data"]["detail"]["clock_id"])
        for body in webhooks
        if body["type"] in ("sla.warning", "sla.breached")
    )
    hooked_twice = sum(1 for n in hooked.values() if n > 1)
    ok = twice == history_twice == hooked_twice == 0 and warned > 0 and breached > 0
    figures.checks.append(
        (
            "no clock warns or breaches twice",
            ok,
            f"{warned:,} warnings and {breached:,} breaches; clocks warned or breached twice: {twice} in "
            f"sla_clock_events, {history_twice} in the history, {hooked_twice} in the webhooks",
        )
    )


def check_webhooks(connection: psycopg.Connection, received: list[dict[str, Any]], figures: Figures) -> None:
    first: dict[str, dict[str, Any]] = {}
    for delivery in received:
        first.setdefault(delivery["webhook_id"], delivery)
    duplicates = len(received) - len(first)
    arrived: dict[str, list[int]] = defaultdict(list)
    for delivery in sorted(first.values(), key=lambda d: d["at"]):
        body = json.loads(delivery["body"])
        arrived[body["data"]["complaint"]["id"]].append(body["data"]["event_id"])
    history: dict[str, list[int]] = defaultdict(list)
    for complaint_id, event_id, move in connection.execute(
        "SELECT complaint_id::text, id, move FROM complaint_events ORDER BY id"
    ):
        if move in TYPE_OF_MOVE:
            history[complaint_id].append(event_id)
    out_of_order = sum(1 for ids in arrived.values() if ids != sorted(ids))
    missing = sum(len(set(ids) - set(arrived.get(c, []))) for c, ids in history.items())
    extra = sum(len(set(ids) - set(history.get(c, []))) for c, ids in arrived.items())
    undelivered = connection.execute("SELECT count(*) FROM webhook_deliveries WHERE status <> 'delivered'").fetchone()
    assert undelivered is not None
    ok = out_of_order == missing == extra == undelivered[0] == 0
    figures.checks.append(
        (
            "every webhook delivered, in order per complaint",
            ok,
            f"{len(first):,} deliveries for {len(history):,} complaints ({duplicates} delivered again); complaints "
            f"out of order: {out_of_order}; history entries not delivered: {missing}; not in the history: {extra}; "
            f"deliveries not delivered: {undelivered[0]}",
        )
    )


def check_writes(connection: psycopg.Connection, tally: Tally, figures: Figures) -> None:
    numbers = dict(connection.execute("SELECT id::text, number FROM complaints").fetchall())
    lost_registrations = sum(1 for i, n in tally.registered.items() if numbers.get(i) != n)
    versions = {
        (complaint_id, version)
        for complaint_id, version in connection.execute(
            "SELECT complaint_id::text, (snapshot->>'version')::int FROM complaint_events WHERE snapshot IS NOT NULL"
        )
    }
    current = dict(connection.execute("SELECT id::text, version FROM complaints").fetchall())
    lost_moves = sum(1 for i, _, version in tally.moved if (i, version) not in versions or current.get(i, 0) < version)
    figures.checks.append(
        (
            "no acknowledged write lost",
            lost_registrations == lost_moves == 0,
            f"{len(tally.registered):,} registrations and {len(tally.moved):,} moves acknowledged; missing: "
            f"{lost_registrations} registrations, {lost_moves} moves",
        )
    )


def check_load(tally: Tally, figures: Figures) -> None:
    answered = sum(tally.by_process.values())
    failed = sum(tally.failed.values())
    shares = [n / max(answered, 1) for n in tally.by_process.values()]
    ok = failed <= MAX_FAILED_SHARE * answered and len(shares) == 2 and min(shares) >= MIN_PROCESS_SHARE
    what = ", ".join(f"{k}: {n}" for k, n in tally.failed.most_common()) or "none"
    figures.checks.append(
        (
            "the load spread over both API processes, with few failures",
            ok,
            f"{answered:,} answered, shares {' / '.join(f'{s:.0%}' for s in shares)}; failed: {what}",
        )
    )


def run(pg: Any) -> Figures:
    figures = Figures()
    database = create_database(pg, DATABASE)
    env = {
        **os.environ,
        "TOUSU_DATABASE_URL": sqlalchemy_url(database),
        "TOUSU_TIMEZONE": os.environ.get("TOUSU_TIMEZONE", "Asia/Shanghai"),
        "TOUSU_SWEEP_IN_SERVE": "false",
        "TOUSU_DISPATCH_IN_SERVE": "false",
        "TOUSU_WEBHOOK_ALLOW_PRIVATE": "1",
        "TOUSU_LOG_FORMAT": "json",
        "TOUSU_DB_POOL_SIZE": POOL_SIZE,
        **WORKER_ENV,
    }
    processes: list[Process] = []
    receiver: subprocess.Popen[bytes] | None = None
    try:
        tousu(env, "migrate")
        keys = lifecycle.Keys(
            intake=create_key(env, "intake", "scaleout intake"),
            handler=create_key(env, "handler", "scaleout handler"),
            store=create_key(env, "store", "scaleout store", "--store", lifecycle.STORE),
            supervisor=create_key(env, "supervisor", "scaleout supervisor"),
        )
        admin = create_key(env, "admin", "scaleout admin")
        register_store(env)

        folder = Path(tempfile.mkdtemp())
        if PGBOUNCER:
            bouncer, pooled = pgbouncer(folder, database)
            processes.append(bouncer)
            env |= {
                "TOUSU_DATABASE_URL": sqlalchemy_url(pooled),
                "TOUSU_DATABASE_POOLER": "pgbouncer",
                "TOUSU_DATABASE_DIRECT_URL": sqlalchemy_url(database),
            }
        deliveries = OUT / "scaleout-webhooks.jsonl"
        deliveries.unlink(missing_ok=True)
        command = [sys.executable, "-m", "bench.scaleout", "--receive", str(folder / "port"), str(deliveries)]
        receiver = subprocess.Popen(command, cwd=ROOT)
        while not (folder / "port").exists() or not (folder / "port").read_text():
            time.sleep(0.05)
        receiver_url = f"http://127.0.0.1:{(folder / 'port').read_text()}/hooks"

        for n in (1, 2):
            port = free_port()
            serve = [str(BIN / "tousu"), "serve", "--port", str(port), "--workers", str(API_WORKERS)]
            processes.append(Process(f"api-{n}", serve, env, url=f"http://127.0.0.1:{port}"))
        for n in (1, 2):
            processes.append(Process(f"worker-{n}", [str(BIN / "tousu"), "worker"], env))
        for process in processes:
            if process.popen is None:
                process.start()
        for process in processes:
            process.wait_ready()
        apis = [p for p in processes if p.url is not None]
        workers = [p for p in processes if p.name.startswith("worker")]
        figures.names = {p.url: p.name for p in apis if p.url is not None}
        say(f"{', '.join(p.name for p in processes)} started; receiver at {receiver_url}")
        subscribed = httpx.post(
            f"{apis[0].url}/v1/webhook-endpoints",
            json={"url": receiver_url, "description": "scale-out run"},
            headers={"Authorization": f"Bearer {admin}", "X-Actor": "admin"},
            timeout=30,
        )
        subscribed.raise_for_status()

        # One connection held for the run's own queries: the server may have no room left for a new one later.
        monitor = psycopg.connect(libpq(pg), autocommit=True)
        own = {p.name: p.pids() for p in processes}
        own["receiver"] = [receiver.pid]
        own["load generator"] = [os.getpid()]
        before = {name: cpu_of(pids) for name, pids in own.items()}
        backends = Backends(monitor)
        backends.start()
        busy_before, all_before = machine_ticks()
        say(f"load: {SECONDS} s, {CONNECTIONS} connections over {len(apis)} API processes")
        started = time.monotonic()
        tally = asyncio.run(load([p.url for p in apis if p.url is not None], keys, SECONDS))
        figures.seconds = time.monotonic() - started
        busy_after, all_after = machine_ticks()
        after = {name: cpu_of(pids) for name, pids in own.items()}
        figures.cpu = {name: after[name] - before[name] for name in after} | {"PostgreSQL": backends.finish()}
        monitor.close()
        figures.machine_busy = (busy_after - busy_before) / max(all_after - all_before, 1)
        figures.tally = tally
        say(f"load done: {sum(tally.by_process.values()):,} requests; draining")

        figures.drained_s = drain(libpq(database), receiver_url)
        say(f"drained in {figures.drained_s:.0f} s")
        for process in reversed(processes):  # PgBouncer last
            process.stop()
        figures.swept = {w.name: swept_by(w) for w in workers}
        received = [json.loads(line) for line in deliveries.read_text(encoding="utf-8").splitlines()]
        bodies = [json.loads(d["body"]) for d in received]
        with psycopg.connect(libpq(database)) as connection:
            check_load(tally, figures)
            check_clocks(connection, bodies, figures)
            check_webhooks(connection, received, figures)
            check_writes(connection, tally, figures)
    finally:
        for process in reversed(processes):  # PgBouncer last
            process.stop()
        if receiver is not None:
            receiver.terminate()
            receiver.wait(10)
        drop_database(pg, DATABASE)
    return figures


def table(figures: Figures, started: datetime, load_before: float) -> str:
    tally = figures.tally
    assert tally is not None
    seconds = figures.seconds
    answered = sum(tally.by_process.values())
    cores = os.cpu_count() or 1
    rows = [
        "| process | requests/s | CPU s | CPU share of the machine | requests per CPU s |",
        "|---|---:|---:|---:|---:|",
    ]
    for url, name in figures.names.items():
        n, cpu = tally.by_process[url], figures.cpu[name]
        rows.append(
            f"| {name} (`tousu serve`) | {n / seconds:,.0f} | {cpu:.1f} | {cpu / seconds / cores:.0%} | "
            f"{n / max(cpu, 0.01):,.0f} |"
        )
    rows.append(f"| both API processes | **{answered / seconds:,.0f}** | | | |")
    others = ("worker-1", "worker-2", *(["pgbouncer"] if PGBOUNCER else []), "PostgreSQL", "load generator", "receiver")
    for name in others:
        cpu = figures.cpu[name]
        rows.append(f"| {name} | | {cpu:.1f} | {cpu / seconds / cores:.0%} | |")
    ours = sum(figures.cpu.values())
    rows.append(f"| all of the above | | {ours:.1f} | {ours / seconds / cores:.0%} | |")
    kinds = ", ".join(f"{kind} {n / seconds:,.1f}/s" for kind, n in tally.by_kind.most_common())
    swept = "; ".join(
        f"{name}: {c['warned']:,} warnings, {c['breached']:,} breaches" for name, c in figures.swept.items()
    )
    checks = "\n".join(
        f"- {'**passed**' if ok else '**FAILED**'}: {what} ({detail})" for what, ok, detail in figures.checks
    )
    pooled = (
        f" through PgBouncer in transaction mode ({PGBOUNCER_SERVER_CONNECTIONS} server connections, "
        "`TOUSU_DATABASE_POOLER=pgbouncer`)"
        if PGBOUNCER
        else ""
    )
    header = (
        f"Two `tousu serve --workers {API_WORKERS}` processes (separate ports, no sweeping or dispatching inside) "
        f"and two `tousu worker` processes (sweep every {WORKER_ENV['TOUSU_SWEEP_INTERVAL']} s, dispatcher, "
        f"housekeeping every {WORKER_ENV['TOUSU_HOUSEKEEPING_INTERVAL']} s) on one PostgreSQL database{pooled}, "
        f"`TOUSU_DB_POOL_SIZE={POOL_SIZE}` each, {seconds:.0f} s of mixed load from {CONNECTIONS} connections "
        "(httpx asyncio, each request to either API process at random) plus up to "
        f"{CLOCKED_PER_SECOND:g} registrations/s received days ago whose clocks warn and breach during the run; a "
        f"receiver subscribed to every event. Started {started:%Y-%m-%d %H:%M} UTC, load average {load_before:.1f}; "
        f"{cores} cores, busy {figures.machine_busy:.0%} of the time during the load (the machine's other work "
        "included)."
    )
    return "\n".join(
        [
            header,
            "",
            *rows,
            "",
            f"Requests: {kinds}. Sweeps: {swept}. Drained (every clock swept, every webhook arrived) "
            f"{figures.drained_s:.0f} s after the load stopped.",
            "",
            checks,
        ]
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--append", type=Path, help="Append the results to this Markdown file (bench/RESULTS.md).")
    parser.add_argument("--receive", nargs=2, type=Path, help=argparse.SUPPRESS)  # run as the receiver process
    args = parser.parse_args()
    if args.receive:
        receive(*args.receive)
        return 0
    signal.signal(signal.SIGTERM, lambda signum, _: sys.exit(128 + signum))
    OUT.mkdir(exist_ok=True)
    started, load_before = datetime.now(UTC), os.getloadavg()[0]
    figures = run(server_url())
    result = table(figures, started, load_before)
    print(result)
    if args.append:
        add_to_latest_run(args.append, f"### Scale-out (bench/scaleout.py, {started:%Y-%m-%d %H:%M} UTC)\n\n{result}")
    failed = [what for what, ok, _ in figures.checks if not ok]
    if failed:
        say(f"FAILED: {'; '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
