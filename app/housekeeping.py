"""Housekeeping: what tousu keeps only for a while is let go, every ``TOUSU_HOUSEKEEPING_INTERVAL`` seconds.

- Idempotency keys past their time: a request that comes with one after that runs anew anyway.
- PostgreSQL's complaint-number sequences of past days: no registration draws from them any more.

``tousu worker`` runs it beside the sweep and the webhook dispatcher; ``tousu serve`` runs it when it sweeps.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from app.complaints import service as complaints
from app.config import Settings
from app.db import Database, utcnow
from app.idempotency import purge_expired
from app.periodic import Periodic

log = logging.getLogger("tousu.housekeeping")


@dataclass(frozen=True)
class Cleared:
    idempotency_keys: int = 0
    number_sequences: int = 0


def housekeep(db: Database, now: datetime | None = None) -> Cleared:
    """One round, in one transaction."""
    now = now or utcnow()
    with db.writers.begin() as session:
        keys = purge_expired(session, now)
        # Two days back from UTC's today is yesterday or earlier in every time zone.
        sequences = complaints.drop_number_sequences(session, before=now.date() - timedelta(days=2))
    return Cleared(keys, sequences)


class Housekeeper(Periodic[Cleared]):
    """Keeps house every ``TOUSU_HOUSEKEEPING_INTERVAL`` seconds in a thread until stopped."""

    name = "housekeeping"

    def __init__(self, db: Database, settings: Settings) -> None:
        super().__init__(settings.housekeeping_interval, log)
        self.db = db

    def work(self) -> Cleared:
        return housekeep(self.db)

    def done(self, cleared: Cleared) -> None:
        if cleared.idempotency_keys or cleared.number_sequences:
            log.info(
                "housekept",
                extra={"idempotency_keys": cleared.idempotency_keys, "number_sequences": cleared.number_sequences},
            )
