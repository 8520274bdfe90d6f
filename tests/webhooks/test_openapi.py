"""The OpenAPI document describes every webhook tousu sends: its headers and the body of its type."""

from __future__ import annotations

from typing import Any

import pytest

from app.config import Settings
from app.main import create_app
from app.webhooks.schemas import PING, EventType, model_of

SENT = [*(t.value for t in EventType), PING]


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return create_app(Settings(database_url="sqlite:///:memory:")).openapi()


def test_every_webhook_sent_is_documented_and_nothing_else(document: dict[str, Any]) -> None:
    assert sorted(document["webhooks"]) == sorted(SENT)


@pytest.mark.parametrize("event_type", SENT)
def test_each_webhook_shows_its_signature_headers_and_its_body(document: dict[str, Any], event_type: str) -> None:
    operation = document["webhooks"][event_type]["post"]
    assert operation["summary"] and "standardwebhooks" in operation["description"]
    headers = {p["name"]: p for p in operation["parameters"] if p["in"] == "header"}
    assert set(headers) == {"webhook-id", "webhook-timestamp", "webhook-signature"}
    assert all(h["required"] for h in headers.values())
    body = operation["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": f"#/components/schemas/{model_of(event_type).__name__}"}


def test_the_deadlines_and_the_reply_are_in_the_bodies_that_carry_them(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]

    def data(event_type: str) -> set[str]:
        message = schemas[model_of(event_type).__name__]
        return set(schemas[message["properties"]["data"]["$ref"].rsplit("/", 1)[1]]["properties"])

    assert "store_feedback_due_at" in data("complaint.dispatched")
    assert "store_feedback_due_at" in data("complaint.reopened")
    assert {"reply", "remedy"} <= data("complaint.resolved")
    assert {"event_id", "move", "actor", "at", "detail", "complaint"} <= data("sla.breached")
