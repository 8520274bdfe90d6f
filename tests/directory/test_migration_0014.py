"""Migration 0014 (stores and departments as data) on a database filled by the schema before it, and back: every
unit already named becomes an active unit without a name. On both databases."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Engine, create_engine, inspect, text

from app import migrate
from app.config import Settings
from app.main import create_app
from tests.conftest import issue_key
from tests.testclient import TestClient

BEFORE = "0013"  # the schema before this migration
AT = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)

# The tables as the schema before 0014 holds them: only the columns this test writes.
COMPLAINTS = sa.table(
    "complaints",
    *(sa.column(name) for name in ("number", "state", "version", "complainant_name", "complainant_phone")),
    *(sa.column(name) for name in ("channel", "category", "priority", "description", "owner", "reopen_count")),
    *(sa.column(name) for name in ("store_id", "department", "purchase_store_id", "responsible_store_id")),
    sa.column("responsible_department"),
    sa.column("id", sa.Uuid()),
    *(sa.column(name, sa.DateTime(timezone=True)) for name in ("received_at", "accepted_at", "updated_at")),
)
CLOCKS = sa.table(
    "sla_clocks",
    *(sa.column(name) for name in ("kind", "unit", "target", "warn_after", "store_id", "department", "state")),
    sa.column("calendar_assumed", sa.Boolean()),
    sa.column("id", sa.Uuid()),
    sa.column("complaint_id", sa.Uuid()),
    *(sa.column(name, sa.DateTime(timezone=True)) for name in ("started_at", "warn_at", "due_at")),
)
KEYS = sa.table(
    "api_keys",
    *(sa.column(name) for name in ("name", "role", "store_id", "department", "prefix", "secret_hash")),
    sa.column("id", sa.Uuid()),
    sa.column("created_at", sa.DateTime(timezone=True)),
)
ENDPOINTS = sa.table(
    "webhook_endpoints",
    *(sa.column(name) for name in ("url", "store_id", "department", "secret", "created_by")),
    sa.column("enabled", sa.Boolean()),
    sa.column("id", sa.Uuid()),
    *(sa.column(name, sa.DateTime(timezone=True)) for name in ("created_at", "updated_at")),
)


def complaint(number: int, **units: str | None) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": uuid.uuid4(),
        "number": f"TS-20261123-{number:04d}",
        "state": "investigating",
        "version": 2,
        "complainant_name": "张三",
        "complainant_phone": "13812348000",
        "channel": "phone",
        "category": "billing",
        "priority": "normal",
        "description": "多收了钱",
        "owner": "agent-0042",
        "reopen_count": 0,
        "received_at": AT,
        "accepted_at": AT,
        "updated_at": AT,
    }
    for name in ("store_id", "department", "purchase_store_id", "responsible_store_id", "responsible_department"):
        row[name] = units.get(name)
    return row


def fill(engine: Engine) -> None:
    first = complaint(1, store_id="SZ-FT-012", responsible_store_id="SZ-FT-012", purchase_store_id="SZ-NS-003")
    second = complaint(2, department="物业工程部", responsible_department="品管部", responsible_store_id="GZ-TH-001")
    third = complaint(3, store_id="")  # an empty id names no unit
    clock = {
        "id": uuid.uuid4(),
        "complaint_id": second["id"],
        "kind": "store_feedback",
        "unit": "hours",
        "target": 8,
        "warn_after": 6,
        "store_id": None,
        "department": "客服中心",
        "state": "running",
        "calendar_assumed": False,
        "started_at": AT,
        "warn_at": AT,
        "due_at": AT,
    }
    key = {
        "id": uuid.uuid4(),
        "name": "门店键",
        "role": "store",
        "store_id": "SH-PD-101",
        "department": None,
        "prefix": "ts_abc",
        "secret_hash": "0" * 64,
        "created_at": AT,
    }
    endpoint = {
        "id": uuid.uuid4(),
        "url": "https://example.com/hook",
        "store_id": None,
        "department": "法务部",
        "secret": "whsec_x",
        "created_by": "tests",
        "enabled": True,
        "created_at": AT,
        "updated_at": AT,
    }
    with engine.begin() as connection:
        connection.execute(COMPLAINTS.insert(), [first, second, third])
        connection.execute(CLOCKS.insert(), [clock])
        connection.execute(KEYS.insert(), [key])
        connection.execute(ENDPOINTS.insert(), [endpoint])


def test_0014_fills_the_units_already_named_and_downgrades(empty_database: str) -> None:
    settings = Settings(database_url=empty_database)
    migrate.upgrade(settings, BEFORE)
    engine = create_engine(empty_database)
    try:
        fill(engine)
        migrate.upgrade(settings, "head")
        with engine.begin() as connection:
            stores = connection.execute(text("SELECT id, name, region, active FROM stores ORDER BY id")).all()
            departments = connection.execute(text("SELECT id, name, active FROM departments ORDER BY id")).all()
        assert [tuple(row) for row in stores] == [
            (store, None, None, True) for store in sorted(["SZ-FT-012", "SZ-NS-003", "GZ-TH-001", "SH-PD-101"])
        ]
        assert [tuple(row) for row in departments] == [
            (department, None, True) for department in sorted(["物业工程部", "品管部", "客服中心", "法务部"])
        ]
        migrate.downgrade(settings, BEFORE)
        tables = set(inspect(engine).get_table_names())
        assert "stores" not in tables and "departments" not in tables
        with engine.begin() as connection:
            assert connection.execute(text("SELECT count(*) FROM complaints")).scalar() == 3
        migrate.upgrade(settings, "head")  # and up again
    finally:
        engine.dispose()


def test_a_complaint_whose_units_0014_made_unnamed_keeps_moving(empty_database: str, tmp_path: Path) -> None:
    """Dispatch needs a known, active unit: the units 0014 made from the complaints before it are both."""
    settings = Settings(
        database_url=empty_database,
        sweep_in_serve=False,
        dispatch_in_serve=False,
        attachment_store=str(tmp_path / "attachments"),
    )
    migrate.upgrade(settings, BEFORE)
    engine = create_engine(empty_database)
    accepted = complaint(1, store_id="SZ-BA-021") | {"state": "accepted", "version": 1}
    dispatched = complaint(2, store_id="SZ-BA-022", responsible_store_id="SZ-BA-022")
    try:
        with engine.begin() as connection:
            connection.execute(COMPLAINTS.insert(), [accepted, dispatched])
    finally:
        engine.dispose()
    migrate.upgrade(settings, "head")
    handler = {"Authorization": f"Bearer {issue_key(settings, 'handler')}", "X-Actor": "handler-07"}
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        investigate = client.post(
            f"/v1/complaints/{accepted['id']}/investigate", json={"store_id": "SZ-BA-021"}, headers=handler
        )
        feedback = {"store_id": "SZ-BA-022", "cause": "店员未按退货流程操作", "responsibility": "staff_fault"}
        fed_back = client.post(f"/v1/complaints/{dispatched['id']}/store-feedback", json=feedback, headers=handler)
        redispatch = client.post(
            f"/v1/complaints/{accepted['id']}/investigate", json={"store_id": "SZ-BA-023"}, headers=handler
        )
    assert investigate.status_code == 200, investigate.text
    assert investigate.json()["responsible_store_id"] == "SZ-BA-021"
    assert fed_back.status_code == 200, fed_back.text
    assert redispatch.status_code == 409, redispatch.text  # investigating already: the move, not the unit
