"""The database's state, read when Prometheus scrapes: a few short queries on partial indexes, so that the figures
are right whichever process runs the sweep or the dispatcher, and go on rising when that process has stopped.

- ``tousu_clocks_running`` / ``tousu_clocks_warning`` by kind: clocks with something left to fire
  (``ix_sla_clocks_next_check_at``), and those of them past their warning;
- ``tousu_sweeper_lag_seconds``: how long the oldest clock that is due has waited for a sweep;
- ``tousu_webhook_deliveries_pending`` / ``tousu_webhook_oldest_pending_age_seconds`` by endpoint;
- ``tousu_webhook_dispatch_lag_seconds``: how long the oldest delivery a dispatcher could claim now has waited.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import and_, func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from app.db import Database, utcnow
from app.sla.models import Clock
from app.vocabulary import ClockKind
from app.webhooks.dispatcher import claimable
from app.webhooks.models import WebhookDelivery, WebhookEndpoint

log = logging.getLogger("tousu.metrics")


class DatabaseState(Collector):
    def __init__(self, db: Database) -> None:
        self.db = db

    def collect(self) -> Iterator[GaugeMetricFamily]:
        now = utcnow()
        try:
            with self.db.readers() as session:
                families = [*clocks(session), sweeper_lag(session, now), *webhooks(session, now)]
        except SQLAlchemyError:
            log.warning("the database's state could not be read for the metrics", exc_info=True)
            return
        yield from families


def clocks(session: Session) -> list[GaugeMetricFamily]:
    running = GaugeMetricFamily(
        "tousu_clocks_running", "Clocks running (not yet met, cancelled or breached).", None, ["kind"]
    )
    warning = GaugeMetricFamily("tousu_clocks_warning", "Running clocks past their warning.", None, ["kind"])
    query = (
        select(Clock.kind, func.count(), func.count(Clock.warned_at))
        .where(Clock.next_check_at.is_not(None))
        .group_by(Clock.kind)
    )
    counts = {kind: (total, warned) for kind, total, warned in session.execute(query)}
    for kind in ClockKind:
        total, warned = counts.get(kind, (0, 0))
        running.add_metric([kind.value], total)
        warning.add_metric([kind.value], warned)
    return [running, warning]


def sweeper_lag(session: Session, now: datetime) -> GaugeMetricFamily:
    oldest = session.scalar(select(func.min(Clock.next_check_at)).where(Clock.next_check_at <= now))
    return GaugeMetricFamily(
        "tousu_sweeper_lag_seconds",
        "Age of the oldest clock due for the sweep and not yet swept (0: none is waiting).",
        value=_age(oldest, now),
    )


def webhooks(session: Session, now: datetime) -> list[GaugeMetricFamily]:
    pending = GaugeMetricFamily(
        "tousu_webhook_deliveries_pending",
        "Webhook deliveries not yet delivered nor failed, by endpoint.",
        None,
        ["endpoint"],
    )
    oldest = GaugeMetricFamily(
        "tousu_webhook_oldest_pending_age_seconds",
        "Age of the oldest pending delivery, by endpoint (0: none pending).",
        None,
        ["endpoint"],
    )
    delivery = WebhookDelivery
    query = (
        select(WebhookEndpoint.id, func.count(delivery.id), func.min(delivery.created_at))
        .outerjoin(delivery, and_(delivery.endpoint_id == WebhookEndpoint.id, delivery.next_attempt_at.is_not(None)))
        .where(WebhookEndpoint.deleted_at.is_(None))
        .group_by(WebhookEndpoint.id)
    )
    for endpoint_id, count, created_at in session.execute(query):
        pending.add_metric([str(endpoint_id)], count)
        oldest.add_metric([str(endpoint_id)], _age(created_at, now))
    due = session.scalar(
        select(func.min(delivery.next_attempt_at))
        .join(WebhookEndpoint, WebhookEndpoint.id == delivery.endpoint_id)
        .where(*claimable(now))
    )
    lag = GaugeMetricFamily(
        "tousu_webhook_dispatch_lag_seconds",
        "How long the oldest delivery a dispatcher may claim now has been due (0: none is waiting).",
        value=_age(due, now),
    )
    return [pending, oldest, lag]


def _age(moment: datetime | None, now: datetime) -> float:
    return max(0.0, (now - moment).total_seconds()) if moment is not None else 0.0
