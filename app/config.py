"""Settings, read once from ``TOUSU_*`` environment variables."""

from __future__ import annotations

from decimal import Decimal
from functools import cached_property
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = f"sqlite:///{ROOT / 'var' / 'tousu.db'}"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TOUSU_", frozen=True)

    database_url: str = Field(
        DEFAULT_DATABASE_URL,
        description="SQLAlchemy URL. Default: the embedded SQLite file ./var/tousu.db. "
        "PostgreSQL: postgresql+psycopg://user@host:5432/tousu",
    )
    timezone: str = Field("Asia/Shanghai", description="Local time zone for complaint numbers and clocks.")
    db_pool_size: int = Field(10, ge=1, description="PostgreSQL connection pool size per process.")
    sqlite_busy_timeout_ms: int = Field(5000, ge=0, description="How long a SQLite writer waits for the lock.")
    max_body_bytes: int = Field(1024 * 1024, ge=1024, description="Largest request body accepted (bytes); more is 413.")
    idempotency_keep_hours: int = Field(
        24, ge=24, description="How long an Idempotency-Key and its response are kept (at least 24 hours)."
    )
    retry_after_seconds: int = Field(
        2, ge=1, description="Retry-After sent with 503 when the database is unreachable or busy."
    )
    log_level: str = Field("INFO", pattern="^(DEBUG|INFO|WARNING|ERROR)$", description="Level of the JSON logs.")
    authority_handler: Decimal = Field(Decimal("0"), ge=0, description="Approval authority of handler keys (yuan).")
    authority_supervisor: Decimal = Field(Decimal("2000"), ge=0, description="Approval authority of supervisors.")
    authority_manager: Decimal = Field(Decimal("20000"), ge=0, description="Approval authority of managers.")
    authority_admin: Decimal | None = Field(
        None, ge=0, description="Approval authority of admin keys; empty means no limit (general manager)."
    )

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @cached_property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")
