"""The bare FastAPI app tousu's registration is measured against.

The same request as ``POST /v1/complaints`` (headers, JSON body), parsed with a pydantic model and stored as one
similar row in one transaction with plain SQLAlchemy Core, in a table of its own. No API key lookup, complaint
number, history entry, secondary indexes or response model: the floor of FastAPI + SQLAlchemy + PostgreSQL on this
machine. Served by ``uvicorn bench.baseline:app`` with the same settings as tousu; ``BENCH_DATABASE_URL`` names the
database.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import FastAPI, Header, status
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

engine = create_engine(
    os.environ.get("BENCH_DATABASE_URL", "postgresql+psycopg://127.0.0.1:5432/tousu_bench"),
    pool_size=10,
    max_overflow=10,
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


@app.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}
