"""The progress page per client address: a burst, then a few a minute; over it, 429 (a page, or a problem)."""

from __future__ import annotations

from typing import Any

import pytest

from app.config import Settings
from tests.conftest import Caller
from tests.progress.cases import issue, path_of
from tests.testclient import TestClient


def page(client: TestClient, path: str, **headers: str) -> Any:
    return client.get(path, headers=headers)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The app of these tests lets an address read 5 pages in a row, then one every 6 seconds."""
    return settings.model_copy(update={"progress_requests_burst": 5, "progress_requests_per_minute": 10})


def test_an_address_that_reads_too_often_is_answered_429(handler: Caller, client: TestClient) -> None:
    link = issue(handler, handler.register()["id"])
    answers = [page(client, path_of(link)).status_code for _ in range(3)]
    answers += [page(client, "/p/q8Xr2bLkT0vYcN3wZs5JdA").status_code for _ in range(2)]
    assert answers == [200, 200, 200, 404, 404]
    busy = page(client, path_of(link))
    assert busy.status_code == 429 and int(busy.headers["Retry-After"]) in range(1, 7)
    assert "请求过于频繁" in busy.text and busy.headers["Cache-Control"] == "no-store"
    problem = page(client, path_of(link), **{"Accept": "application/json"})
    assert problem.status_code == 429 and problem.headers["content-type"] == "application/problem+json"
    assert problem.json()["status"] == 429
