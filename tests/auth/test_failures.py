"""Failed authentication costs little and is limited: a key that cannot be one is refused without a database
lookup; after a burst of failures from one address, 429 with Retry-After, before any lookup. On SQLite and
PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from types import SimpleNamespace
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import event

from app.auth import limiter
from app.auth.limiter import FailureLimiter
from app.config import Settings
from app.main import create_app
from tests.auth.test_revocation import wait_for
from tests.conftest import Caller
from tests.testclient import TestClient

UNKNOWN = "tsk_" + "A" * 43  # well-formed, never issued
MALFORMED = {
    "too-short": "tsk_" + "A" * 42,
    "too-long": "tsk_" + "A" * 44,
    "no-prefix": "A" * 47,
    "other-prefix": "sk_" + "A" * 43,
    "padding": "tsk_" + "A" * 42 + "=",
    "not-base64url": "tsk_" + "A" * 42 + "+",
    "non-ascii": "tsk_" + "A" * 42 + "é",
    "sql": "tsk_' OR '1'='1",
    "huge": "tsk_" + "A" * 10_000,
}


@contextmanager
def statements(app: FastAPI) -> Iterator[list[str]]:
    """The SQL the app sends while the block runs (observed on its own engine, nothing replaced)."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    engine = app.state.db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def assert_problem(response: Any, status: int, slug: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["type"] == f"https://tousu.dev/problems/{slug}"
    return body


@pytest.mark.parametrize("key", MALFORMED.values(), ids=MALFORMED.keys())
def test_a_key_that_cannot_be_one_is_401_without_a_lookup(app: FastAPI, client: TestClient, key: str) -> None:
    with statements(app) as sent:
        response = client.get("/v1/complaints", headers={"Authorization": f"Bearer {key}".encode()})
    assert_problem(response, 401, "unauthorized")
    assert sent == []


def test_a_well_formed_unknown_key_is_looked_up_once(app: FastAPI, client: TestClient) -> None:
    with statements(app) as sent:
        assert_problem(client.get("/v1/complaints", headers=bearer(UNKNOWN)), 401, "unauthorized")
    assert len([statement for statement in sent if "api_keys" in statement]) == 1


@pytest.fixture
def strict(settings: Settings) -> Settings:
    """Three failures, then one more try every 10 s."""
    return settings.model_copy(update={"auth_failure_burst": 3, "auth_failure_per_minute": 6})


@pytest.fixture
def strict_app(strict: Settings) -> Iterator[FastAPI]:
    app = create_app(strict)
    with TestClient(app):
        # On PostgreSQL the cache vouches for keys once the process listens for revocations: a key looked up
        # before then is dropped when LISTEN begins (app/auth/revocations.py), and then looked up again.
        wait_for(app.state.keys.trusted)
        yield app


def from_address(app: FastAPI, host: str) -> TestClient:
    return TestClient(app, raise_server_exceptions=False, client=(host, 50000))


def test_after_a_burst_of_failures_an_address_gets_429_before_any_lookup(
    strict_app: FastAPI, make_caller: Any, admin: Caller
) -> None:
    attacker = from_address(strict_app, "203.0.113.7")
    revoked = admin.post("/v1/api-keys", json={"name": "旧钥匙", "role": "handler"}).json()
    assert admin.delete(f"/v1/api-keys/{revoked['id']}").status_code == 200
    for key in (UNKNOWN, "hello", revoked["key"]):
        assert_problem(attacker.get("/v1/complaints", headers=bearer(key)), 401, "unauthorized")
    with statements(strict_app) as sent:
        for key in (UNKNOWN, "hello", revoked["key"], "tsk_" + "B" * 43):
            refused = attacker.get("/v1/complaints", headers=bearer(key))
            body = assert_problem(refused, 429, "too-many-failures")
            assert 1 <= int(refused.headers["Retry-After"]) <= 10
            assert body["retry_after"] == int(refused.headers["Retry-After"])
        refused = attacker.post("/v1/complaints", headers={**bearer(UNKNOWN), "X-Actor": "x"}, json={})
        assert_problem(refused, 429, "too-many-failures")
    assert sent == []
    assert_problem(attacker.get("/v1/complaints"), 401, "unauthorized")  # no key at all: nothing was tried


def test_a_good_key_from_another_address_is_not_blocked(strict_app: FastAPI, make_caller: Any) -> None:
    attacker = from_address(strict_app, "203.0.113.7")
    for _ in range(4):
        attacker.get("/v1/complaints", headers=bearer(UNKNOWN))
    assert attacker.get("/v1/complaints", headers=bearer(UNKNOWN)).status_code == 429
    key = make_caller("handler").key  # never used yet: it has to be looked up
    neighbour = from_address(strict_app, "198.51.100.9")
    assert neighbour.get("/v1/complaints", headers=bearer(key)).status_code == 200
    assert_problem(neighbour.get("/v1/complaints", headers=bearer(UNKNOWN)), 401, "unauthorized")


def test_a_good_key_used_lately_still_works_from_a_blocked_address(strict_app: FastAPI, make_caller: Any) -> None:
    """The cache vouches for it without a lookup; a good key the process has not seen must wait like the rest."""
    office = from_address(strict_app, "203.0.113.7")
    crm, other = make_caller("handler").key, make_caller("reporter").key
    assert office.get("/v1/complaints", headers=bearer(crm)).status_code == 200
    for _ in range(3):
        office.get("/v1/complaints", headers=bearer(UNKNOWN))
    assert office.get("/v1/complaints", headers=bearer(crm)).status_code == 200
    assert_problem(office.get("/v1/complaints", headers=bearer(other)), 429, "too-many-failures")


def test_one_ipv6_subscriber_is_one_client(strict_app: FastAPI) -> None:
    """An IPv6 client counts by its /64: its other addresses do not bring a new burst; the next /64 does."""
    for host in ("2001:db8:0:7::1", "2001:db8:0:7::2", "2001:db8:0:7:ffff::3"):
        assert from_address(strict_app, host).get("/v1/complaints", headers=bearer(UNKNOWN)).status_code == 401
    assert from_address(strict_app, "2001:db8:0:7::4").get("/v1/complaints", headers=bearer(UNKNOWN)).status_code == 429
    assert from_address(strict_app, "2001:db8:0:8::1").get("/v1/complaints", headers=bearer(UNKNOWN)).status_code == 401


def test_an_address_earns_tries_back(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    # The limiter's own clock, controlled: a loaded machine taking 0.2 s per request would earn a try back.
    now = [1_000.0]
    monkeypatch.setattr(limiter, "time", SimpleNamespace(monotonic=lambda: now[0]))
    quick = settings.model_copy(update={"auth_failure_burst": 2, "auth_failure_per_minute": 300})  # one per 0.2 s
    with TestClient(create_app(quick), raise_server_exceptions=False) as client:
        assert [client.get("/v1/complaints", headers=bearer("hello")).status_code for _ in range(3)] == [401, 401, 429]
        now[0] += 0.25
        assert [client.get("/v1/complaints", headers=bearer("hello")).status_code for _ in range(2)] == [401, 429]


def test_the_limiter_keeps_a_bounded_number_of_addresses() -> None:
    limiter = FailureLimiter(burst=1, per_minute=1, size=3)
    for host in ("192.0.2.1", "192.0.2.2", "192.0.2.3"):
        limiter.failed(host)
    assert limiter.retry_after("192.0.2.1") is not None
    limiter.failed("192.0.2.4")  # the fourth address pushes out the one that failed longest ago
    assert len(limiter._buckets) == 3
    assert limiter.retry_after("192.0.2.1") is None
    assert all(limiter.retry_after(f"192.0.2.{n}") is not None for n in (2, 3, 4))
