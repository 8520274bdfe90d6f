"""compose.yaml: PostgreSQL, a one-shot migration, the API in two processes and a worker, with real settings and
real commands. There is no Docker engine here: the file is read, not run."""

from __future__ import annotations

import re
from typing import Any

import typer
import typer.core
import yaml
from sqlalchemy.engine import make_url

from app.cli import cli
from app.config import Settings
from tests.conftest import ROOT

COMPOSE = yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))
SERVICES = COMPOSE["services"]
TOUSU = ("migrate", "api", "worker")


def interpolated(value: str) -> str:
    """The value as compose makes it, with ``${NAME}``, ``${NAME:?message}`` and ``${NAME:-default}`` set."""
    return re.sub(r"\$\{(\w+)(?::?[-?][^}]*)?\}", "secret", value)


def cli_command(argv: list[str]) -> Any:
    """The command ``argv`` runs; raises when it names a command or an option the CLI does not have."""
    assert argv[0] == "tousu"
    command, args = typer.main.get_command(cli), argv[1:]
    while isinstance(command, typer.core.TyperGroup):
        command, args = command.commands[args[0]], args[1:]
    command.make_context(argv[0], list(args))
    return command


def depends(service: str) -> dict[str, str]:
    return {name: when["condition"] for name, when in SERVICES[service]["depends_on"].items()}


def test_postgresql_keeps_its_data_and_says_when_it_is_ready() -> None:
    db = SERVICES["db"]
    assert db["image"].startswith("postgres:")
    volume, _, path = db["volumes"][0].partition(":")
    assert volume in COMPOSE["volumes"] and path == "/var/lib/postgresql/data"
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])


def test_migrations_run_once_before_the_api_and_the_worker_start() -> None:
    assert cli_command(SERVICES["migrate"]["command"]).name == "migrate"
    assert SERVICES["migrate"]["restart"] == "no"
    assert depends("migrate") == {"db": "service_healthy"}
    assert depends("api") == depends("worker") == {"migrate": "service_completed_successfully"}


def test_the_api_serves_in_two_processes_and_leaves_the_background_work_to_the_worker() -> None:
    api = SERVICES["api"]
    assert cli_command(api["command"]).name == "serve"
    options = dict(zip(api["command"][2::2], api["command"][3::2], strict=True))
    assert options["--workers"] == "2"
    assert api["ports"] == [f"{options['--port']}:{options['--port']}"]
    assert api["environment"]["TOUSU_SWEEP_IN_SERVE"] == api["environment"]["TOUSU_DISPATCH_IN_SERVE"] == "false"
    assert cli_command(SERVICES["worker"]["command"]).name == "worker"


def test_every_tousu_process_is_built_here_with_the_same_settings() -> None:
    settings = [SERVICES[name]["environment"] for name in TOUSU]
    shared = {name: value for name, value in settings[0].items() if all(env.get(name) == value for env in settings)}
    assert "TOUSU_DATABASE_URL" in shared and "TOUSU_TIMEZONE" in shared
    assert all(SERVICES[name]["build"] == "." for name in TOUSU)
    assert (ROOT / "Dockerfile").exists()


def test_every_setting_is_a_real_one_with_a_valid_value() -> None:
    for name in ("db", *TOUSU):
        environment: dict[str, Any] = SERVICES[name]["environment"]
        assert all(isinstance(value, str) for value in environment.values()), f"{name}: quote every value"
        values = {key.removeprefix("TOUSU_").lower(): interpolated(value) for key, value in environment.items()}
        tousu = {key: value for key, value in values.items() if f"TOUSU_{key.upper()}" in environment}
        unknown = tousu.keys() - Settings.model_fields.keys()
        assert not unknown, f"{name} sets settings tousu does not have: {unknown}"
        Settings(**tousu)


def test_the_database_url_names_the_database_compose_makes() -> None:
    url = make_url(interpolated(SERVICES["api"]["environment"]["TOUSU_DATABASE_URL"]))
    postgres = SERVICES["db"]["environment"]
    assert (url.host, url.username, url.database) == ("db", postgres["POSTGRES_USER"], postgres["POSTGRES_DB"])
    assert url.password == interpolated(postgres["POSTGRES_PASSWORD"])
