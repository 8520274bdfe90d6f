"""The ``tousu`` command: migrate, serve, manage API keys, write the OpenAPI document."""

from __future__ import annotations

import contextlib
import json
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

import app.models  # noqa: F401 - every table on the metadata: a command may write rows that refer to any
from app import logs
from app import migrate as migrations
from app.auth import service as keys_service
from app.auth.models import Role
from app.config import ROOT, Settings
from app.db import Database
from app.errors import InvalidInput
from app.metrics import folder as metrics_folder

if TYPE_CHECKING:
    from app.complaints.sweeper import Sweeper
    from app.housekeeping import Housekeeper
    from app.retention.worker import Retainer
    from app.webhooks.dispatcher import Dispatcher

WORKER_HEALTHCHECK_SECONDS = 30

cli = typer.Typer(help="tousu: complaint handling service.", no_args_is_help=True, add_completion=False)
keys = typer.Typer(help="API keys.", no_args_is_help=True)
cli.add_typer(keys, name="keys")
calendar = typer.Typer(help="The working-day calendar.", no_args_is_help=True)
cli.add_typer(calendar, name="calendar")
stores = typer.Typer(help="The directory of stores.", no_args_is_help=True)
cli.add_typer(stores, name="stores")
retention = typer.Typer(help="Retention of personal data (PIPL).", no_args_is_help=True)
cli.add_typer(retention, name="retention")


@cli.command()
def migrate() -> None:
    """Apply the database migrations (safe to run again)."""
    settings = Settings()
    migrations.upgrade(settings)
    typer.echo(f"database at migration {migrations.head(settings)}", err=True)


@cli.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes (PostgreSQL for more than one).")] = 1,
) -> None:
    """Serve the HTTP API."""
    import uvicorn

    settings = Settings()
    if workers > 1 and settings.is_sqlite:
        typer.echo("note: several workers on the embedded SQLite file serialise their writes", err=True)
    # Before anything imports prometheus_client: the workers (and this process) write their series in the folder.
    folder = metrics_folder.prepare(settings)
    if folder is not None:  # uvicorn raises SIGTERM again once it has shut down: exit through `finally` all the same
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    db = Database.from_settings(settings) if settings.metrics_port is not None else None  # read at each scrape
    try:
        with _metrics_port(settings, db):
            uvicorn.run(
                "app.main:create_app",
                factory=True,
                host=host,
                port=port,
                workers=workers,
                proxy_headers=True,
                access_log=False,  # ours (tousu.access) leaves out query strings, which may hold phone numbers
                log_config=logs.config(settings.log_level, settings.log_format),
                # A worker answers uvicorn's health check once it has imported tousu: on a busy 2-core host that
                # took more than the default 5 s, and the worker was killed and started again, over and over.
                timeout_worker_healthcheck=WORKER_HEALTHCHECK_SECONDS,
            )
    finally:
        if db is not None:
            db.dispose()
        metrics_folder.remove(folder)


@contextlib.contextmanager
def _metrics_port(settings: Settings, db: Database | None) -> Iterator[None]:
    """The metrics port (TOUSU_METRICS_PORT) open in a thread while the block runs; a port taken stops the start."""
    port = settings.metrics_port
    if db is None or port is None:
        yield
        return
    from app.metrics import exposition

    try:
        server = exposition.serve(settings.metrics_host, port, db)
    except OSError as exc:
        typer.echo(f"error: metrics port {settings.metrics_host}:{settings.metrics_port}: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"metrics on http://{settings.metrics_host}:{settings.metrics_port}/metrics", err=True)
    try:
        yield
    finally:
        server.shutdown()


@keys.command("create")
def create_key(
    role: Annotated[Role, typer.Option(help="What the key may do.")],
    name: Annotated[str, typer.Option(help="Who or what uses the key, e.g. the CRM's name.")],
    store: Annotated[str | None, typer.Option(help="The store a store key is bound to.")] = None,
    department: Annotated[str | None, typer.Option(help="The department a department key is bound to.")] = None,
) -> None:
    """Issue an API key. The key is printed once, alone on the last line."""
    db = Database.from_settings(Settings())
    try:
        with db.writers.begin() as session:
            key, secret = keys_service.create_key(
                session, name=name, role=role, store_id=store, department=department, created_by="cli"
            )
            typer.echo(f"# {key.role} key {key.name!r} ({key.prefix}...), id {key.id}")
    except InvalidInput as exc:
        typer.echo(f"error: {exc.detail}", err=True)
        raise typer.Exit(2) from None
    finally:
        db.dispose()
    typer.echo(secret)


@keys.command("bootstrap")
def bootstrap(
    url: Annotated[str, typer.Option(help="Where the API is served, for the example.")] = "http://127.0.0.1:8000",
) -> None:
    """Create a first admin key if there is none, and say how to use it."""
    db = Database.from_settings(Settings())
    try:
        with db.writers.begin() as session:
            if keys_service.has_admin_key(session):
                typer.echo("An admin key exists already. Another: tousu keys create --role admin --name NAME")
                return
            _, secret = keys_service.create_key(
                session, name="first admin", role=Role.admin, store_id=None, created_by="bootstrap"
            )
    finally:
        db.dispose()
    typer.echo(
        "\nFirst admin API key (shown once, keep it safe):\n\n"
        f"    {secret}\n\n"
        "Try it:\n"
        f"    curl -H 'Authorization: Bearer {secret}' {url.rstrip('/')}/v1/workflow\n"
    )


@cli.command()
def worker(
    once: Annotated[bool, typer.Option(help="Run each job once, then exit (for cron or a test).")] = False,
    sweep: Annotated[bool | None, typer.Option(help="Sweep the clocks [TOUSU_WORKER_SWEEP].")] = None,
    dispatch: Annotated[bool | None, typer.Option(help="Deliver the webhooks [TOUSU_WORKER_DISPATCH].")] = None,
    housekeeping: Annotated[
        bool | None, typer.Option(help="Purge expired idempotency keys and old sequences [TOUSU_WORKER_HOUSEKEEPING].")
    ] = None,
    retention: Annotated[
        bool | None, typer.Option(help="Anonymise complaints past retention [TOUSU_WORKER_RETENTION].")
    ] = None,
) -> None:
    """Run the background work for production: sweep the clocks every TOUSU_SWEEP_INTERVAL seconds, deliver the
    webhooks, keep house every TOUSU_HOUSEKEEPING_INTERVAL seconds and anonymise complaints past retention every
    TOUSU_RETENTION_INTERVAL seconds. Each job is on unless switched off.

    Run any number of workers against one PostgreSQL database; set TOUSU_SWEEP_IN_SERVE=false and
    TOUSU_DISPATCH_IN_SERVE=false for the API.
    """
    import logging.config
    import threading

    from app.complaints.sweeper import Sweeper
    from app.housekeeping import Housekeeper
    from app.metrics import exposition as metrics
    from app.retention.worker import Retainer
    from app.webhooks.dispatcher import Dispatcher, warn_if_private_targets_allowed

    settings = Settings()
    sweep = settings.worker_sweep if sweep is None else sweep
    dispatch = settings.worker_dispatch if dispatch is None else dispatch
    housekeeping = settings.worker_housekeeping if housekeeping is None else housekeeping
    retention = settings.worker_retention if retention is None else retention
    if not (sweep or dispatch or housekeeping or retention):
        typer.echo("error: every job is switched off (sweep, dispatch, housekeeping, retention)", err=True)
        raise typer.Exit(2)
    logging.config.dictConfig(logs.config(settings.log_level, settings.log_format))
    if dispatch:
        warn_if_private_targets_allowed(settings)
    db = Database.from_settings(settings)
    metrics.watch(db)
    sweeper = Sweeper(db, settings) if sweep else None
    housekeeper = Housekeeper(db, settings) if housekeeping else None
    dispatcher = Dispatcher(db, settings) if dispatch else None
    retainer = Retainer(db, settings) if retention else None
    jobs = [job for job in (sweeper, housekeeper, dispatcher, retainer) if job is not None]
    try:
        if once:
            _once(sweeper, housekeeper, dispatcher)
            _once_retention(retainer)
            return
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        doing = [
            what
            for what, on in (
                ("sweeping", sweep),
                ("keeping house", housekeeping),
                ("delivering webhooks", dispatch),
                ("anonymising past retention", retention),
            )
            if on
        ]
        typer.echo(f"tousu worker: {', '.join(doing)}", err=True)
        for job in jobs:
            job.start()
        with contextlib.suppress(KeyboardInterrupt), _metrics_port(settings, db):
            while not stop.wait(1):  # until SIGTERM or Ctrl-C
                pass
    finally:
        for job in jobs:
            job.stop()
        db.dispose()
        metrics.leave()


def _once(sweeper: Sweeper | None, housekeeper: Housekeeper | None, dispatcher: Dispatcher | None) -> None:
    """Each job that is on, once, saying what it did; exit 1 when the sweep or housekeeping failed."""
    if sweeper is not None:
        swept = sweeper.once()
        if swept is None:
            raise typer.Exit(1)
        typer.echo(f"warned {swept.warned}, breached {swept.breached}", err=True)
    if housekeeper is not None:
        cleared = housekeeper.once()
        if cleared is None:
            raise typer.Exit(1)
        typer.echo(
            f"housekeeping: {cleared.idempotency_keys} idempotency keys purged, "
            f"{cleared.number_sequences} number sequences dropped",
            err=True,
        )
    if dispatcher is not None:
        dispatched = dispatcher.once()
        typer.echo(f"webhooks: {dispatched.attempts} attempts, {dispatched.delivered} delivered", err=True)


def _once_retention(retainer: Retainer | None) -> None:
    if retainer is not None:
        swept = retainer.once()
        if swept is None:
            raise typer.Exit(1)
        typer.echo(f"retention: {swept.complaints} complaints of {swept.people} people anonymised", err=True)


@retention.command("run")
def run_retention(
    limit: Annotated[int | None, typer.Option(min=1, help="Stop after this many people (the rest next time).")] = None,
) -> None:
    """Anonymise now every complaint closed longer ago than TOUSU_RETENTION_DAYS, one person at a time (safe to
    interrupt and run again)."""
    from app.attachments import storage
    from app.retention import service as retention_service

    settings = Settings()
    db = Database.from_settings(settings)
    try:
        swept = retention_service.run(db, settings, storage.from_settings(settings), limit=limit)
    finally:
        db.dispose()
    typer.echo(f"anonymised {swept.complaints} complaints of {swept.people} people")


@calendar.command("import")
def import_calendar(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="CSV with columns date,working,name.")],
    actor: Annotated[str, typer.Option(help="Who imports it (kept in the history).")] = "admin",
) -> None:
    """Import a year's official schedule (its holidays and adjusted working days); running clocks are recomputed.

    The years the file covers become known: their deadlines are no longer marked as assumed.
    """
    from app.sla import service as sla

    settings = Settings()
    db = Database.from_settings(settings)
    try:
        rows = sla.read_schedule(file)
        with db.writers.begin() as session:
            imported = sla.import_schedule(session, rows, actor, settings)
    except InvalidInput as exc:
        typer.echo(f"error: {exc.detail}", err=True)
        raise typer.Exit(2) from None
    finally:
        db.dispose()
    years = ", ".join(map(str, imported.years))
    typer.echo(f"imported {imported.days} days of {years}; {imported.clocks_recomputed} running clocks recomputed")


@stores.command("import")
def import_stores(
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="CSV with columns id,name,region[,active].")
    ],
) -> None:
    """Create or replace the stores a CSV file lists (UTF-8, header id,name,region[,active]; active defaults to true).

    All or nothing: any bad line (each is named by its number) and nothing is imported.
    """
    from app.directory import service as directory

    settings = Settings()
    db = Database.from_settings(settings)
    try:
        rows = directory.read_stores(file)
        with db.writers.begin() as session:
            imported = directory.import_stores(session, rows)
    except directory.BadRows as exc:
        for problem in exc.problems:
            typer.echo(f"error: {problem}", err=True)
        typer.echo(f"error: {exc.detail}", err=True)
        raise typer.Exit(2) from None
    except InvalidInput as exc:
        typer.echo(f"error: {exc.detail}", err=True)
        raise typer.Exit(2) from None
    finally:
        db.dispose()
    typer.echo(f"imported {imported} stores")


@cli.command()
def openapi(
    output: Annotated[Path, typer.Option(help="Where to write it.")] = ROOT / "openapi" / "openapi.json",
) -> None:
    """Write the OpenAPI document."""
    from app.main import create_app

    document = create_app(Settings()).openapi()
    output.write_text(json.dumps(document, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    typer.echo(f"wrote {output}", err=True)


def main() -> None:
    cli()
