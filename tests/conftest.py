"""Fixtures: every test that needs a database runs on the embedded SQLite file and on PostgreSQL.

PostgreSQL comes from ``TOUSU_TEST_DATABASE_URL`` (default: the local server, trust auth, the current user);
the suite creates a database of its own there and drops it at the end. Where no PostgreSQL answers, those tests
are skipped with the reason, unless ``CI`` is set: then the run fails.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import signal
import ssl
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import psycopg
import pytest
import uvicorn
from fastapi import FastAPI
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from app import migrate
from app.auth import service as keys
from app.auth.limiter import FailureLimiter
from app.auth.models import Role
from app.auth.principal import Actor
from app.cli import cli
from app.complaints import service as complaints
from app.complaints.schemas import InvestigateBody
from app.config import Settings
from app.db import Database
from app.main import create_app
from tests.testclient import TestClient

TABLES = (
    "webhook_attempts",
    "webhook_deliveries",
    "webhook_endpoints",
    "sla_clock_events",
    "sla_clocks",
    "calendar_days",
    "calendar_years",
    "idempotency_keys",
    "corrective_actions",
    "complaint_events",
    "complaint_links",
    "progress_links",
    "data_subject_requests",
    "attachments",
    "complaints",
    "complaint_number_counters",
    "api_keys",
    "stores",
    "departments",
    "escalation_contacts",
)


# The days' complaint-number sequences (migration 0007) are made by registrations: a test starts without them.
DROP_NUMBER_SEQUENCES = """
DO $$
DECLARE numbers record;
BEGIN
    FOR numbers IN SELECT relname FROM pg_class WHERE relkind = 'S' AND relname ~ '^complaint_numbers_[0-9]{8}$' LOOP
        EXECUTE format('DROP SEQUENCE %I', numbers.relname);
    END LOOP;
END
$$
"""


def postgres_server_url() -> URL:
    default = f"postgresql+psycopg://{os.environ.get('PGUSER') or getpass.getuser()}@127.0.0.1:5432/postgres"
    return make_url(os.environ.get("TOUSU_TEST_DATABASE_URL", default)).set(drivername="postgresql+psycopg")


def _libpq(url: URL) -> str:
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


DATABASES = ("sqlite", "postgresql")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--databases",
        default=",".join(DATABASES),
        help="the databases to run the database tests on, comma-separated (default: %(default)s)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked ``postgresql_only`` or ``sqlite_only`` are about one database's own machinery: they are not
    collected for the other. Nor is a test on a database left out of ``--databases``."""
    chosen = {name.strip() for name in config.getoption("databases").split(",")}
    if unknown := chosen - set(DATABASES):
        raise pytest.UsageError(f"--databases: unknown {', '.join(sorted(unknown))} (known: {', '.join(DATABASES)})")
    kept, dropped = [], []
    for item in items:
        params = item.callspec.params if hasattr(item, "callspec") else {}
        database = params.get("database_url") or params.get("empty_database")
        other = {"sqlite": "postgresql_only", "postgresql": "sqlite_only"}.get(database or "")
        left_out = database in DATABASES and database not in chosen
        (dropped if left_out or (other and item.get_closest_marker(other)) else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept
    # The long randomised runs (``slow``) first, in their order: handed out to the workers at the start, they run
    # beside the short tests instead of making the tail of the run.
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database with no schema at all, on each database, for the migration tests to build up and tear down."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh.db'}"
        return
    server: URL = request.getfixturevalue("postgres_server")
    database = create_postgres_database(server)
    try:
        yield database.render_as_string(hide_password=False)
    finally:
        drop_postgres_database(server, database)


@pytest.fixture(scope="session")
def postgres_server() -> URL:
    url = postgres_server_url()
    try:
        with psycopg.connect(_libpq(url), connect_timeout=3):
            pass
    except psycopg.OperationalError as exc:
        message = f"no PostgreSQL answers at {url.render_as_string()}: {exc}".strip()
        if os.environ.get("CI"):
            pytest.fail(message + " (CI is set: PostgreSQL is required)", pytrace=False)
        pytest.skip(message)
    return url


def create_postgres_database(server: URL) -> URL:
    name = f"tousu_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(_libpq(server), autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
        # A commit does not wait for its WAL to reach the disk: what a test writes need not outlive a crash of the
        # server, and the PostgreSQL half of the suite waited some 12-17% of its time on those flushes.
        connection.execute(f'ALTER DATABASE "{name}" SET synchronous_commit = off')
    return server.set(database=name)


def drop_postgres_database(server: URL, database: URL) -> None:
    with psycopg.connect(_libpq(server), autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{database.database}" WITH (FORCE)')


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated database of each kind, for the whole run."""
    with migrated_database(request.param, request, tmp_path_factory) as url:
        yield url


@contextlib.contextmanager
def migrated_database(
    kind: str, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A database of ``kind`` (sqlite or postgresql) of its own, its schema built by the migrations; on PostgreSQL
    dropped when the block ends, and skipped (``postgres_server``) where no server answers."""
    if kind == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'tousu.db'}"
        migrate.upgrade(Settings(database_url=url))
        yield url
        return
    server: URL = request.getfixturevalue("postgres_server")
    database = create_postgres_database(server)
    url = database.render_as_string(hide_password=False)
    try:
        migrate.upgrade(Settings(database_url=url))
        yield url
    finally:
        drop_postgres_database(server, database)


@pytest.fixture(scope="session")
def attachment_folder(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Where the run's apps keep attachments (not the checkout's ./var)."""
    return str(tmp_path_factory.mktemp("attachments"))


# The chain's directory: the stores and departments the tests dispatch complaints to (a complaint is dispatched only
# to a known, active unit), unnamed as migration 0014 made the units complaints already named. Every test on a
# database finds them; the tests about the directory itself start without them (tests/directory/conftest.py).
CHAIN_STORES = ("SZ-FT-012", "SZ-FT-013", "SZ-LH-003", "SZ-NS-001", "SZ-NS-003", "GZ-TH-001", "GZ-TH-003", "GZ-TH-007")
CHAIN_DEPARTMENTS = ("品管部", "物流部", "物业工程部", "售后服务部", "客服中心", "法务部")


def register_chain_directory(engine: Engine) -> None:
    with engine.begin() as connection:
        stores = [{"id": i} for i in CHAIN_STORES]
        connection.execute(text("INSERT INTO stores (id, active) VALUES (:id, true)"), stores)
        departments = [{"id": i} for i in CHAIN_DEPARTMENTS]
        connection.execute(text("INSERT INTO departments (id, active) VALUES (:id, true)"), departments)


@pytest.fixture
def chain_directory(_tables_engine: Engine) -> None:
    """The chain's stores and departments in the directory, for this test (``_empty_tables`` deletes them after)."""
    register_chain_directory(_tables_engine)


def app_settings(database_url: str, attachment_folder: str, **overrides: Any) -> Settings:
    """Settings of an app a test starts: the sweeper and the webhook dispatcher are driven by the tests themselves,
    with a controlled clock, and attachments are kept in the run's folder."""
    return settings_of(
        database_url=database_url,
        sweep_in_serve=False,
        dispatch_in_serve=False,
        attachment_store=attachment_folder,
        **overrides,
    )


def settings_of(**values: Any) -> Settings:
    """``Settings(**values)``, made once for the same values and the same ``TOUSU_`` environment: settings are
    frozen, and making them reads the environment for each of their fields (some 3 ms, in every test)."""
    environment = tuple(sorted((k, v) for k, v in os.environ.items() if k.upper().startswith("TOUSU_")))
    try:
        return _settings_of(environment, tuple(sorted(values.items())))
    except TypeError:  # a value that cannot be a key
        return Settings(**values)


@cache
def _settings_of(environment: tuple[tuple[str, str], ...], values: tuple[tuple[str, Any], ...]) -> Settings:
    return Settings(**dict(values))


@pytest.fixture
def settings(database_url: str, attachment_folder: str) -> Settings:
    return app_settings(database_url, attachment_folder)


# Which of the tables hold rows (and, on PostgreSQL, whether a day's number sequence was made): one query.
WRITTEN = " UNION ALL ".join(f"SELECT '{table}' WHERE EXISTS (SELECT 1 FROM {table})" for table in TABLES)
NUMBER_SEQUENCES_MADE = (
    "SELECT 'number sequences' WHERE EXISTS "
    "(SELECT 1 FROM pg_class WHERE relkind = 'S' AND relname ~ '^complaint_numbers_[0-9]{8}$')"
)


def empty_tables(engine: Engine) -> None:
    """Delete the rows of the tables a test wrote (children first); on PostgreSQL drop the days' sequences.

    DELETE, not TRUNCATE: the tables of a test hold a few rows, and on PostgreSQL a TRUNCATE of the twelve costs
    some 200 ms (new files for each), a DELETE of them a few. No table has an identity column to restart.
    """
    postgresql = engine.dialect.name == "postgresql"
    with engine.begin() as connection:
        written = set(connection.scalars(text(WRITTEN + (f" UNION ALL {NUMBER_SEQUENCES_MADE}" if postgresql else ""))))
        for table in TABLES:
            if table in written:
                connection.execute(text(f"DELETE FROM {table}"))
        if "number sequences" in written:
            connection.execute(text(DROP_NUMBER_SEQUENCES))


@pytest.fixture(scope="session")
def _tables_engine(database_url: str) -> Iterator[Engine]:
    # Pinged: a test may have terminated every connection to the database (tests/test_unavailable.py).
    engine = create_engine(database_url, pool_pre_ping=True)
    yield engine
    engine.dispose()


@pytest.fixture(autouse=True)
def _empty_tables(request: pytest.FixtureRequest) -> Iterator[None]:
    """Each test starts from empty tables but for the chain's directory (the schema stays: it was built by the
    migrations)."""
    if "database_url" not in request.fixturenames:
        yield
        return
    engine: Engine = request.getfixturevalue("_tables_engine")
    request.getfixturevalue("chain_directory")
    yield
    empty_tables(engine)


@dataclass
class Started:
    """An app started once for the run (its OpenAPI document, engines and pools are built once), with its client."""

    settings: Settings
    app: FastAPI
    client: TestClient


@pytest.fixture(scope="session")
def _started_apps(database_url: str) -> Iterator[list[Started]]:
    """The apps started on this database, one per distinct settings; stopped before the database goes."""
    started: list[Started] = []
    yield started
    for each in started:
        each.client.__exit__(None, None, None)


@pytest.fixture
def app(settings: Settings, _started_apps: list[Started]) -> FastAPI:
    """The app for these settings, started (by the first test that asked for them), with its per-process state as
    a new process has it: settings as given, no key cached, no failure counted, no cookie."""
    started = next((each for each in _started_apps if each.settings is settings), None)
    if started is None:
        wanted = settings.model_dump()
        started = next((each for each in _started_apps if each.settings.model_dump() == wanted), None)
    if started is None:
        made = create_app(settings)
        client = TestClient(made, raise_server_exceptions=False)
        client.__enter__()
        started = Started(settings, made, client)
        _started_apps.append(started)
    state = started.app.state
    state.settings = settings
    state.keys.clear()
    state.auth_failures = FailureLimiter(settings.auth_failure_burst, settings.auth_failure_per_minute)
    started.client.cookies.clear()
    return started.app


@pytest.fixture
def client(app: FastAPI, _started_apps: list[Started]) -> TestClient:
    return next(each.client for each in _started_apps if each.app is app)


@pytest.fixture
def db(app: FastAPI, client: TestClient) -> Database:
    """The app's own database handle (available once the client has started the app)."""
    return app.state.db


@dataclass
class Caller:
    """A calling system: an API key, and the person it acts for."""

    client: TestClient
    key: str
    actor: str = "agent-0042"

    def headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}", "X-Actor": quote(self.actor), **(extra or {})}

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.client.get(path, headers=self.headers(kwargs.pop("headers", None)), **kwargs)

    def post(self, path: str, json: Any = None, **kwargs: Any) -> Any:
        return self.client.post(path, json=json, headers=self.headers(kwargs.pop("headers", None)), **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Any:
        return self.client.delete(path, headers=self.headers(kwargs.pop("headers", None)), **kwargs)

    def as_actor(self, actor: str) -> Caller:
        return Caller(self.client, self.key, actor)

    def register(self, **overrides: Any) -> dict[str, Any]:
        response = self.post("/v1/complaints", json=complaint_body(**overrides))
        assert response.status_code == 201, response.text
        return response.json()

    def move(self, complaint_id: str, move: str, json: Any = None, expect: int = 200) -> dict[str, Any]:
        response = self.post(f"/v1/complaints/{complaint_id}/{move}", json=json)
        assert response.status_code == expect, response.text
        return response.json()


def investigate_in(session: Session, settings: Settings, key: str, complaint_id: str) -> None:
    """Dispatch the complaint to store SZ-FT-012 in the caller's transaction, left open: a move under way."""
    principal = keys.principal_for(session, key, settings)
    assert principal is not None
    body = InvestigateBody(store_id="SZ-FT-012")
    complaints.move_and_show(
        session, uuid.UUID(complaint_id), "investigate", Actor(principal, "handler-07"), body, settings
    )


def complaint_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "complainant": {"name": "张三", "phone": "138 1234 8000"},
        "channel": "phone",
        "category": "service_attitude",
        "store_id": "SZ-FT-012",
        "description": "店员态度恶劣，拒绝为我办理退货。",
        "customer_request": "要求店员道歉并办理退货",
    }
    body.update(overrides)
    return body


def another_customer(n: int) -> dict[str, str]:
    """The complainant of the nth of complaints that are not to count as one customer's repeats (the 3rd from one
    phone rises to urgent): a phone of their own, masked as the default one is (138****8000)."""
    return {"name": "张三", "phone": f"138{n:04d}8000"}


@pytest.fixture
def make_caller(client: TestClient, db: Database) -> Any:
    def make(
        role: Role | str, store_id: str | None = None, actor: str = "agent-0042", department: str | None = None
    ) -> Caller:
        with db.writers.begin() as session:
            _, secret = keys.create_key(
                session,
                name=f"test {role}",
                role=Role(role),
                store_id=store_id,
                department=department,
                created_by="tests",
            )
        return Caller(client, secret, actor)

    return make


@pytest.fixture
def admin(make_caller: Any) -> Caller:
    return make_caller(Role.admin, actor="admin-01")


@pytest.fixture
def handler(make_caller: Any) -> Caller:
    return make_caller(Role.handler, actor="handler-07")


@pytest.fixture
def supervisor(make_caller: Any) -> Caller:
    return make_caller(Role.supervisor, actor="supervisor-03")


@pytest.fixture
def manager(make_caller: Any) -> Caller:
    return make_caller(Role.manager, actor="manager-01")


@pytest.fixture
def intake(make_caller: Any) -> Caller:
    return make_caller(Role.intake, actor="agent-0042")


ROOT = Path(__file__).resolve().parent.parent


def issue_key(settings: Settings, role: Role | str, store_id: str | None = None) -> str:
    """An API key, written straight to the database (for servers the test client does not own)."""
    database = Database.from_settings(settings)
    try:
        with database.writers.begin() as session:
            _, secret = keys.create_key(
                session, name=f"test {role}", role=Role(role), store_id=store_id, created_by="tests"
            )
    finally:
        database.dispose()
    return secret


def tousu_in_process(*args: str, database_url: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``tousu ARGS`` through the command's own typer app in this process, answered as a subprocess would be (exit
    code, standard output and error apart): some 1 s of CPU less than starting the entry point, which each command's
    subprocess tests run. An exception the command lets out is raised here, as the process would have died of it."""
    result = CliRunner().invoke(
        cli, list(args), env={"TOUSU_DATABASE_URL": database_url, **env}, catch_exceptions=False
    )
    return subprocess.CompletedProcess(["tousu", *args], result.exit_code, result.stdout, result.stderr)


def stop_served(server: subprocess.Popen[Any], sent: int = signal.SIGINT, timeout: float = 30) -> None:
    """Stop a ``tousu serve`` started with ``start_new_session=True``: ``sent`` to its supervisor, then SIGKILL to
    whatever of its process group is left (a worker orphaned by a killed supervisor would go on sweeping the test
    database under the tests that follow)."""
    server.send_signal(sent)
    with contextlib.suppress(subprocess.TimeoutExpired):
        server.wait(timeout=timeout)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(server.pid, signal.SIGKILL)
    server.wait()


@dataclass
class LiveServer:
    """The app served by a real uvicorn on a loopback port, for real concurrent requests."""

    url: str
    settings: Settings

    def caller(self, role: Role | str, store_id: str | None = None, actor: str = "agent-0042") -> LiveCaller:
        return LiveCaller(self.url, issue_key(self.settings, role, store_id), actor)


@dataclass
class LiveCaller:
    url: str
    key: str
    actor: str = "agent-0042"

    def headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}", "X-Actor": quote(self.actor), **(extra or {})}

    def post(self, path: str, json: Any = None, headers: dict[str, str] | None = None) -> httpx.Response:
        return live_http().post(self.url + path, json=json, headers=self.headers(headers))

    def get(self, path: str, headers: dict[str, str] | None = None) -> httpx.Response:
        return live_http().get(self.url + path, headers=self.headers(headers))


# The TLS context of the tests' HTTP clients, made once: a client makes its own otherwise, some 30 ms of CPU (loading
# the certificates), more than a request to a live server.
TLS = ssl.create_default_context()


@cache
def live_http() -> httpx.Client:
    """One HTTP client for every live caller. It keeps a pool of connections, so requests sent at once from several
    threads still go at once."""
    return httpx.Client(timeout=30, verify=TLS)


@cache
def fresh_http() -> httpx.Client:
    """One HTTP client whose every request goes on a connection of its own (none is kept alive), for requests that
    are to reach whichever worker process of a ``tousu serve`` accepts first."""
    return httpx.Client(timeout=30, verify=TLS, limits=httpx.Limits(max_keepalive_connections=0))


@contextlib.contextmanager
def serving(settings: Settings) -> Iterator[LiveServer]:
    """The app for ``settings`` served by uvicorn on a loopback port, in a thread, until the block ends."""
    made = create_app(settings)
    config = uvicorn.Config(made, host="127.0.0.1", port=0, log_level="warning", access_log=False, lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="live-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the live server did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield LiveServer(f"http://127.0.0.1:{port}", settings)
    finally:
        server.should_exit = True
        thread.join(timeout=15)


@pytest.fixture
def live_server(settings: Settings) -> Iterator[LiveServer]:
    with serving(settings) as server:
        yield server
