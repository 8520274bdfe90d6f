"""The worker's retention job: complaints past ``TOUSU_RETENTION_DAYS`` anonymised every
``TOUSU_RETENTION_INTERVAL`` seconds (daily by default)."""

from __future__ import annotations

import logging

from app.attachments import storage
from app.config import Settings
from app.db import Database
from app.periodic import Periodic
from app.retention import service
from app.retention.service import Swept

log = logging.getLogger("tousu.retention")


class Retainer(Periodic[Swept]):
    name = "retention"

    def __init__(self, db: Database, settings: Settings) -> None:
        super().__init__(settings.retention_interval, log)
        self.db = db
        self.settings = settings
        self.store = storage.from_settings(settings)

    def work(self) -> Swept:
        return service.run(self.db, self.settings, self.store)

    def done(self, swept: Swept) -> None:
        if swept.complaints:
            log.info("anonymised", extra={"people": swept.people, "complaints": swept.complaints})
