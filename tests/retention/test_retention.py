"""Retention (issue 19, "Keep personal data no longer than needed"): complaints closed longer ago than
``TOUSU_RETENTION_DAYS`` lose every trace of their complainant, in the database and in the attachment store, while
the reports of the past add up to the same; a run cut short and taken up again ends as one run does."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from app.attachments import storage
from app.config import Settings
from app.db import Database
from app.retention import service
from app.retention.service import Swept
from tests.conftest import Caller
from tests.retention.conftest import (
    ALPHA,
    BRAVO,
    BRAVO_CORRECTED,
    CHARLIE,
    DELTA,
    ECHO,
    SHARED_BLOB,
    dump,
    fill,
    found_in,
    stored_files,
    summaries,
    where,
)
from tests.sla.moments import frozen

RUN_AT = datetime(2026, 6, 1, 2, 0, tzinfo=UTC)  # three years back is 2023-06-02: a1, a2 and b1 were closed before
TOUSU = Path(sys.executable).with_name("tousu")
GONE, KEPT = (ALPHA, BRAVO), (CHARLIE, DELTA, ECHO)


def everything(db: Database, settings: Settings) -> str:
    files = stored_files(settings)
    return dump(db) + "\n".join(data.decode("utf-8", errors="replace") for data in files.values())


def test_retention_leaves_nothing_of_the_people_past_it_and_the_past_adds_up_the_same(
    handler: Caller,
    supervisor: Caller,
    admin: Caller,
    db: Database,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    filled = fill(handler, supervisor, admin, settings, db)
    before = summaries(admin)
    seen = everything(db, settings)
    for person in (*GONE, *KEPT):
        assert found_in(seen, person) == person.values(), person.name  # planted everywhere to begin with
    assert "15899990000" in seen and BRAVO_CORRECTED["email"] in seen

    monkeypatch.setattr(service, "BATCH", 1)  # the phones read one at a time: each page after the last one
    swept = service.run(db, settings, storage.from_settings(settings), now=RUN_AT)

    assert swept == Swept(people=2, complaints=3)
    left = everything(db, settings)
    for person in GONE:
        assert found_in(left, person) == [], where(left, person)
    assert [value for value in ("15899990000", *BRAVO_CORRECTED.values()) if value in left] == []
    for person in KEPT:
        assert found_in(left, person) == person.values(), person.name
    assert SHARED_BLOB in stored_files(settings).values()  # still an attachment of c1, d1 and e1
    with frozen(2026, 6, 1, 12, 0):
        assert summaries(admin) == before
    for label in ("a1", "a2", "b1"):
        shown = admin.get(f"/v1/complaints/{filled.ids[label]}").json()
        assert shown["complainant"]["name"] == service.ANONYMOUS_NAME
        assert admin.get(f"/v1/complaints/{filled.ids[label]}/attachments").json() == []
        assert admin.get(f"/v1/complaints/{filled.ids[label]}/events").status_code == 200
    a1, a2 = (admin.get(f"/v1/complaints/{filled.ids[label]}").json() for label in ("a1", "a2"))
    assert a1["complainant"]["phone"] == a2["complainant"]["phone"]  # one person still, in March 2022's figures
    assert a2["remedy"]["amount"] == "300.00"

    assert service.run(db, settings, storage.from_settings(settings), now=RUN_AT) == Swept()  # nothing left to do


class Killed(Exception):
    pass


def test_a_run_killed_midway_and_run_again_ends_as_one_run(
    handler: Caller, supervisor: Caller, admin: Caller, db: Database, settings: Settings
) -> None:
    fill(handler, supervisor, admin, settings, db)
    before = summaries(admin)
    store = storage.from_settings(settings)

    class FailingStore:
        """The store fails on the third blob deleted: the person being anonymised then is left untouched."""

        deleted = 0

        def __getattr__(self, name: str) -> object:
            return getattr(store, name)

        def delete(self, sha256: str) -> None:
            FailingStore.deleted += 1
            if FailingStore.deleted == 3:
                raise Killed
            store.delete(sha256)

    with pytest.raises(Killed):
        service.run(db, settings, FailingStore(), now=RUN_AT)  # type: ignore[arg-type]
    halfway = everything(db, settings)
    assert found_in(halfway, ALPHA) == []  # the first person (by phone) done: two blobs deleted
    assert found_in(halfway, BRAVO) == BRAVO.values()  # the second untouched, its blob still there

    assert service.run(db, settings, store, now=RUN_AT, limit=1) == Swept(people=1, complaints=1)
    assert service.run(db, settings, store, now=RUN_AT) == Swept()

    left = everything(db, settings)
    for person in GONE:
        assert found_in(left, person) == [], where(left, person)
    for person in KEPT:
        assert found_in(left, person) == person.values(), person.name
    with frozen(2026, 6, 1, 12, 0):
        assert summaries(admin) == before


def test_tousu_retention_run_anonymises_what_is_past_retention(
    handler: Caller, supervisor: Caller, admin: Caller, db: Database, settings: Settings
) -> None:
    fill(handler, supervisor, admin, settings, db)
    env = {
        **os.environ,
        "TOUSU_DATABASE_URL": settings.database_url,
        "TOUSU_ATTACHMENT_STORE": settings.attachment_store,
        # By the real clock (December 2026 or later) five years back reaches a1, a2 and no other.
        "TOUSU_RETENTION_DAYS": str((datetime.now(UTC) - datetime(2022, 3, 25, tzinfo=UTC)).days - 30),
    }
    result = subprocess.run(
        [str(TOUSU), "retention", "run"], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "anonymised 2 complaints of 1 people" in result.stdout
    left = everything(db, settings)
    assert found_in(left, ALPHA) == []
    assert found_in(left, BRAVO) == BRAVO.values()

    # The worker's job, alone, once: three years (and some) back reaches b1 too.
    env["TOUSU_RETENTION_DAYS"] = str((datetime.now(UTC) - datetime(2023, 2, 10, tzinfo=UTC)).days)
    only_retention = ["--once", "--no-sweep", "--no-dispatch", "--no-housekeeping"]
    result = subprocess.run(
        [str(TOUSU), "worker", *only_retention], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "retention: 1 complaints of 1 people anonymised" in result.stderr
    assert found_in(everything(db, settings), BRAVO) == []
