"""Liveness and readiness, for load balancers and orchestrators; no key needed."""

from typing import Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from app import errors

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: Literal["ok"]


class Readiness(BaseModel):
    status: Literal["ready"]
    migration: str


@router.get("/healthz", operation_id="getHealth", summary="Alive", description="The process answers.")
def healthz() -> Health:
    return Health(status="ok")


@router.get(
    "/readyz",
    operation_id="getReadiness",
    response_model=Readiness,
    summary="Ready",
    description="The database answers and its schema is at the newest migration.",
    responses=errors.responses(503),
)
def readyz(request: Request) -> Any:
    head = request.app.state.migration_head
    try:
        with request.app.state.db.engine.connect() as connection:
            current = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except SQLAlchemyError:
        return errors.problem_response(
            503, "Service Unavailable", detail="the database does not answer", headers={"Retry-After": "5"}
        )
    if current != head:
        return errors.problem_response(
            503,
            "Service Unavailable",
            detail=f"database schema at {current}, expected {head}: run tousu migrate",
            headers={"Retry-After": "30"},
        )
    return Readiness(status="ready", migration=head)
