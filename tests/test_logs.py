"""Logs: JSON or console lines with a request id, X-Request-ID echoed, and never a complainant's phone number or
name."""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from app import logs
from tests.conftest import ROOT, live_http

PHONE = "13987654321"
NAME = "欧阳娜娜"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(params=["json"])
def served(tmp_path: Path, request: pytest.FixtureRequest) -> Any:
    """``tousu serve`` in its own process, as an operator runs it; its standard error is the log."""
    env = {**os.environ, "TOUSU_DATABASE_URL": f"sqlite:///{tmp_path / 'tousu.db'}", "TOUSU_LOG_FORMAT": request.param}
    tousu = str(Path(sys.executable).with_name("tousu"))
    subprocess.run([tousu, "migrate"], env=env, check=True, capture_output=True)
    created = subprocess.run(
        [tousu, "keys", "create", "--role", "handler", "--name", "crm"], env=env, check=True, capture_output=True
    )
    key = created.stdout.decode().strip().splitlines()[-1]
    port = free_port()
    log = tmp_path / "stderr.log"
    with log.open("wb") as stderr:
        server = subprocess.Popen(
            [tousu, "serve", "--port", str(port)], env=env, stderr=stderr, stdout=subprocess.DEVNULL, cwd=ROOT
        )
        url = f"http://127.0.0.1:{port}"
        for _ in range(200):
            try:
                live_http().get(url + "/healthz", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.05)
        try:
            yield url, key, log
        finally:
            server.send_signal(signal.SIGINT)
            server.wait(timeout=15)


def complain_with_contact_details(url: str, key: str) -> str:
    """Registers, searches by phone, sends a phone where it is refused and as a request id; the made-up id."""
    headers = {"Authorization": f"Bearer {key}", "X-Actor": "agent-0042"}
    body = {
        "complainant": {"name": NAME, "phone": PHONE, "email": "nana@example.cn"},
        "channel": "phone",
        "category": "billing",
        "store_id": "SZ-FT-012",
        "description": f"电话{PHONE}的顾客{NAME}投诉多收费。",
    }
    created = live_http().post(url + "/v1/complaints", json=body, headers={**headers, "X-Request-ID": "crm-req-7781"})
    assert created.status_code == 201
    assert created.headers["X-Request-ID"] == "crm-req-7781"
    found = live_http().get(url + "/v1/complaints", params={"phone": PHONE}, headers=headers)
    assert len(found.json()["items"]) == 1
    made_up = found.headers["X-Request-ID"]
    assert len(made_up) == 32
    bad = live_http().post(url + "/v1/complaints", json={**body, "channel": f"call {PHONE}"}, headers=headers)
    assert bad.status_code == 422
    assert PHONE not in bad.text
    rejected_id = live_http().get(url + "/healthz", headers={"X-Request-ID": f"{PHONE} {NAME}".encode()})
    assert rejected_id.headers["X-Request-ID"] != f"{PHONE} {NAME}"
    return made_up


def read_log(log: Path) -> str:
    time.sleep(0.2)
    text = log.read_text(encoding="utf-8")
    assert PHONE not in text
    assert NAME not in text and "nana@example.cn" not in text
    return text


def test_logs_are_json_with_request_ids_and_no_contact_details(served: Any) -> None:
    url, key, log = served
    made_up = complain_with_contact_details(url, key)
    text = read_log(log)
    lines = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    access = [line for line in lines if line["logger"] == "tousu.access"]
    assert {"crm-req-7781", made_up} <= {line["request_id"] for line in access}
    by_id = {line["request_id"]: line for line in access}
    assert by_id["crm-req-7781"]["route"] == "/v1/complaints"
    assert by_id["crm-req-7781"]["status"] == 201
    assert by_id[made_up]["method"] == "GET"
    assert all({"time", "level", "logger", "message"} <= line.keys() for line in lines)
    non_json = [line for line in text.splitlines() if line.strip() and not line.startswith("{")]
    assert non_json == []


# time, level, request id (or -), message, then key=value fields
CONSOLE_LINE = re.compile(r"(\d\d:\d\d:\d\d\.\d{3}) (DEBUG|INFO|WARNING|ERROR|CRITICAL) +(\S+) (.*)")


@pytest.mark.parametrize("served", ["console"], indirect=True)
def test_console_logs_carry_request_ids_and_no_contact_details(served: Any) -> None:
    url, key, log = served
    made_up = complain_with_contact_details(url, key)
    lines = read_log(log).splitlines()
    parsed = [CONSOLE_LINE.fullmatch(line) for line in lines if line.strip()]
    assert all(parsed), [line for line, match in zip(lines, parsed, strict=False) if not match]
    access = {match[3]: match[4] for match in parsed if match and match[4].startswith("request ")}
    assert re.fullmatch(
        r"request method=POST route=/v1/complaints status=201 duration_ms=[\d.]+", access["crm-req-7781"]
    )
    assert re.fullmatch(r"request method=GET route=/v1/complaints status=200 duration_ms=[\d.]+", access[made_up])
    assert any(match and match[3] == "-" and match[4].startswith("Uvicorn running on") for match in parsed)


def console_line(record: logging.LogRecord) -> str:
    record.request_id = "crm-req-7781"
    return logs.ConsoleFormatter().format(record)


def test_console_line_quotes_fields_that_hold_spaces() -> None:
    record = logging.makeLogRecord(
        {"levelname": "WARNING", "msg": "webhook endpoint %s", "args": ("disabled",), "endpoint_id": "e-1"}
    )
    record.reason = 'no answer: "timed out"'
    record.route = None
    line = console_line(record)
    assert CONSOLE_LINE.fullmatch(line)
    assert line.endswith(
        ' WARNING crm-req-7781 webhook endpoint disabled endpoint_id=e-1 reason="no answer: \\"timed out\\"" route=null'
    )


def test_console_line_is_followed_by_its_traceback() -> None:
    try:
        raise RuntimeError("database gone")
    except RuntimeError:
        record = logging.makeLogRecord({"levelname": "ERROR", "msg": "unhandled error", "exc_info": sys.exc_info()})
    record.error_id = "err-1"
    first, *rest = console_line(record).splitlines()
    assert first.endswith(" ERROR   crm-req-7781 unhandled error error_id=err-1")
    assert rest[0] == "Traceback (most recent call last):" and rest[-1] == "RuntimeError: database gone"
