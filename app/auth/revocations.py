"""How a process hears of every revocation, so that its KeyCache never vouches for a revoked key.

PostgreSQL: migration 0008's trigger sends ``NOTIFY tousu_api_keys`` with the key's id whenever a key row is
updated or deleted (through the API or by hand), delivered when that transaction commits. Each process keeps one
connection of its own listening (``Listener``). The cache is trusted only while that connection is known to be
alive: a heartbeat every second extends a lease of three seconds, so a connection lost without a word (a cable
pulled, a firewall dropping it) stops the trust within three seconds, and a lost connection the operating system
reports stops it at once. Meanwhile every key is looked up. Each (re)connection clears the cache after LISTEN, so a
notification missed while no one listened cannot leave a revoked key trusted.

SQLite (one file, maybe several ``tousu serve`` workers): before the cache is used, ``Marker`` reads the count of key
changes that 0008's triggers keep (one row, on a connection of its own) and clears the cache when it moved.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import sqlite3
import threading
import time
import uuid
from typing import Protocol

import psycopg
from sqlalchemy import Engine

from app.auth.service import KeyCache

log = logging.getLogger("tousu.auth")

CHANNEL = "tousu_api_keys"
HEARTBEAT_SECONDS = 1.0
LEASE_SECONDS = 3.0
RECONNECT_SECONDS = 1.0


class Watcher(Protocol):
    def stop(self) -> None: ...


def watch(cache: KeyCache, engine: Engine | None) -> Watcher | None:
    """Start telling ``cache`` of revocations in this process; None when there is no cache to tell, or no
    database to listen on (behind PgBouncer without a direct URL: the cache is never trusted)."""
    if cache.seconds <= 0:
        return None
    if engine is None:
        log.warning(
            "behind PgBouncer without TOUSU_DATABASE_DIRECT_URL, key revocations cannot be listened for: "
            "every request looks its key up"
        )
        return None
    watcher = Listener(cache, engine) if engine.dialect.name == "postgresql" else Marker(cache, engine)
    cache.watch(watcher.heard_everything)
    return watcher


class Listener:
    """PostgreSQL: one thread, one connection, LISTEN."""

    def __init__(self, cache: KeyCache, engine: Engine) -> None:
        self.cache = cache
        _, self._connect_args = engine.dialect.create_connect_args(engine.url)
        self._trusted_until = 0.0  # time.monotonic()
        self._connection: psycopg.Connection | None = None
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tousu-key-revocations", daemon=True)
        self._thread.start()

    def heard_everything(self) -> bool:
        return time.monotonic() < self._trusted_until

    def stop(self) -> None:
        self._stopping.set()
        connection = self._connection
        if connection is not None:
            _wake(connection)
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                with self._connect() as connection:
                    self._connection = connection
                    self._listen(connection)
            except Exception as error:  # the database may be down: listen again, never die
                if not self._stopping.is_set():
                    log.warning("key revocations unheard (%s): every key is looked up", type(error).__name__)
            finally:
                self._trusted_until = 0.0
                self._connection = None
            self._stopping.wait(RECONNECT_SECONDS)

    def _connect(self) -> psycopg.Connection:
        return psycopg.connect(
            **self._connect_args,
            autocommit=True,
            connect_timeout=5,
            application_name="tousu key revocations",
            # A connection lost without a word fails within about ten seconds instead of hanging for minutes.
            keepalives=1,
            keepalives_idle=5,
            keepalives_interval=2,
            keepalives_count=2,
            tcp_user_timeout=10_000,
        )

    def _listen(self, connection: psycopg.Connection) -> None:
        connection.execute(f"LISTEN {CHANNEL}")
        self.cache.clear()  # what was revoked while no one listened
        while not self._stopping.is_set():
            asked = time.monotonic()
            connection.execute("SELECT 1")
            # What arrived before the answer was sent before it: heard, then the lease is extended.
            for notify in connection.notifies(timeout=0):
                self._heard(notify.payload)
            self._trusted_until = asked + LEASE_SECONDS
            for notify in connection.notifies(timeout=HEARTBEAT_SECONDS):
                self._heard(notify.payload)

    def _heard(self, payload: str) -> None:
        try:
            key_id = uuid.UUID(payload)
        except ValueError:
            self.cache.clear()
            return
        self.cache.forget(key_id)


def _wake(connection: psycopg.Connection) -> None:
    """Shut the connection's socket down under the listening thread, which then fails at once and sees the stop."""
    with contextlib.suppress(OSError, psycopg.Error), socket.socket(fileno=os.dup(connection.fileno())) as sock:
        sock.shutdown(socket.SHUT_RDWR)


class Marker:
    """SQLite: the count of key changes, read before each use of the cache."""

    QUERY = "SELECT changes FROM api_key_changes"

    def __init__(self, cache: KeyCache, engine: Engine) -> None:
        self.cache = cache
        self._connection = sqlite3.connect(engine.url.database or ":memory:", check_same_thread=False)
        self._connection.isolation_level = None  # each read sees the last commit
        self._lock = threading.Lock()
        self._seen: tuple[object, ...] | None = None

    def heard_everything(self) -> bool:
        with self._lock:
            try:
                marker = self._connection.execute(self.QUERY).fetchone()
            except sqlite3.Error:
                return False
            if marker != self._seen:
                self.cache.clear()
                self._seen = marker
        return True

    def stop(self) -> None:
        with self._lock:
            self._connection.close()
