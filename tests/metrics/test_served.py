"""A real ``tousu serve --workers 2`` with ``TOUSU_METRICS_PORT``: after a registration, a move, a sweep and a
webhook delivery the right series change, and one scrape adds up what both worker processes counted."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from prometheus_client.mmap_dict import MmapedDict
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import update

from app.auth.models import Role
from app.config import Settings
from app.db import Database, utcnow
from app.metrics import exposition
from app.metrics import folder as metrics_folder
from app.sla.models import Clock
from app.vocabulary import ClockKind
from tests.auth.test_revocation import TOUSU, free_port, serve_two_workers, wait_for
from tests.conftest import ROOT, Caller, complaint_body, fresh_http, issue_key, live_http, stop_served
from tests.webhooks.conftest import Receiver

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@dataclass
class Served:
    url: str
    metrics: str
    folder: Path

    def scrape(self) -> Samples:
        text = live_http().get(self.metrics + "/metrics", timeout=10).text
        return {
            (sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
        }

    def files(self, kind: str) -> dict[int, Path]:
        """Each worker's file of one kind (``counter``, ``histogram``, ``gauge_livesum``), by process id."""
        return {int(path.stem.rsplit("_", 1)[1]): path for path in self.folder.glob(f"{kind}_*.db")}


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def counted_by(path: Path, name: str, **labels: str) -> float:
    """What one worker's own file holds for a sample."""
    total = 0.0
    for key, count, _, _ in MmapedDict.read_all_values_from_file(str(path)):
        _, sample, sample_labels, _ = json.loads(key)
        if sample == name and sample_labels == labels:
            total += count
    return total


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    yield receiver
    receiver.close()


@pytest.fixture
def served(settings: Settings, tmp_path: Path) -> Iterator[Served]:
    """Two workers that sweep (every 0.3 s) and deliver webhooks, their series in a folder the test can read."""
    folder = tmp_path / "prometheus"
    port, metrics_port = free_port(), free_port()
    env = {
        **os.environ,
        "TOUSU_DATABASE_URL": settings.database_url,
        "TOUSU_SWEEP_IN_SERVE": "true",
        "TOUSU_SWEEP_INTERVAL": "0.3",
        "TOUSU_DISPATCH_IN_SERVE": "true",
        "TOUSU_DISPATCH_INTERVAL": "0.2",
        "TOUSU_WEBHOOK_ALLOW_PRIVATE": "1",
        "TOUSU_METRICS_PORT": str(metrics_port),
        "PROMETHEUS_MULTIPROC_DIR": str(folder),
    }
    (folder / "stale").mkdir(parents=True)
    (folder / "counter_1.db").write_bytes(b"left by an earlier run")
    with (tmp_path / "serve.log").open("wb") as log:
        server = serve_two_workers(port, env, log)
        served = Served(f"http://127.0.0.1:{port}", f"http://127.0.0.1:{metrics_port}", folder)
        try:
            # Under load a worker may take longer to start than uvicorn's health check waits: it is started again.
            wait_for(lambda: _answers(served.url + "/healthz") and _answers(served.metrics + "/metrics"), seconds=120)
            yield served
        finally:
            stop_served(server)
    # Workers that shut down cleanly leave their pool gauges behind no more (one killed, by the test or by uvicorn
    # when it was slow to start, leaves them for the next scrape to drop).
    logged = (tmp_path / "serve.log").read_text()
    finished = {int(pid) for pid in re.findall(r"Finished server process \[(\d+)\]", logged)}
    assert finished or server.returncode != 0, logged
    assert not finished & set(served.files("gauge_livesum")), logged


def _answers(url: str) -> bool:
    try:
        return live_http().get(url, timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def make_due(settings: Settings, kind: ClockKind) -> None:
    """The clocks of that kind are due for their warning now."""
    db = Database.from_settings(settings)
    try:
        with db.writers.begin() as session:
            due = utcnow() - timedelta(seconds=1)
            session.execute(update(Clock).where(Clock.kind == kind).values(next_check_at=due))
    finally:
        db.dispose()


def both_workers_answer(served: Served) -> int:
    """Health checks on fresh connections, many at a time, until each worker has answered some; how many were sent."""
    sent = 0
    with ThreadPoolExecutor(8) as pool:
        deadline = time.monotonic() + 60
        while True:
            statuses = list(pool.map(lambda _: fresh_http().get(served.url + "/healthz").status_code, range(40)))
            assert set(statuses) == {200}
            sent += len(statuses)
            answered = {
                pid: counted_by(path, "tousu_http_requests_total", route="/healthz", method="GET", status="200")
                for pid, path in served.files("counter").items()
            }
            if len([count for count in answered.values() if count]) == 2:
                return sent
            assert time.monotonic() < deadline, f"one worker answered all: {answered}"


def test_one_scrape_adds_up_both_workers_after_a_registration_a_move_a_sweep_and_a_delivery(
    served: Served, settings: Settings, receiver: Receiver
) -> None:
    assert not (served.folder / "counter_1.db").exists(), "tousu serve did not empty the folder of an earlier run"
    before = served.scrape()
    admin = {"Authorization": f"Bearer {issue_key(settings, Role.admin)}", "X-Actor": "admin-01"}
    handler = {"Authorization": f"Bearer {issue_key(settings, Role.handler)}", "X-Actor": "handler-07"}
    created = live_http().post(served.url + "/v1/webhook-endpoints", json={"url": receiver.url}, headers=admin)
    assert created.status_code == 201, created.text
    endpoint = created.json()["id"]

    registered = live_http().post(served.url + "/v1/complaints", json=complaint_body(), headers=handler)
    assert registered.status_code == 201, registered.text
    complaint = registered.json()["id"]
    moved = live_http().post(
        f"{served.url}/v1/complaints/{complaint}/investigate", json={"store_id": "SZ-FT-012"}, headers=handler
    )
    assert moved.status_code == 200, moved.text
    receiver.wait_for(2)  # registered, then dispatched to the store

    make_due(settings, ClockKind.store_feedback)  # a worker's sweeper warns it
    wait_for(lambda: value(served.scrape(), "tousu_clock_warnings_total", kind="store_feedback") == 1)
    health_checks = both_workers_answer(served)
    healthz = {"route": "/healthz", "method": "GET", "status": "200"}
    expected = value(before, "tousu_http_requests_total", **healthz) + health_checks

    # A request is counted once its answer has gone out, so the count of the last answers may land a moment after
    # the client read them (one was missing from a scrape in a full run): the scrape waits for them, up to 5 s.
    wait_for(lambda: value(served.scrape(), "tousu_http_requests_total", **healthz) >= expected, seconds=5)
    after = served.scrape()
    assert value(after, "tousu_http_requests_total", route="/v1/complaints", method="POST", status="201") == 1
    assert value(after, "tousu_http_requests_total", **healthz) == expected
    per_worker = Counter(
        {
            pid: counted_by(path, "tousu_http_requests_total", route="/healthz", method="GET", status="200")
            for pid, path in served.files("counter").items()
        }
    )
    assert len(per_worker) == 2 and all(per_worker.values()), per_worker
    assert sum(per_worker.values()) == value(
        after, "tousu_http_requests_total", route="/healthz", method="GET", status="200"
    )
    assert value(after, "tousu_http_request_duration_seconds_count", route="/v1/complaints", method="POST") == 1
    assert value(after, "tousu_moves_total", move="investigate", outcome="done") == 1
    assert value(after, "tousu_clocks_running", kind="store_feedback") == 1
    assert value(after, "tousu_clocks_warning", kind="store_feedback") == 1
    assert value(after, "tousu_sweeper_lag_seconds") == 0

    def delivered(samples: Samples) -> bool:
        """The three messages (registered, dispatched, and the warning's event) sent, and recorded as delivered: an
        attempt is counted when it is made, and its delivery recorded a moment later."""
        sent = value(samples, "tousu_webhook_attempts_total", result="delivered") >= 3
        return sent and value(samples, "tousu_webhook_deliveries_pending", endpoint=endpoint) == 0

    wait_for(lambda: delivered(served.scrape()))
    last = served.scrape()
    assert value(last, "tousu_webhook_deliveries_pending", endpoint=endpoint) == 0
    assert value(last, "tousu_webhook_oldest_pending_age_seconds", endpoint=endpoint) == 0
    assert value(last, "tousu_webhook_attempts_total", result="refused") == 0
    assert value(last, "tousu_db_pool_size", pool="main") > 0  # both workers' pools, added up


def test_a_worker_killed_without_a_word_no_longer_counts_its_pool(served: Served) -> None:
    both_workers_answer(served)
    served.scrape()  # drops the files of a worker uvicorn killed because it was slow to start
    pools = served.files("gauge_livesum")
    assert len(pools) == 2
    killed = min(pools)
    total = value(served.scrape(), "tousu_http_requests_total", route="/healthz", method="GET", status="200")
    os.kill(killed, signal.SIGKILL)
    # The next scrape drops them, reaped by uvicorn or not yet.
    wait_for(lambda: not _running(killed) or _zombie(killed))
    after = served.scrape()
    assert killed not in served.files("gauge_livesum"), "the dead worker's pool gauges are still summed"
    assert killed in served.files("counter"), "the dead worker's counters went missing"
    assert value(after, "tousu_http_requests_total", route="/healthz", method="GET", status="200") >= total


def test_a_worker_reaped_between_the_two_looks_is_dead() -> None:
    """A scrape's thread finds the worker with ``kill(pid, 0)``; uvicorn may reap it before the thread reads its
    /proc entry. The entry gone is an exit, not a living worker (that race once left a killed pool summed)."""
    worker = subprocess.Popen(["sleep", "30"])
    assert not exposition._exited(worker.pid)
    worker.kill()
    wait_for(lambda: _zombie(worker.pid))
    assert exposition._exited(worker.pid)  # dead, not yet reaped
    worker.wait()
    assert exposition._exited(worker.pid)  # reaped meanwhile
    assert not exposition._alive(worker.pid)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _zombie(pid: int) -> bool:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0] == "Z"


def test_serve_makes_a_fresh_folder_when_none_is_given_and_removes_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(metrics_folder.MULTIPROC_DIR, raising=False)
    assert metrics_folder.prepare(Settings(metrics_port=None)) is None
    assert metrics_folder.MULTIPROC_DIR not in os.environ
    made = metrics_folder.prepare(Settings(metrics_port=9464))
    assert made is not None and made.is_dir() and not list(made.iterdir())
    assert os.environ[metrics_folder.MULTIPROC_DIR] == str(made)
    metrics_folder.remove(made)
    assert not made.exists()
    assert metrics_folder.MULTIPROC_DIR not in os.environ


def test_tousu_worker_serves_what_its_sweep_counted(handler: Caller, settings: Settings, tmp_path: Path) -> None:
    complaint = handler.register()
    handler.move(complaint["id"], "investigate", {"store_id": "SZ-FT-012"})
    make_due(settings, ClockKind.store_feedback)
    metrics_port = free_port()
    env = {
        **os.environ,
        "TOUSU_DATABASE_URL": settings.database_url,
        "TOUSU_SWEEP_INTERVAL": "0.3",
        "TOUSU_METRICS_PORT": str(metrics_port),
    }
    env.pop(metrics_folder.MULTIPROC_DIR, None)
    with (tmp_path / "worker.log").open("wb") as log:
        worker = subprocess.Popen(
            [str(TOUSU), "worker", "--no-dispatch", "--no-housekeeping"],
            env=env,
            stdout=log,
            stderr=log,
            cwd=ROOT,
            start_new_session=True,
        )
        metrics = Served("", f"http://127.0.0.1:{metrics_port}", tmp_path)
        try:
            wait_for(lambda: _answers(metrics.metrics + "/metrics"), seconds=60)
            wait_for(
                lambda: value(metrics.scrape(), "tousu_clock_warnings_total", kind="store_feedback") == 1, seconds=60
            )
            scraped = metrics.scrape()
            assert value(scraped, "tousu_sweeper_lag_seconds") == 0
            assert value(scraped, "tousu_clocks_warning", kind="store_feedback") == 1
            assert value(scraped, "tousu_db_pool_size", pool="main") > 0
        finally:
            stop_served(worker, signal.SIGTERM, timeout=15)
    assert worker.returncode == 0, (tmp_path / "worker.log").read_text()


def test_serve_removes_the_folder_it_made_when_it_is_stopped(settings: Settings, tmp_path: Path) -> None:
    port, metrics_port = free_port(), free_port()
    env = {
        **os.environ,
        "TOUSU_DATABASE_URL": settings.database_url,
        "TOUSU_METRICS_PORT": str(metrics_port),
        "TMPDIR": str(tmp_path),  # where the folder is made
    }
    env.pop(metrics_folder.MULTIPROC_DIR, None)
    server = subprocess.Popen(
        [str(TOUSU), "serve", "--port", str(port)], env=env, stderr=subprocess.PIPE, cwd=ROOT, text=True
    )
    try:
        wait_for(lambda: _answers(f"http://127.0.0.1:{port}/healthz"), seconds=60)
        live_http().get(f"http://127.0.0.1:{port}/healthz")
        text = live_http().get(f"http://127.0.0.1:{metrics_port}/metrics").text
        assert 'tousu_http_requests_total{method="GET",route="/healthz",status="200"}' in text
        [made] = tmp_path.glob("tousu-metrics-*")
        assert list(made.glob("counter_*.db"))
    finally:
        server.send_signal(signal.SIGTERM)
        _, errors = server.communicate(timeout=15)
    assert server.returncode == 128 + signal.SIGTERM, errors
    assert not list(tmp_path.glob("tousu-metrics-*"))
