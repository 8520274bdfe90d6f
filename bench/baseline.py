"""The bare FastAPI app tousu is measured against: the same requests, the same database work, nothing else.

- ``POST /v1/complaints``: the same request as tousu's registration (headers, JSON body), parsed with a pydantic
  model and stored as one similar row in one transaction, in a table of its own. No API key lookup, complaint
  number, history entry, secondary indexes or response model.
- ``GET /v1/complaints/{id}``: one row selected by key, returned as JSON.
- ``GET /v1/complaints?limit=50``: the 50 newest rows, returned as JSON.
- ``POST /v1/complaints/{id}/{move}`` (``investigate``, ``store-feedback``): in one transaction, the row locked
  (``SELECT ... FOR UPDATE``), updated, and a history row inserted; the updated row returned as JSON.

The reads and moves work on ``bench_bare_cases`` and ``bench_bare_events``, made ``LIKE`` tousu's ``complaints``
and ``complaint_events`` (same columns, defaults and indexes, so an update or insert maintains the same indexes)
and filled with copies of tousu's rows (bench/run.py). Plain SQLAlchemy Core, no API key, no ORM, no response
model: the floor of FastAPI + SQLAlchemy + PostgreSQL on this machine. Served by ``uvicorn bench.baseline:app``
with the same settings as tousu; ``BENCH_DATABASE_URL`` names the database (migrated by tousu).
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import FastAPI, Header, HTTPException, Query, status
from pydantic import BaseModel, Field
from sqlalchemy import create_engine, text

TABLE = "bench_bare_complaints"

CREATE_TABLE = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    id uuid PRIMARY KEY,
    complainant_name varchar(200) NOT NULL,
    complainant_phone varchar(32) NOT NULL,
    channel varchar(32) NOT NULL,
    category varchar(32) NOT NULL,
    store_id varchar(64),
    department varchar(100),
    description text NOT NULL,
    customer_request text,
    external_ref varchar(100),
    actor varchar(100),
    received_at timestamptz NOT NULL
)
"""

INSERT = text(
    f"INSERT INTO {TABLE} (id, complainant_name, complainant_phone, channel, category, store_id, department, "
    "description, customer_request, external_ref, actor, received_at) VALUES (:id, :complainant_name, "
    ":complainant_phone, :channel, :category, :store_id, :department, :description, :customer_request, "
    ":external_ref, :actor, :received_at)"
)

CASES = "bench_bare_cases"
EVENTS = "bench_bare_events"

# Run by bench/run.py in a database tousu has migrated, once its complaints are registered.
CREATE_CASES = (
    f"CREATE TABLE {CASES} (LIKE complaints INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES)",
    f"CREATE TABLE {EVENTS} (LIKE complaint_events INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES)",
    f"INSERT INTO {CASES} SELECT * FROM complaints",
    f"INSERT INTO {EVENTS} SELECT * FROM complaint_events",
    f"VACUUM ANALYZE {CASES}, {EVENTS}",
)

SELECT_ONE = text(f"SELECT * FROM {CASES} WHERE id = :id")
SELECT_PAGE = text(f"SELECT * FROM {CASES} ORDER BY id DESC LIMIT :limit")
LOCK = text(f"SELECT * FROM {CASES} WHERE id = :id FOR UPDATE")
UPDATE = text(
    f"UPDATE {CASES} SET state = :state, version = version + 1, updated_at = :at, "
    "responsible_store_id = COALESCE(:store_id, responsible_store_id), "
    "dispatched_at = COALESCE(:dispatched_at, dispatched_at), "
    "investigating_at = COALESCE(investigating_at, :investigating_at), "
    "responsibility = COALESCE(:responsibility, responsibility) "
    "WHERE id = :id RETURNING *"
)
INSERT_EVENT = text(
    f"INSERT INTO {EVENTS} (complaint_id, move, from_state, to_state, actor, at, payload) "
    "VALUES (:id, :move, :from_state, :to_state, :actor, :at, CAST(:payload AS jsonb))"
)
# The state each move leaves the row in (None: the state stays).
MOVES = {"investigate": "investigating", "store-feedback": None}

engine = create_engine(
    os.environ.get("BENCH_DATABASE_URL", "postgresql+psycopg://127.0.0.1:5432/tousu_bench"),
    pool_size=int(os.environ.get("BENCH_POOL_SIZE", "10")),  # as tousu's TOUSU_DB_POOL_SIZE: a pool, as many more
    max_overflow=int(os.environ.get("BENCH_POOL_SIZE", "10")),
)


@asynccontextmanager
async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
    yield
    engine.dispose()


app = FastAPI(lifespan=lifespan)


class Complainant(BaseModel):
    name: str = Field(max_length=200)
    phone: str = Field(max_length=32)


class ComplaintIn(BaseModel):
    complainant: Complainant
    channel: str = Field(max_length=32)
    category: str = Field(max_length=32)
    store_id: str | None = Field(None, max_length=64)
    department: str | None = Field(None, max_length=100)
    description: str
    customer_request: str | None = None
    external_ref: str | None = Field(None, max_length=100)


def uuid7() -> uuid.UUID:
    """Time-ordered, like tousu's ids, so both tables grow at the end of their primary key index."""
    value = (int(datetime.now(UTC).timestamp() * 1000) & (2**48 - 1)) << 80 | int.from_bytes(uuid.uuid4().bytes[6:])
    value = (value & ~(0xF << 76)) | (0x7 << 76)
    return uuid.UUID(int=(value & ~(0x3 << 62)) | (0x2 << 62))


@app.post("/v1/complaints", status_code=status.HTTP_201_CREATED)
def register(body: ComplaintIn, x_actor: Annotated[str | None, Header()] = None) -> dict[str, Any]:
    row = {
        "id": uuid7(),
        "complainant_name": body.complainant.name,
        "complainant_phone": body.complainant.phone,
        "channel": body.channel,
        "category": body.category,
        "store_id": body.store_id,
        "department": body.department,
        "description": body.description,
        "customer_request": body.customer_request,
        "external_ref": body.external_ref,
        "actor": x_actor,
        "received_at": datetime.now(UTC),
    }
    with engine.begin() as connection:
        connection.execute(INSERT, row)
    return {**row, "id": str(row["id"]), "received_at": row["received_at"].isoformat()}


@app.get("/v1/complaints/{complaint_id}")
def read(complaint_id: uuid.UUID) -> dict[str, Any]:
    with engine.connect() as connection:
        row = connection.execute(SELECT_ONE, {"id": complaint_id}).mappings().first()
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND)
    return dict(row)


@app.get("/v1/complaints")
def page(limit: Annotated[int, Query(ge=1, le=200)] = 50) -> dict[str, Any]:
    with engine.connect() as connection:
        rows = connection.execute(SELECT_PAGE, {"limit": limit}).mappings().all()
    return {"items": [dict(row) for row in rows]}


class MoveIn(BaseModel):
    store_id: str | None = Field(None, max_length=64)
    cause: str | None = None
    responsible_person: str | None = Field(None, max_length=100)
    responsibility: str | None = Field(None, max_length=32)


@app.post("/v1/complaints/{complaint_id}/{move}")
def move(
    complaint_id: uuid.UUID, move: str, body: MoveIn, x_actor: Annotated[str | None, Header()] = None
) -> dict[str, Any]:
    if move not in MOVES:
        raise HTTPException(status.HTTP_404_NOT_FOUND)
    at = datetime.now(UTC)
    with engine.begin() as connection:
        locked = connection.execute(LOCK, {"id": complaint_id}).mappings().first()
        if locked is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND)
        state = MOVES[move] or locked["state"]
        changes = {
            "id": complaint_id,
            "state": state,
            "at": at,
            "store_id": body.store_id,
            "dispatched_at": at if body.store_id else None,
            "investigating_at": at if state == "investigating" else None,
            "responsibility": body.responsibility,
        }
        row = connection.execute(UPDATE, changes).mappings().one()
        event = {"id": complaint_id, "move": move, "from_state": locked["state"], "to_state": state, "at": at}
        payload = json.dumps(body.model_dump(exclude_none=True), ensure_ascii=False)
        connection.execute(INSERT_EVENT, {**event, "actor": x_actor or "unknown", "payload": payload})
    return dict(row)


@app.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}
