"""The ``tousu`` command, run as a newcomer runs it: each command at least once through the installed entry point
(a process of its own); the other cases through the same typer app in this process."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, tousu_in_process
from tests.testclient import TestClient

TOUSU = Path(sys.executable).with_name("tousu")


def tousu(*args: str, database_url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TOUSU_DATABASE_URL": database_url}
    return subprocess.run([str(TOUSU), *args], env=env, capture_output=True, text=True, timeout=60, check=False)


def test_migrate_is_safe_to_run_again(database_url: str) -> None:
    result = tousu("migrate", database_url=database_url)
    assert result.returncode == 0, result.stderr
    assert "database at migration" in result.stderr


@pytest.mark.sqlite_only
def test_a_command_that_neither_serves_nor_migrates_loads_neither_fastapi_nor_alembic(database_url: str) -> None:
    """``tousu worker --once`` (what a cron job runs) loads no web framework and no migration tool: their imports
    are some 0.2 and 0.1 s of CPU at every start of a command."""
    script = (
        "import sys; from app.cli import cli; cli(['worker', '--once'], standalone_mode=False); "
        "print(sorted({name.split('.')[0] for name in sys.modules} & {'fastapi', 'alembic'}))"
    )
    env = {**os.environ, "TOUSU_DATABASE_URL": database_url}
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "[]"


def test_keys_create_prints_the_key_alone_on_the_last_line(database_url: str, client: TestClient) -> None:
    result = tousu(
        "keys", "create", "--role", "store", "--store", "SZ-FT-012", "--name", "福田店", database_url=database_url
    )
    assert result.returncode == 0, result.stderr
    key = result.stdout.splitlines()[-1]
    assert key.startswith("tsk_") and " " not in key
    response = client.get("/v1/complaints", headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 200, response.text


def test_keys_create_refuses_a_store_key_without_a_store(database_url: str) -> None:
    result = tousu_in_process("keys", "create", "--role", "store", "--name", "no store", database_url=database_url)
    assert result.returncode == 2
    assert "store_id" in result.stderr
    assert "tsk_" not in result.stdout


def test_keys_create_binds_a_department_key(database_url: str, client: TestClient) -> None:
    result = tousu_in_process(
        "keys",
        "create",
        "--role",
        "department",
        "--department",
        "品管部",
        "--name",
        "品管部",
        database_url=database_url,
    )
    assert result.returncode == 0, result.stderr
    key = result.stdout.splitlines()[-1]
    response = client.get("/v1/complaints", headers={"Authorization": f"Bearer {key}"})
    assert (response.status_code, response.json()["items"]) == (200, [])
    refused = tousu_in_process(
        "keys", "create", "--role", "department", "--name", "no department", database_url=database_url
    )
    assert refused.returncode == 2
    assert "department" in refused.stderr and "tsk_" not in refused.stdout


def test_bootstrap_creates_one_admin_key_only(database_url: str, client: TestClient) -> None:
    first = tousu_in_process("keys", "bootstrap", database_url=database_url)
    assert first.returncode == 0, first.stderr
    keys = [word for word in first.stdout.split() if word.startswith("tsk_")]
    assert keys, first.stdout
    response = client.get("/v1/api-keys", headers={"Authorization": f"Bearer {keys[0]}"})
    assert response.status_code == 200
    assert [key["role"] for key in response.json()] == ["admin"]

    second = tousu_in_process("keys", "bootstrap", database_url=database_url)
    assert second.returncode == 0
    assert "tsk_" not in second.stdout
    assert len(client.get("/v1/api-keys", headers={"Authorization": f"Bearer {keys[0]}"}).json()) == 1


def test_bootstrap_shows_the_key_at_work_on_the_url_given(database_url: str, client: TestClient) -> None:
    result = tousu("keys", "bootstrap", "--url", "http://127.0.0.1:8731/", database_url=database_url)
    assert result.returncode == 0, result.stderr
    key = next(word for word in result.stdout.split() if word.startswith("tsk_"))
    assert f"    curl -H 'Authorization: Bearer {key}' http://127.0.0.1:8731/v1/workflow\n" in result.stdout


def test_make_run_stops_before_making_a_key_when_its_port_is_taken(tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        env = {**os.environ, "TOUSU_DATABASE_URL": f"sqlite:///{tmp_path / 'tousu.db'}"}
        # This interpreter's bin, and no install step: the test runs in an environment that is installed already.
        make = ["make", "-s", "run", "HOST=127.0.0.1", f"PORT={port}", f"BIN={TOUSU.parent}", "STAMP="]
        result = subprocess.run(make, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode != 0
    assert f"make run: cannot listen on 127.0.0.1:{port} (another server?)" in result.stderr
    assert "tsk_" not in result.stdout and "serving on" not in result.stdout
    assert not (tmp_path / "tousu.db").exists()
