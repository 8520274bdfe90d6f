"""tousu through PgBouncer in transaction pooling mode (issue 20, "Scale-out, shown"; docs/operations.md,
"Connection pooling").

A real PgBouncer (Debian's, `make test` installs it) listens on a loopback port in front of a database of the test's
own, with fewer server connections than tousu opens, so that one client connection's transactions run on different
server connections. tousu reaches it with ``TOUSU_DATABASE_POOLER=pgbouncer`` and listens for key revocations on
``TOUSU_DATABASE_DIRECT_URL``. Migrations, concurrent registrations and moves over HTTP, two sweeps at once, a
revocation and the webhooks all go through it.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import select
from sqlalchemy.engine import URL

from app import migrate
from app.auth.models import Role
from app.complaints.models import ComplaintEvent
from app.complaints.sweeper import Swept, sweep
from app.config import Settings
from app.db import Database, utcnow
from app.main import create_app
from app.sla.models import ClockEvent
from app.webhooks.dispatcher import Dispatcher
from tests.conftest import (
    Caller,
    LiveCaller,
    LiveServer,
    another_customer,
    complaint_body,
    create_postgres_database,
    drop_postgres_database,
    issue_key,
    live_http,
)
from tests.testclient import TestClient
from tests.webhooks.conftest import Receiver

PGBOUNCER = shutil.which("pgbouncer") or shutil.which("pgbouncer", path="/usr/sbin:/usr/local/sbin")
SERVER_CONNECTIONS = 3  # PgBouncer's connections to PostgreSQL: fewer than tousu's clients, so they are shared
COMPLAINTS = 8
FEEDBACK = {"cause": "店员未按退货流程操作", "responsible_person": "李四", "responsibility": "staff_fault"}
REFUND = {
    "remedy": {"kind": "refund", "amount": "300.00", "description": "退还货款"},
    "reply": "非常抱歉，全额退款。",
    "reply_channel": "sms",
}
APPROVAL = {"reply": "非常抱歉，已为您全额退款300元。"}
MOVES = (("investigate", {"store_id": "SZ-FT-012"}), ("store-feedback", FEEDBACK), ("propose", REFUND))


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def start_pgbouncer(folder: Path, database: URL) -> tuple[subprocess.Popen[bytes], URL]:
    """PgBouncer in transaction mode in front of ``database``; returns it and the URL that reaches the database
    through it."""
    port = free_port()
    user = database.username or "postgres"
    password = f" password={database.password}" if database.password else ""
    (folder / "pgbouncer.ini").write_text(
        "[databases]\n"
        f"tousu = host={database.host or '127.0.0.1'} port={database.port or 5432} dbname={database.database} "
        f"user={user}{password}\n"
        "[pgbouncer]\n"
        f"listen_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n"
        "auth_type = any\n"  # every client logs in as the user above
        "pool_mode = transaction\n"
        f"default_pool_size = {SERVER_CONNECTIONS}\nmax_client_conn = 200\n"
        "query_wait_timeout = 20\n"
    )
    command = [str(PGBOUNCER), str(folder / "pgbouncer.ini")]
    if os.geteuid() == 0:  # PgBouncer refuses to run as root
        command[1:1] = ["-u", "nobody"]
    log = (folder / "pgbouncer.log").open("wb")
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    pooled = database.set(host="127.0.0.1", port=port, database="tousu", password=None)
    deadline = time.monotonic() + 10
    while True:
        try:
            with psycopg.connect(pooled.set(drivername="postgresql").render_as_string(), connect_timeout=2):
                return process, pooled
        except psycopg.OperationalError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError((folder / "pgbouncer.log").read_text()) from None
            time.sleep(0.05)


@pytest.fixture(scope="module")
def bouncer(postgres_server: URL, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[URL, URL]]:
    """(the URL through PgBouncer, the URL of PostgreSQL itself) of a new database, migrated through PgBouncer."""
    if PGBOUNCER is None:
        message = "PgBouncer is not installed (make test installs Debian's as root)"
        if os.environ.get("CI"):
            pytest.fail(message + "; CI is set: tousu must be tested through it", pytrace=False)
        pytest.skip(message)
    database = create_postgres_database(postgres_server)
    process, pooled = start_pgbouncer(tmp_path_factory.mktemp("pgbouncer"), database)
    try:
        migrate.upgrade(Settings(database_url=pooled.render_as_string(), database_pooler="pgbouncer"))
        yield pooled, database
    finally:
        process.send_signal(signal.SIGINT)  # PgBouncer's fast shutdown
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        drop_postgres_database(postgres_server, database)


@pytest.fixture
def settings(bouncer: tuple[URL, URL], tmp_path: Path) -> Settings:
    """The live server's settings (conftest's ``live_server``): the database through PgBouncer, the revocations
    heard directly, a key trusted for an hour once checked (a revocation that did not reach the process would let
    it in)."""
    pooled, direct = bouncer
    return Settings(
        database_url=pooled.render_as_string(hide_password=False),
        database_pooler="pgbouncer",
        database_direct_url=direct.render_as_string(hide_password=False),
        key_cache_seconds=3600,
        sweep_in_serve=False,
        dispatch_in_serve=False,
        webhook_allow_private=True,
        attachment_store=str(tmp_path / "attachments"),
    )


def ok(response: Any, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


def walk(handler: LiveCaller, store: LiveCaller, supervisor: LiveCaller, complaint_id: str) -> list[int]:
    """Investigate, store feedback, propose, approve, with reads between; the versions the moves answered."""
    path = f"/v1/complaints/{complaint_id}"
    versions = []
    for move, body in MOVES:
        caller = store if move == "store-feedback" else handler
        versions.append(ok(caller.post(f"{path}/{move}", json=body))["version"])
        ok(handler.get(path))
    versions.append(ok(supervisor.post(f"{path}/approve", json=APPROVAL))["version"])
    ok(handler.get("/v1/complaints?limit=50"))
    return versions


def test_tousu_works_through_pgbouncer_in_transaction_mode(live_server: LiveServer, settings: Settings) -> None:
    receiver = Receiver()
    try:
        admin = live_server.caller("admin", actor="admin-01")
        ok(admin.post("/v1/webhook-endpoints", json={"url": receiver.url}), 201)
        unit = {"name": "福田中心店", "region": "华南区"}
        ok(live_http().put(f"{live_server.url}/v1/stores/SZ-FT-012", json=unit, headers=admin.headers()), 201)
        intake = live_server.caller("intake")
        handler = live_server.caller("handler", actor="handler-07")
        supervisor = live_server.caller("supervisor", actor="supervisor-03")
        store = live_server.caller("store", store_id="SZ-FT-012", actor="店长王五")

        # Registrations and moves at once, more of them than PgBouncer has server connections.
        with ThreadPoolExecutor(COMPLAINTS) as pool:
            bodies = [complaint_body(complainant=another_customer(n)) for n in range(COMPLAINTS)]
            ids = [c["id"] for c in pool.map(lambda body: ok(intake.post("/v1/complaints", json=body), 201), bodies)]
            answered = list(pool.map(lambda i: walk(handler, store, supervisor, i), ids))
        for complaint_id, versions in zip(ids, answered, strict=True):
            complaint = ok(handler.get(f"/v1/complaints/{complaint_id}"))
            assert complaint["state"] == "resolved"
            assert versions == sorted(versions) and complaint["version"] == versions[-1]

        db = Database.from_settings(settings)
        try:
            # Two sweeps at once, a month ahead: each running clock breached once, by one of them.
            month = utcnow() + timedelta(days=30)
            swept: list[Swept] = []
            sweeps = [threading.Thread(target=lambda: swept.append(sweep(db, month))) for _ in range(2)]
            for each in sweeps:
                each.start()
            for each in sweeps:
                each.join()
            with db.readers() as session:
                breaches = list(session.scalars(select(ClockEvent.clock_id).where(ClockEvent.kind == "breached")))
            assert len(breaches) == len(set(breaches)) == sum(s.breached for s in swept) >= COMPLAINTS

            dispatcher = Dispatcher(db, settings)
            try:
                dispatcher.once()
            finally:
                dispatcher.stop()
            with db.readers() as session:
                history = list(session.execute(select(ComplaintEvent.complaint_id, ComplaintEvent.id)))
        finally:
            db.dispose()
        # The webhooks: every history entry of each complaint, once, in the order of its history.
        expected: dict[str, list[int]] = {}
        for complaint_id, event_id in sorted(history, key=lambda row: row[1]):
            expected.setdefault(str(complaint_id), []).append(event_id)
        arrived: dict[str, list[int]] = {}
        for message in (r.json() for r in receiver.received):
            arrived.setdefault(message["data"]["complaint"]["id"], []).append(message["data"]["event_id"])
        assert arrived == expected
        assert {"complaint.resolved", "sla.breached"} <= set(receiver.types())
    finally:
        receiver.close()


def wait_for(condition: Any, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_a_revocation_reaches_a_process_behind_pgbouncer(settings: Settings) -> None:
    """The process trusts a key it checked for an hour while it hears every revocation: its LISTEN runs on the
    direct URL (through PgBouncer it would hear nothing, and the revoked key would go on working). Without a direct
    URL, it looks every key up."""
    app = create_app(settings)
    deaf = create_app(settings.model_copy(update={"database_direct_url": None}))
    with TestClient(app) as client, TestClient(deaf) as deaf_client:
        wait_for(app.state.keys.trusted)
        admin = Caller(client, issue_key(settings, Role.admin), "admin-01")
        issued = ok(admin.post("/v1/api-keys", json={"name": "CRM", "role": "handler"}), 201)
        crm, crm_elsewhere = Caller(client, issued["key"]), Caller(deaf_client, issued["key"])
        ok(crm.get("/v1/complaints"))  # checked: trusted from now on
        ok(crm_elsewhere.get("/v1/complaints"))
        ok(admin.delete(f"/v1/api-keys/{issued['id']}"))
        time.sleep(0.5)
        assert crm.get("/v1/complaints").status_code == 401
        assert crm_elsewhere.get("/v1/complaints").status_code == 401
        assert not deaf.state.keys.trusted()
