"""Settings, read once from ``TOUSU_*`` environment variables."""

from __future__ import annotations

import itertools
from datetime import time
from decimal import Decimal
from functools import cached_property
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = f"sqlite:///{ROOT / 'var' / 'tousu.db'}"
DEFAULT_ATTACHMENT_STORE = str(ROOT / "var" / "attachments")
LogFormat = Literal["console", "json"]


def parse_windows(text: str) -> tuple[tuple[time, time], ...]:
    """``10:00-11:30,14:30-16:30`` → the windows in order; refuses empty and overlapping windows."""
    windows = []
    for part in text.split(","):
        start, _, end = part.strip().partition("-")
        try:
            window = (time.fromisoformat(start.strip()), time.fromisoformat(end.strip()))
        except ValueError:
            raise ValueError(f"window {part.strip()!r} is not HH:MM-HH:MM") from None
        if window[0] >= window[1]:
            raise ValueError(f"window {part.strip()!r} ends before it starts")
        windows.append(window)
    windows.sort()
    for earlier, later in itertools.pairwise(windows):
        if later[0] < earlier[1]:
            raise ValueError("follow-up windows overlap")
    return tuple(windows)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TOUSU_", frozen=True)

    database_url: str = Field(
        DEFAULT_DATABASE_URL,
        description="SQLAlchemy URL. Default: the embedded SQLite file ./var/tousu.db. "
        "PostgreSQL: postgresql+psycopg://user@host:5432/tousu",
    )
    timezone: str = Field("Asia/Shanghai", description="Local time zone for complaint numbers and clocks.")
    db_pool_size: int = Field(10, ge=1, description="PostgreSQL connection pool size per process.")
    database_pooler: Literal["none", "pgbouncer"] = Field(
        "none",
        description="`pgbouncer`: TOUSU_DATABASE_URL reaches PostgreSQL through PgBouncer in transaction pooling "
        "mode: no statement is prepared on the server, and key revocations are listened for on "
        "TOUSU_DATABASE_DIRECT_URL (unset: every request looks its key up).",
    )
    database_direct_url: str | None = Field(
        None,
        description="PostgreSQL itself, not through a pooler, for the one connection of each API process that needs "
        "a session of its own: the LISTEN for key revocations. Unset: TOUSU_DATABASE_URL, unless behind PgBouncer.",
    )
    sqlite_busy_timeout_ms: int = Field(5000, ge=0, description="How long a SQLite writer waits for the lock.")
    max_body_bytes: int = Field(1024 * 1024, ge=1024, description="Largest request body accepted (bytes); more is 413.")
    max_attachment_bytes: int = Field(
        10 * 1024 * 1024,
        ge=1,
        description="Largest attachment accepted (bytes, default 10 MiB); more is 413, stopped as soon as it is "
        "passed.",
    )
    attachment_store: str = Field(
        DEFAULT_ATTACHMENT_STORE,
        description="Where attachments are kept: a folder (default ./var/attachments, made on first use) or "
        "s3://bucket/prefix on S3-compatible object storage.",
    )
    s3_endpoint_url: str | None = Field(
        None,
        description="Endpoint of the S3-compatible storage (e.g. http://minio:9000); unset: AWS S3. Credentials and "
        "region as boto3 reads them (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_DEFAULT_REGION).",
    )
    idempotency_keep_hours: int = Field(
        24, ge=24, description="How long an Idempotency-Key and its response are kept (at least 24 hours)."
    )
    retry_after_seconds: int = Field(
        2, ge=1, description="Retry-After sent with 503 when the database is unreachable or busy."
    )
    key_cache_seconds: float = Field(
        10,
        ge=0,
        description="How long a process trusts an API key it has checked, while it hears of every revocation "
        "(0: check every request).",
    )
    auth_failure_burst: int = Field(
        50,
        ge=1,
        description="Failed authentications (unknown, revoked or malformed keys) one client address may make in "
        "a row before it is answered 429; counted by each process on its own.",
    )
    auth_failure_per_minute: float = Field(
        30, gt=0, description="How many more failed authentications a client address earns per minute."
    )
    public_base_url: str = Field(
        "https://tousu.example.com",
        pattern=r"^https?://[^/?#\s]+$",
        description="Where customers reach tousu: the scheme and host of the progress links texted to them "
        "(`<base>/p/<token>`), no path.",
    )
    service_phone: str = Field(
        "400-000-0000", min_length=1, max_length=40, description="The service phone the progress page names."
    )
    progress_requests_burst: int = Field(
        30, ge=1, description="Progress-page requests (/p/...) one client address may make in a row before 429."
    )
    progress_requests_per_minute: float = Field(
        20, gt=0, description="How many more progress-page requests a client address earns per minute."
    )
    log_level: str = Field("INFO", pattern="^(DEBUG|INFO|WARNING|ERROR)$", description="Level of the logs.")
    log_format: LogFormat = Field(
        "json", description="`json`: a JSON object a line, for machines; `console`: a readable line (make run)."
    )
    close_of_business: time = Field(
        time(18, 0), description="Working-day deadlines fall at this local time of their last working day."
    )
    follow_up_windows: str = Field(
        "10:00-11:30,14:30-16:30,19:00-20:00",
        description="The customer's good hours for the follow-up call (local time); never in rest time.",
    )
    follow_up_unreachable_after_days: int = Field(
        3,
        ge=1,
        le=30,
        description="Unanswered follow-up calls on this many different days let a complaint close as `unreachable`.",
    )
    repeat_count: int = Field(
        3,
        ge=2,
        le=100,
        description="The complaint from one phone that makes it a repeat complaint (the 3rd by default) within "
        "`TOUSU_REPEAT_WINDOW_DAYS`: it is registered urgent, linked to the others and escalated.",
    )
    repeat_window_days: int = Field(
        90, ge=1, le=3660, description="The days back from a complaint's receipt that its phone's complaints count."
    )
    sla_policy_file: Path | None = Field(
        None, description="TOML file with the clocks' targets per priority (see app/sla/policy.py); default: built-in."
    )
    sweep_interval: float = Field(30, gt=0, description="Seconds between two sweeps of the clocks.")
    sweep_in_serve: bool = Field(
        True,
        description="Sweep, keep house and anonymise past retention inside `tousu serve` (one process, embedded "
        "SQLite); false when `tousu worker` runs.",
    )
    housekeeping_interval: float = Field(
        3600, gt=0, description="Seconds between two rounds of housekeeping (expired idempotency keys, old sequences)."
    )
    worker_sweep: bool = Field(True, description="`tousu worker` sweeps the clocks (also: --sweep/--no-sweep).")
    worker_dispatch: bool = Field(
        True, description="`tousu worker` delivers webhooks (also: --dispatch/--no-dispatch)."
    )
    worker_housekeeping: bool = Field(
        True, description="`tousu worker` keeps house (also: --housekeeping/--no-housekeeping)."
    )
    retention_days: int = Field(
        1095,
        ge=1,
        description="Days a closed (rejected or revisited) complaint keeps its complainant's personal data (default "
        "three years); then the worker and `tousu retention run` anonymise it.",
    )
    retention_interval: float = Field(86400, gt=0, description="Seconds between two retention runs of the worker.")
    worker_retention: bool = Field(
        True, description="`tousu worker` anonymises complaints past retention (also: --retention/--no-retention)."
    )
    dispatch_in_serve: bool = Field(
        True, description="Deliver webhooks inside `tousu serve`; false when `tousu worker` runs."
    )
    dispatch_interval: float = Field(1, gt=0, description="Seconds the webhook dispatcher waits when it is idle.")
    webhook_timeout_seconds: float = Field(15, gt=0, description="Timeout of one webhook delivery attempt.")
    webhook_concurrency: int = Field(8, ge=1, description="Webhook deliveries one dispatcher sends at the same time.")
    webhook_disable_after_hours: float = Field(
        120, gt=0, description="An endpoint whose attempts have all failed for this long is disabled."
    )
    webhook_allow_private: bool = Field(
        False, description="Allow http and loopback, private and link-local webhook targets (development, tests)."
    )
    metrics_port: int | None = Field(
        None,
        ge=1,
        le=65535,
        description="Port of the Prometheus metrics (plain HTTP, no API key) served by `tousu serve` and `tousu "
        "worker`; unset: no metrics port.",
    )
    metrics_host: str = Field("127.0.0.1", description="Address the metrics port listens on.")
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

    @field_validator("attachment_store")
    @classmethod
    def _bucket_named(cls, value: str) -> str:
        if value.startswith("s3://") and not value.removeprefix("s3://").partition("/")[0]:
            raise ValueError("s3:// names a bucket: s3://bucket/prefix")
        return value

    @field_validator("follow_up_windows")
    @classmethod
    def _valid_windows(cls, value: str) -> str:
        parse_windows(value)
        return value

    @cached_property
    def windows(self) -> tuple[tuple[time, time], ...]:
        return parse_windows(self.follow_up_windows)

    @cached_property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")
