from __future__ import annotations

from app.config import Settings
from app.main import create_app
from tests.conftest import Caller
from tests.testclient import TestClient


def test_healthz_needs_no_key(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_reports_the_migration(client: TestClient, app) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "migration": app.state.migration_head}


def test_readyz_is_503_on_an_unmigrated_database(tmp_path) -> None:
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'empty.db'}"))
    with TestClient(app) as client:
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert "Retry-After" in response.headers


def test_readyz_is_503_when_the_database_does_not_answer() -> None:
    app = create_app(Settings(database_url="postgresql+psycopg://nobody@127.0.0.1:1/none"))
    with TestClient(app) as client:
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["detail"] == "the database does not answer"


def test_a_probe_with_a_query_string_is_answered(client: TestClient, handler: Caller) -> None:
    """An operation that takes no input ignores the query string (a load balancer's cache-buster): its document
    declares no 422. An operation that takes input still refuses an unknown query parameter."""
    for path in ("/healthz?probe=1", "/readyz?probe=1"):
        response = client.get(path)
        assert response.status_code == 200, response.text
        assert "X-Request-ID" in response.headers
    assert handler.get("/v1/workflow?probe=1").status_code == 200
    refused = handler.get("/v1/complaints?stat=accepted")
    assert refused.status_code == 422
    assert refused.json()["errors"] == [
        {"loc": ["query", "stat"], "msg": "Extra inputs are not permitted", "type": "extra_forbidden"}
    ]
