"""The dispatcher: fan out the outbox, claim due deliveries, send them, record each attempt.

A delivery is claimed in a short transaction (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so dispatchers sharing
one database never claim the same one) that sets a lease (``claimed_until``) and commits *before* the HTTP call;
the answer is recorded in a second transaction. A dispatcher killed in between leaves a lease that runs out, and
the delivery is sent again with the same ``webhook-id``: at least once, never lost. Per endpoint, a complaint's
deliveries go one at a time in the order of its history: only the oldest one still pending may be claimed.
"""

from __future__ import annotations

import contextlib
import logging
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import ColumnElement, CursorResult, exists, or_, select, update
from sqlalchemy.orm import Session, aliased

from app.complaints.models import ComplaintEvent
from app.config import Settings
from app.db import Database, utcnow
from app.metrics.series import WEBHOOK_ATTEMPTS, attempt_result
from app.webhooks import outbox, sender
from app.webhooks.models import DeliveryStatus, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from app.webhooks.sender import Claimed, Outcome

log = logging.getLogger("tousu.webhooks")

# Waits after the 1st, 2nd, ... failed attempt: 12 attempts over about 2 days 20 hours, then the delivery fails.
SCHEDULE = tuple(
    timedelta(seconds=s)
    for s in (5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600, 10 * 3600, 10 * 3600, 10 * 3600, 10 * 3600, 10 * 3600)
)
JITTER = 0.1  # each wait is stretched or shrunk by up to 10 %, so that a recovering receiver is not hit all at once
MAX_RETRY_AFTER = timedelta(hours=24)


def lease(settings: Settings) -> timedelta:
    """Longer than any attempt can take (connect, write and read each have the timeout)."""
    return timedelta(seconds=4 * settings.webhook_timeout_seconds + 30)


def next_wait(attempts: int, retry_after: float | None) -> timedelta | None:
    """The wait after the ``attempts``-th failed attempt; None when that was the last one."""
    if attempts > len(SCHEDULE):
        return None
    wait = SCHEDULE[attempts - 1] * random.uniform(1 - JITTER, 1 + JITTER)
    if retry_after is not None:
        wait = max(wait, min(timedelta(seconds=retry_after), MAX_RETRY_AFTER))
    return wait


def signing_secrets(endpoint: WebhookEndpoint, now: datetime) -> list[str]:
    secrets = [endpoint.secret]
    expires = endpoint.previous_secret_expires_at
    if endpoint.previous_secret and expires is not None and expires > now:
        secrets.append(endpoint.previous_secret)
    return secrets


def claimable(now: datetime) -> list[ColumnElement[bool]]:
    """What makes a delivery (joined to its endpoint) one a dispatcher may claim now."""
    delivery, earlier = WebhookDelivery, aliased(WebhookDelivery)
    blocked = exists().where(
        earlier.endpoint_id == delivery.endpoint_id,
        earlier.complaint_id == delivery.complaint_id,
        earlier.next_attempt_at.is_not(None),
        earlier.event_id < delivery.event_id,
    )
    return [
        delivery.next_attempt_at <= now,
        or_(delivery.claimed_until.is_(None), delivery.claimed_until <= now),
        WebhookEndpoint.enabled.is_(True),
        WebhookEndpoint.deleted_at.is_(None),
        ~blocked,
    ]


def claim(session: Session, now: datetime, limit: int, settings: Settings) -> list[Claimed]:
    """Claim up to ``limit`` due deliveries in the caller's transaction; commit it before sending them."""
    delivery = WebhookDelivery
    query = (
        select(delivery, WebhookEndpoint)
        .join(WebhookEndpoint, WebhookEndpoint.id == delivery.endpoint_id)
        .where(*claimable(now))
        .order_by(delivery.next_attempt_at)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True, of=delivery)
    until = now + lease(settings)
    claimed = []
    for row, endpoint in session.execute(query).all():
        if row.generation != endpoint.generation and not outbox.rebuild(session, row, endpoint, settings):
            # Built for the endpoint's earlier URL or binding, and the endpoint as it is now does not get it.
            row.status, row.failed_at, row.next_attempt_at = DeliveryStatus.failed, now, None
            continue
        row.claimed_until = until
        claimed.append(
            Claimed(
                delivery_id=row.id,
                endpoint_id=endpoint.id,
                message_id=row.message_id,
                url=endpoint.url,
                body=row.payload,
                secrets=signing_secrets(endpoint, now),
                lease=until,
            )
        )
    session.flush()
    return claimed


def record(session: Session, claimed: Claimed, outcome: Outcome, settings: Settings) -> DeliveryStatus | None:
    """Keep the attempt and move the delivery on: delivered, due again later, or failed. None: the lease ran out
    and another dispatcher took the delivery over (its own attempt decides)."""
    session.add(
        WebhookAttempt(
            delivery_id=claimed.delivery_id,
            attempted_at=outcome.attempted_at,
            status_code=outcome.status_code,
            latency_ms=outcome.latency_ms,
            response_body=outcome.response_body,
            error=outcome.error,
        )
    )
    if outcome.success:
        return _delivered(session, claimed)
    delivery = session.get(WebhookDelivery, claimed.delivery_id, with_for_update=True)
    assert delivery is not None
    if delivery.claimed_until != claimed.lease or delivery.status is not DeliveryStatus.pending:
        return None
    now = utcnow()
    endpoint = session.get(WebhookEndpoint, delivery.endpoint_id)
    assert endpoint is not None
    delivery.claimed_until = None
    delivery.attempt_count += 1
    endpoint.failing_since = endpoint.failing_since or outcome.attempted_at
    wait = None if outcome.status_code == 410 else next_wait(delivery.attempt_count, outcome.retry_after)
    if wait is None:
        delivery.status, delivery.failed_at, delivery.next_attempt_at = DeliveryStatus.failed, now, None
    else:
        delivery.next_attempt_at = now + wait
    if outcome.status_code == 410:
        disable(endpoint, "answered 410 Gone", now)
    elif now - endpoint.failing_since >= timedelta(hours=settings.webhook_disable_after_hours):
        disable(endpoint, f"every attempt failed since {endpoint.failing_since:%Y-%m-%d %H:%M} UTC", now)
    return delivery.status


def _delivered(session: Session, claimed: Claimed) -> DeliveryStatus | None:
    """The common case in one conditional UPDATE: still ours (same lease), now delivered."""
    delivery = WebhookDelivery
    done = session.execute(
        update(delivery)
        .where(delivery.id == claimed.delivery_id, delivery.claimed_until == claimed.lease)
        .where(delivery.next_attempt_at.is_not(None))
        .values(
            status=DeliveryStatus.delivered,
            delivered_at=utcnow(),
            next_attempt_at=None,
            claimed_until=None,
            attempt_count=delivery.attempt_count + 1,
        )
        .execution_options(synchronize_session=False)
    )
    if not cast(CursorResult[Any], done).rowcount:  # an UPDATE's result is a CursorResult
        return None
    # Whatever the endpoint looked like at the claim: another attempt may have failed while this one was in flight.
    endpoint = WebhookEndpoint
    session.execute(
        update(endpoint)
        .where(endpoint.id == claimed.endpoint_id, endpoint.failing_since.is_not(None))
        .values(failing_since=None)
    )
    return DeliveryStatus.delivered


def disable(endpoint: WebhookEndpoint, reason: str, now: datetime) -> None:
    if endpoint.enabled:
        endpoint.enabled, endpoint.disabled_reason, endpoint.disabled_at = False, reason, now
        endpoint.updated_at = now
        log.warning("webhook endpoint disabled", extra={"endpoint_id": str(endpoint.id), "reason": reason})


@dataclass
class Dispatched:
    fanned_out: int = 0
    attempts: int = 0
    delivered: int = 0


class Dispatcher:
    """Fans out and delivers in a thread (``tousu serve``, ``tousu worker``), sending up to
    ``TOUSU_WEBHOOK_CONCURRENCY`` deliveries at once; ``once()`` does what is due now and returns."""

    def __init__(self, db: Database, settings: Settings) -> None:
        self.db, self.settings = db, settings
        self.http = sender.client(settings)
        self._pool = ThreadPoolExecutor(settings.webhook_concurrency, thread_name_prefix="tousu-webhook")
        self._slots = threading.Semaphore(settings.webhook_concurrency)
        self._stop, self._wake = threading.Event(), threading.Event()
        # SQLite has one writer: the dispatcher's own threads queue here rather than in SQLite's busy handler,
        # which lets a crowd of waiters starve (and the API's requests wait behind at most one of them).
        self._writing = threading.Lock() if settings.is_sqlite else contextlib.nullcontext()
        self._next_fan_out = 0.0  # monotonic; fan out again at once while a whole batch was waiting
        self._thread = threading.Thread(target=self.run, name="tousu-dispatcher", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10) -> None:
        """Stop claiming, and give the attempts in flight ``timeout`` seconds to finish and be recorded (one
        cut short is sent again once its lease runs out)."""
        if self._stop.is_set():
            return
        deadline = time.monotonic() + timeout
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout)
        for _ in range(self.settings.webhook_concurrency):
            if not self._slots.acquire(timeout=max(0.0, deadline - time.monotonic())):
                break
        self._pool.shutdown(wait=False, cancel_futures=True)
        self.http.close()

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def run(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()  # set by a finished attempt: the complaint's next delivery may be due now
            try:
                busy = self.step()
            except Exception:  # the database may be down: try again, never die
                log.exception("webhook dispatch failed; retrying in %s s", self.settings.dispatch_interval)
                busy = False
            if not busy:
                self._wake.wait(self.settings.dispatch_interval)

    def step(self) -> bool:
        """Fan out one batch (when due) and start sending what is due, as far as free slots allow."""
        fanned = 0
        if time.monotonic() >= self._next_fan_out:
            fanned = self.fan_out()
            # A batch that was not full caught up: under a steady stream of moves, fanning out again at once would
            # run a transaction for every few entries.
            backlog = fanned >= outbox.BATCH
            self._next_fan_out = time.monotonic() + (0 if backlog else self.settings.dispatch_interval)
        free = 0
        while free < self.settings.webhook_concurrency and self._slots.acquire(blocking=False):
            free += 1
        # Claim in batches: at least half the slots at a time, unless nothing is in flight.
        worth_it = free >= max(1, self.settings.webhook_concurrency // 2)
        claimed = self.claim(free) if worth_it else []
        for _ in range(free - len(claimed)):
            self._slots.release()
        for one in claimed:
            self._pool.submit(self._attempt_in_slot, one)
        return bool(fanned or claimed)

    def once(self, batch: int = outbox.BATCH) -> Dispatched:
        """Fan out everything, then deliver until nothing is due now (a retry later is left for later)."""
        done = Dispatched()
        while fanned := self.fan_out():
            done.fanned_out += fanned
        while claimed := self.claim(batch):
            statuses = list(self._pool.map(self.attempt, claimed))
            done.attempts += len(statuses)
            done.delivered += statuses.count(DeliveryStatus.delivered)
        return done

    # On SQLite each step looks before it takes the write lock: an idle dispatcher only reads, so the API's
    # requests do not queue behind a dispatcher with nothing to do (PostgreSQL has no single writer to spare).

    def _nothing(self, query: Any) -> bool:
        if not self.settings.is_sqlite:
            return False
        with self.db.readers() as session:
            return not session.scalar(select(exists(query)))

    def fan_out(self) -> int:
        if self._nothing(select(ComplaintEvent.id).where(ComplaintEvent.fanned_out_at.is_(None))):
            return 0
        with self._writing, self.db.writers.begin() as session:
            return outbox.fan_out(session, utcnow(), self.settings)

    def claim(self, limit: int) -> list[Claimed]:
        now = utcnow()
        if self._nothing(select(WebhookDelivery.id).where(WebhookDelivery.next_attempt_at <= now)):
            return []
        with self._writing, self.db.writers.begin() as session:
            return claim(session, now, limit, self.settings)

    def attempt(self, claimed: Claimed) -> DeliveryStatus | None:
        outcome = sender.send(self.http, claimed, self.settings.webhook_timeout_seconds)
        WEBHOOK_ATTEMPTS.labels(attempt_result(outcome.status_code)).inc()
        try:
            with self._writing, self.db.writers.begin() as session:
                return record(session, claimed, outcome, self.settings)
        except Exception:  # not recorded: the lease runs out and the delivery is sent again
            log.exception("recording a webhook attempt failed", extra={"delivery_id": str(claimed.delivery_id)})
            return None

    def _attempt_in_slot(self, claimed: Claimed) -> None:
        try:
            self.attempt(claimed)
        finally:
            self._slots.release()
            self._wake.set()


def warn_if_private_targets_allowed(settings: Settings) -> None:
    if settings.webhook_allow_private:
        log.warning("TOUSU_WEBHOOK_ALLOW_PRIVATE is on: webhooks may go to http and private addresses")
