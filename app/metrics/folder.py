"""``PROMETHEUS_MULTIPROC_DIR`` for ``tousu serve``'s workers. No prometheus_client here: it reads the variable
when it is first imported, so the folder is settled before that."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from app.config import Settings

MULTIPROC_DIR = "PROMETHEUS_MULTIPROC_DIR"


def prepare(settings: Settings) -> Path | None:
    """A folder for the workers' series, emptied of an earlier run's; returns it when it was made here (to remove
    at exit). Nothing without a metrics port."""
    if settings.metrics_port is None:
        return None
    given = os.environ.get(MULTIPROC_DIR)
    if given:
        folder = Path(given)
        folder.mkdir(parents=True, exist_ok=True)
        for stale in folder.glob("*.db"):
            stale.unlink()
        return None
    made = Path(tempfile.mkdtemp(prefix="tousu-metrics-"))
    os.environ[MULTIPROC_DIR] = str(made)
    return made


def remove(made: Path | None) -> None:
    if made is not None:
        shutil.rmtree(made, ignore_errors=True)
        os.environ.pop(MULTIPROC_DIR, None)
