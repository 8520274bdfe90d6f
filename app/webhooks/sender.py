"""One HTTP attempt: sign, POST, read at most 2 KB of the answer, time it. No database here."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import parsedate_to_datetime

import httpx

from app.config import Settings
from app.db import utcnow
from app.webhooks import signing, urls

RESPONSE_KEEP_BYTES = 2048
USER_AGENT = "tousu-webhooks/1"


@dataclass(frozen=True)
class Claimed:
    """What a dispatcher needs to send a delivery it has claimed (read in the claiming transaction)."""

    delivery_id: uuid.UUID
    endpoint_id: uuid.UUID
    message_id: str
    url: str
    body: str
    secrets: list[str] = field(repr=False)  # never in a log line or a traceback
    lease: datetime  # the claimed_until this dispatcher set: its proof that the delivery is still its own


@dataclass(frozen=True)
class Outcome:
    attempted_at: datetime
    status_code: int | None
    latency_ms: int
    response_body: str | None
    error: str | None
    retry_after: float | None  # seconds, from the Retry-After header

    @property
    def success(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def client(settings: Settings) -> httpx.Client:
    return httpx.Client(
        transport=urls.transport(allow_private=settings.webhook_allow_private),
        timeout=settings.webhook_timeout_seconds,
        follow_redirects=False,
        trust_env=False,
        headers={"User-Agent": USER_AGENT},
    )


def send(http: httpx.Client, claimed: Claimed, timeout: float) -> Outcome:
    at = utcnow()
    headers = signing.headers(claimed.message_id, at, claimed.body, claimed.secrets)
    headers["Content-Type"] = "application/json"
    started = time.perf_counter()
    status_code = retry_after = None
    body = error = None
    try:
        with http.stream("POST", claimed.url, content=claimed.body.encode(), headers=headers) as response:
            status_code = response.status_code
            retry_after = parse_retry_after(response.headers.get("Retry-After"), at)
            body = _first_bytes(response)
    except httpx.TimeoutException:
        error = f"timed out after {timeout:g} s"
    except (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError) as exc:
        # Every failure becomes a logged attempt: an exception here would leave the delivery to its lease forever.
        error = f"{type(exc).__name__}: {exc}"[:500]
    latency_ms = round((time.perf_counter() - started) * 1000)
    return Outcome(at, status_code, latency_ms, body, error, retry_after)


def _first_bytes(response: httpx.Response) -> str:
    kept = b""
    for chunk in response.iter_bytes():
        kept += chunk
        if len(kept) >= RESPONSE_KEEP_BYTES:
            break
    return kept[:RESPONSE_KEEP_BYTES].decode("utf-8", errors="replace")


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait: ``Retry-After: 120`` or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        return None
    return max(0.0, (moment - now).total_seconds())
