"""Webhook delivery: deliveries per second with one dispatcher to a local receiver, and the lag from the commit of
a registration to its webhook's arrival (p50, p99).

Run with ``python -m bench.webhooks`` (``make bench`` runs it too). It makes and drops its own PostgreSQL database
and an SQLite file; the receiver is a separate process (a threaded ``http.server`` on loopback answering 204).
"""

from __future__ import annotations

import argparse
import contextlib
import getpass
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import psycopg
from sqlalchemy.engine import URL, make_url

from app import migrate
from app.auth import service as keys
from app.auth.models import Role
from app.auth.principal import Actor, Principal
from app.complaints import registration
from app.complaints.schemas import ComplaintCreate
from app.config import Settings
from app.db import Database
from app.webhooks import service as webhooks
from app.webhooks.dispatcher import Dispatcher
from app.webhooks.schemas import EndpointCreate
from bench.results import add_to_latest_run

THROUGHPUT = 2_000  # registrations waiting, then one dispatcher delivers them all
LAG_RATE = 20  # registrations per second while the dispatcher runs
LAG_SECONDS = 15

BODY = {
    "complainant": {"name": "张三", "phone": "138 1234 8000"},
    "channel": "phone",
    "category": "service_attitude",
    "store_id": "SZ-FT-012",
    "description": "店员态度恶劣，拒绝为我办理退货。",
}


# The receiver (a process of its own, so that it does not share the dispatcher's interpreter lock)


def receive(port_file: Path) -> None:
    arrived: list[tuple[str, float]] = []
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            now = time.time()
            complaint_id = json.loads(body)["data"]["complaint"]["id"]
            with lock:
                arrived.append((complaint_id, now))
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_GET(self) -> None:
            with lock:
                body = json.dumps(arrived).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_DELETE(self) -> None:
            with lock:
                arrived.clear()
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    port_file.write_text(str(server.server_address[1]))
    server.serve_forever()


class Receiver:
    def __init__(self) -> None:
        port_file = Path(tempfile.mkdtemp()) / "port"
        self.process = subprocess.Popen([sys.executable, "-m", "bench.webhooks", "--receive", str(port_file)])
        deadline = time.monotonic() + 10
        while not port_file.exists() or not port_file.read_text():
            if time.monotonic() > deadline:
                raise RuntimeError("the receiver did not start")
            time.sleep(0.05)
        self.url = f"http://127.0.0.1:{port_file.read_text()}/hooks"
        self.http = httpx.Client(timeout=30)  # one client: each new one loads the CA bundle (0.1 s of CPU)

    def arrived(self) -> dict[str, float]:
        return dict(self.http.get(self.url).json())

    def clear(self) -> None:
        self.http.delete(self.url)

    def close(self) -> None:
        self.http.close()
        self.process.terminate()
        self.process.wait(10)


# The measurements


def register(db: Database, actor: Actor, settings: Settings, count: int) -> dict[str, float]:
    """Registers ``count`` complaints, one transaction each; returns when each committed."""
    body = ComplaintCreate.model_validate(BODY)
    committed = {}
    for _ in range(count):
        registered = registration.register(db, settings, body, actor, None)
        committed[str(registered.complaint_id)] = time.time()
    return committed


def wait_for(receiver: Receiver, count: int, timeout: float = 600) -> dict[str, float]:
    deadline = time.monotonic() + timeout
    while len(arrived := receiver.arrived()) < count:
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {len(arrived)} of {count} webhooks arrived")
        time.sleep(0.2)
    return arrived


def throughput(db: Database, actor: Actor, settings: Settings, receiver: Receiver) -> float:
    register(db, actor, settings, THROUGHPUT)
    dispatcher = Dispatcher(db, settings)
    started = time.perf_counter()
    dispatcher.start()
    wait_for(receiver, THROUGHPUT)
    elapsed = time.perf_counter() - started
    dispatcher.stop()
    return THROUGHPUT / elapsed


def lag(db: Database, actor: Actor, settings: Settings, receiver: Receiver) -> list[float]:
    dispatcher = Dispatcher(db, settings)
    dispatcher.start()
    committed: dict[str, float] = {}
    for _ in range(LAG_SECONDS):
        second = time.perf_counter()
        committed |= register(db, actor, settings, LAG_RATE)
        time.sleep(max(0.0, 1 - (time.perf_counter() - second)))
    arrived = wait_for(receiver, len(committed))
    dispatcher.stop()
    return sorted((arrived[c] - committed[c]) * 1000 for c in committed)


def percentile(values: list[float], share: float) -> float:
    return values[min(len(values) - 1, round(share * (len(values) - 1)))]


def measure(database_url: str, receiver: Receiver, interval: float) -> tuple[float, list[float]]:
    settings = Settings(
        database_url=database_url,
        sweep_in_serve=False,
        dispatch_in_serve=False,
        dispatch_interval=interval,
        webhook_allow_private=True,
    )
    migrate.upgrade(settings)
    db = Database.from_settings(settings)
    try:
        with db.writers.begin() as session:
            key, _ = keys.create_key(session, name="bench", role=Role.handler, store_id=None, created_by="bench")
            principal = Principal(key.id, key.name, key.role, None, None)
            actor = Actor(principal, "bench")
            webhooks.create_endpoint(session, EndpointCreate(url=receiver.url), actor, settings)
        receiver.clear()
        rate = throughput(db, actor, settings, receiver)
        receiver.clear()
        return rate, lag(db, actor, settings, receiver)
    finally:
        db.dispose()


@contextlib.contextmanager
def postgres_database(server: URL):  # type: ignore[no-untyped-def]
    name = "tousu_bench_webhooks"
    admin = server.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def machine(server: URL) -> str:
    model = "unknown"
    with contextlib.suppress(OSError):
        model = next(
            (
                line.split(":", 1)[1].strip()
                for line in Path("/proc/cpuinfo").read_text().splitlines()
                if "model name" in line
            ),
            model,
        )
    with psycopg.connect(server.set(drivername="postgresql").render_as_string(hide_password=False)) as conn:
        version = conn.execute("SHOW server_version").fetchone()[0]  # type: ignore[index]
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return f"{os.cpu_count()} cores ({model}), load {load}, PostgreSQL {version}, Python {platform.python_version()}"


def run(server: URL) -> list[tuple[str, float, float, list[float]]]:
    results = []
    receiver = Receiver()
    try:
        for interval in (1.0, 0.1):
            with postgres_database(server) as url:
                results.append(("PostgreSQL", interval, *measure(url, receiver, interval)))
            with tempfile.TemporaryDirectory() as folder:
                url = f"sqlite:///{folder}/bench.db"
                results.append(("SQLite", interval, *measure(url, receiver, interval)))
    finally:
        receiver.close()
    return results


def table(results: list[tuple[str, float, float, list[float]]]) -> str:
    lines = [
        f"One dispatcher (8 concurrent sends) to a local receiver answering 204. Throughput: {THROUGHPUT:,} "
        f"registrations waiting, delivered from the dispatcher's start to the last arrival (fan-out included). Lag: "
        f"{LAG_RATE} registrations per second for {LAG_SECONDS} s while it runs, from each registration's commit to "
        "its webhook's arrival.",
        "",
        "| database | `TOUSU_DISPATCH_INTERVAL` | deliveries/s | lag p50 ms | lag p99 ms | lag max ms |",
        "|---|---:|---:|---:|---:|---:|",
        *(
            f"| {db} | {interval:g} s | {rate:.0f} | {percentile(lags, 0.5):.0f} | {percentile(lags, 0.99):.0f} "
            f"| {lags[-1]:.0f} |"
            for db, interval, rate, lags in results
        ),
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--server", default=f"postgresql+psycopg://{getpass.getuser()}@127.0.0.1:5432/postgres")
    parser.add_argument("--append", type=Path, help="Append the table to this Markdown file (bench/RESULTS.md).")
    parser.add_argument("--receive", type=Path, help=argparse.SUPPRESS)  # run as the receiver process
    args = parser.parse_args()
    if args.receive:
        receive(args.receive)
        return
    server = make_url(args.server)
    started, where = datetime.now(UTC), machine(server)
    result = table(run(server))
    print(result)
    if args.append:
        heading = f"### Webhooks (bench/webhooks.py, {started:%Y-%m-%d %H:%M} UTC, {where})"
        add_to_latest_run(args.append, f"{heading}\n\n{result}")


if __name__ == "__main__":
    main()
