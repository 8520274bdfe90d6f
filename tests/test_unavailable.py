"""A database that is down, restarting or busy: 503 with Retry-After, nothing half-done, and recovery without a
restart. PostgreSQL is reached through a loopback proxy that the test cuts and restores, which is what a server
restart looks like from the service: refused connections, then pooled connections that are dead."""

from __future__ import annotations

import contextlib
import socket
import sqlite3
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from app.auth.models import Role
from app.complaints.models import Complaint
from app.config import Settings
from app.db import Database
from app.main import create_app
from tests.conftest import Caller, complaint_body, issue_key
from tests.testclient import TestClient


class Proxy:
    """A TCP proxy on a fixed loopback port that can be cut (every connection dropped, new ones refused)."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port = probe.getsockname()[1]
        probe.close()
        self._listener: socket.socket | None = None
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()

    def start(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self) -> None:
        assert self._listener is not None
        _shutdown(self._listener)  # wakes the thread blocked in accept(); close() alone would not
        self._listener.close()
        self._listener = None
        with self._lock:
            for sock in self._open:
                _shutdown(sock)
                sock.close()
            self._open.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.upstream)
            with self._lock:
                self._open.update((client, server))
            for source, target in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, target), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, target: socket.socket) -> None:
        try:
            while chunk := source.recv(65536):
                target.sendall(chunk)
        except OSError:
            pass
        finally:
            _shutdown(source)
            _shutdown(target)


def _shutdown(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


@pytest.fixture
def proxy(settings: Settings) -> Iterator[Proxy]:
    url = make_url(settings.database_url)
    proxy = Proxy((url.host or "127.0.0.1", url.port or 5432))
    proxy.start()
    yield proxy
    if proxy._listener is not None:
        proxy.cut()


def count(settings: Settings) -> int:
    database = Database.from_settings(settings)
    try:
        with database.readers() as session:
            return session.scalar(select(func.count()).select_from(Complaint)) or 0
    finally:
        database.dispose()


def assert_unavailable(response: Any) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert int(response.headers["Retry-After"]) >= 1
    assert response.json()["type"].endswith("/database-unavailable")


@pytest.mark.postgresql_only
def test_postgresql_down_then_back(settings: Settings, proxy: Proxy) -> None:
    through_proxy = Settings(
        database_url=make_url(settings.database_url)
        .set(host="127.0.0.1", port=proxy.port)
        .render_as_string(hide_password=False)
    )
    key = issue_key(settings, Role.handler)
    with TestClient(create_app(through_proxy), raise_server_exceptions=False) as client:
        caller = Caller(client, key)
        complaint = caller.register()
        path = f"/v1/complaints/{complaint['id']}"

        proxy.cut()
        assert_unavailable(caller.get(path))
        assert_unavailable(caller.post("/v1/complaints", json=complaint_body()))
        assert_unavailable(caller.post(f"{path}/investigate", json={"store_id": "SZ-FT-012"}))
        assert client.get("/readyz").status_code == 503

        proxy.start()  # the server is back; pooled connections are dead, pre-ping replaces them
        assert client.get("/readyz").status_code == 200
        after = caller.get(path)
        assert after.status_code == 200
        assert (after.json()["state"], after.json()["version"]) == ("accepted", 1)
        assert caller.move(complaint["id"], "investigate", {"store_id": "SZ-FT-012"})["state"] == "investigating"
    assert count(settings) == 1


@pytest.mark.postgresql_only
def test_postgresql_terminating_every_connection_is_survived(settings: Settings, handler: Caller) -> None:
    complaint = handler.register()
    database = Database.from_settings(settings)
    try:
        with database.engine.begin() as connection:
            # With a timeout, pg_terminate_backend returns once each backend has exited, its last word (the
            # FATAL message) written: without one it returns at once, and a connection taken from the pool in
            # that instant passes for alive and fails in its first statement (503), as in any server's restart.
            connection.exec_driver_sql(
                "SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
    finally:
        database.dispose()
    response = handler.get(f"/v1/complaints/{complaint['id']}")
    assert response.status_code == 200, response.text


@pytest.mark.sqlite_only
def test_sqlite_locked_by_another_process_is_503_then_works(settings: Settings) -> None:
    impatient = Settings(database_url=settings.database_url, sqlite_busy_timeout_ms=200, retry_after_seconds=3)
    key = issue_key(settings, Role.handler)
    with TestClient(create_app(impatient), raise_server_exceptions=False) as client:
        caller = Caller(client, key)
        complaint = caller.register()
        holder = sqlite3.connect(make_url(settings.database_url).database, isolation_level=None)
        try:
            holder.execute("BEGIN EXCLUSIVE")  # a backup or a stuck writer holds the whole file
            busy = caller.post(f"/v1/complaints/{complaint['id']}/investigate", json={"store_id": "SZ-FT-012"})
            assert_unavailable(busy)
            assert busy.headers["Retry-After"] == "3"
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        assert caller.move(complaint["id"], "investigate", {"store_id": "SZ-FT-012"})["version"] == 2


@pytest.mark.postgresql_only
@pytest.mark.parametrize("stop", ["pg_cancel_backend", "pg_terminate_backend"])
def test_a_registration_cut_short_in_its_statement_is_503_and_writes_nothing(
    settings: Settings, intake: Caller, stop: str
) -> None:
    """The statement is cancelled (an administrator, a timeout) or its connection lost while it waits: here on
    the calling key's row, which its history entry's foreign key check must share and another transaction holds."""
    first = intake.register()
    database = Database.from_settings(settings)
    answers: list[Any] = []
    try:
        with database.engine.connect() as blocker:
            blocker.exec_driver_sql("SELECT id FROM api_keys FOR UPDATE")
            registering = threading.Thread(
                target=lambda: answers.append(intake.post("/v1/complaints", json=complaint_body()))
            )
            registering.start()
            waiting = None
            for _ in range(500):
                waiting = blocker.exec_driver_sql(
                    "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
                ).scalar()
                if waiting is not None:
                    break
                registering.join(0.01)
            assert waiting is not None, "the registration never waited for the key's row"
            blocker.exec_driver_sql(f"SELECT {stop}({int(waiting)})")
            registering.join(30)
            blocker.rollback()
    finally:
        database.dispose()
    assert len(answers) == 1
    assert_unavailable(answers[0])
    assert count(settings) == 1
    # The pool recovered. The number the cut-short registration drew stays unused: numbers have gaps, not repeats.
    assert (first["number"][-4:], intake.register()["number"][-4:]) == ("0001", "0003")
