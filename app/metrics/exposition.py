"""The metrics port (``TOUSU_METRICS_PORT``, on ``TOUSU_METRICS_HOST``): plain HTTP, no API key, served by a thread
of ``tousu serve``'s first process and of ``tousu worker``. Off unless the port is set.

Several workers: ``tousu serve`` points ``PROMETHEUS_MULTIPROC_DIR`` at a fresh folder before it starts them (or
empties the one it is given); each worker writes its series there, and a scrape adds up the files of every worker,
living or gone (a counter of a worker that died still counts), the pool gauges of the living ones only.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from wsgiref.simple_server import WSGIServer

from prometheus_client import REGISTRY, CollectorRegistry, start_http_server
from prometheus_client.metrics_core import Metric
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from prometheus_client.registry import Collector

from app.db import Database
from app.metrics.database import DatabaseState
from app.metrics.folder import MULTIPROC_DIR
from app.metrics.series import watch_pool

_PID = re.compile(r"_(\d+)\.db$")


def serve(host: str, port: int, db: Database) -> WSGIServer:
    """Start the metrics port in a thread; ``db`` is read at each scrape."""
    registry = CollectorRegistry()
    folder = os.environ.get(MULTIPROC_DIR)
    if folder:
        LivingWorkers(registry, folder)
    else:
        registry.register(ThisProcess())
    registry.register(DatabaseState(db))
    server, _ = start_http_server(port, addr=host, registry=registry)
    return server


def watch(db: Database) -> None:
    """Count the connections the process's pools have in use."""
    watch_pool(db.engine, "main")
    if db.single_statements.pool is not db.engine.pool:
        watch_pool(db.single_statements, "single_statements")


def leave() -> None:
    """A worker that exits: its pool gauges no longer count (its counters do)."""
    if os.environ.get(MULTIPROC_DIR):
        mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]  # prometheus_client leaves it untyped


class ThisProcess(Collector):
    """The series of this process alone (no multiprocess folder)."""

    def collect(self) -> Iterable[Metric]:
        return REGISTRY.collect()


class LivingWorkers(MultiProcessCollector):
    """Every worker's files added up, after those of a worker that died without a word (killed) are let go."""

    def __init__(self, registry: CollectorRegistry, folder: str) -> None:
        super().__init__(registry, folder)  # type: ignore[no-untyped-call]
        self.folder = folder

    def collect(self) -> Iterator[Metric]:
        for pid in {int(match[1]) for name in os.listdir(self.folder) if (match := _PID.search(name))}:
            if not _alive(pid):
                mark_process_dead(pid, self.folder)  # type: ignore[no-untyped-call]
        yield from super().collect()  # type: ignore[no-untyped-call]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not _exited(pid)


def _exited(pid: int) -> bool:
    """Dead and not yet reaped by uvicorn, or reaped since ``os.kill(pid, 0)`` found it (Linux: its /proc entry is
    gone). Elsewhere, without /proc, False: a worker counts until it is reaped."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return Path("/proc/self").is_dir()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[:1] == ["Z"]
