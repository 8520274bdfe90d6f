"""The endpoints API: admin only, secrets shown once, unknown fields refused, 404 for what does not exist."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from sqlalchemy import select

from app.config import Settings
from app.db import Database, utcnow
from app.main import create_app
from app.webhooks.dispatcher import Dispatcher
from app.webhooks.models import WebhookDelivery
from tests.conftest import Caller, another_customer
from tests.webhooks.conftest import Receiver, Reply, patch, subscribe

URL = "https://crm.example.com/tousu/webhooks"
START = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


def test_the_secret_is_shown_at_creation_only(admin: Caller, receiver: Receiver) -> None:
    created = subscribe(admin, receiver, description="福田店门店系统", store_id="SZ-FT-012")

    assert created["secret"].startswith("whsec_")
    assert created["enabled"] is True and created["event_types"] is None
    assert created["created_by"] == "admin-01"
    shown = admin.get(f"/v1/webhook-endpoints/{created['id']}").json()
    listed = admin.get("/v1/webhook-endpoints").json()
    assert "secret" not in shown and listed == [shown]
    assert created["secret"] not in str(listed)
    assert {k: v for k, v in created.items() if k != "secret"} == shown


def test_change_only_what_is_sent(admin: Caller, receiver: Receiver) -> None:
    created = subscribe(admin, receiver, description="呼叫中心 CRM", event_types=["complaint.resolved"])

    response = patch(admin, f"/v1/webhook-endpoints/{created['id']}", {"enabled": False, "store_id": "SZ-FT-012"})

    assert response.status_code == 200, response.text
    changed = response.json()
    assert changed["enabled"] is False and changed["disabled_reason"] == "disabled by admin-01"
    assert changed["store_id"] == "SZ-FT-012"
    assert changed["description"] == "呼叫中心 CRM" and changed["event_types"] == ["complaint.resolved"]
    everything = patch(admin, f"/v1/webhook-endpoints/{created['id']}", {"event_types": None}).json()
    assert everything["event_types"] is None


def test_delete_stops_it_and_it_is_gone(admin: Caller, receiver: Receiver) -> None:
    created = subscribe(admin, receiver)

    deleted = admin.delete(f"/v1/webhook-endpoints/{created['id']}")

    assert deleted.status_code == 200 and deleted.json()["enabled"] is False
    assert admin.get(f"/v1/webhook-endpoints/{created['id']}").status_code == 404
    assert admin.get("/v1/webhook-endpoints").json() == []
    assert admin.delete(f"/v1/webhook-endpoints/{created['id']}").status_code == 404


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/v1/webhook-endpoints/{id}"),
        ("patch", "/v1/webhook-endpoints/{id}"),
        ("delete", "/v1/webhook-endpoints/{id}"),
        ("post", "/v1/webhook-endpoints/{id}/rotate-secret"),
        ("post", "/v1/webhook-endpoints/{id}/test"),
        ("get", "/v1/webhook-endpoints/{id}/deliveries"),
        ("post", "/v1/webhook-deliveries/{id}/redeliver"),
    ],
)
def test_unknown_ids_are_404(admin: Caller, method: str, path: str) -> None:
    kwargs = {"json": {"enabled": True}} if method == "patch" else {}
    response = admin.client.request(method, path.format(id=uuid.uuid4()), headers=admin.headers(), **kwargs)
    assert response.status_code == 404, response.text
    assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    "body",
    [
        {"url": URL, "secret": "whsec_mine"},
        {"url": URL, "event_types": ["complaint.deleted"]},
        {"url": URL, "event_types": ["ping"]},
        {"url": URL, "event_types": []},
        {"url": URL, "event_types": "complaint.accepted"},
        {"url": URL, "store_id": "福田店"},
        {"url": URL, "enabled": "maybe"},
        {"url": URL, "description": ""},
        {"url": "https://crm.example.com/" + "a" * 2000},
        {"url": None},
        {"url": "ftp://crm.example.com/hooks"},
        {"url": "https://crm.example.com:99999/hooks"},
        {"url": "https://[::1/hooks"},
        {"url": "https://crm.example.com/hooks#fragment"},
        {},
        [],
    ],
)
def test_bad_bodies_are_422_problems_and_create_nothing(admin: Caller, body: Any) -> None:
    response = admin.post("/v1/webhook-endpoints", json=body)

    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == 422 and response.json()["detail"]
    assert admin.get("/v1/webhook-endpoints").json() == []


@pytest.mark.parametrize(
    "body",
    [
        {"secret": "whsec_mine"},
        {"url": None},
        {"enabled": None},
        {"event_types": []},
        {"description": "收银系统", "url": "ftp://crm.example.com/hooks"},  # the description is not kept either
        {"description": "收银系统", "store_id": "福田店"},
    ],
)
def test_bad_changes_are_422_problems_and_change_nothing(admin: Caller, receiver: Receiver, body: Any) -> None:
    created = subscribe(admin, receiver, description="呼叫中心 CRM")
    before = admin.get(f"/v1/webhook-endpoints/{created['id']}").json()

    response = patch(admin, f"/v1/webhook-endpoints/{created['id']}", body)

    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert admin.get(f"/v1/webhook-endpoints/{created['id']}").json() == before


def test_an_event_type_named_twice_is_kept_once(admin: Caller, receiver: Receiver) -> None:
    types = ["complaint.resolved", "sla.breached", "complaint.resolved"]
    created = subscribe(admin, receiver, event_types=types)
    assert created["event_types"] == ["complaint.resolved", "sla.breached"]


@pytest.mark.parametrize("role", ["handler", "supervisor", "manager", "intake", "reporter"])
def test_only_admins_manage_webhooks(make_caller, admin: Caller, receiver: Receiver, role: str) -> None:
    created = subscribe(admin, receiver)
    other = make_caller(role)

    assert other.post("/v1/webhook-endpoints", json={"url": receiver.url}).status_code == 403
    assert other.get("/v1/webhook-endpoints").status_code == 403
    assert other.get(f"/v1/webhook-endpoints/{created['id']}/deliveries").status_code == 403
    assert other.post(f"/v1/webhook-endpoints/{created['id']}/rotate-secret").status_code == 403


def test_a_store_key_may_not_manage_webhooks(make_caller, receiver: Receiver) -> None:
    store = make_caller("store", store_id="SZ-FT-012")
    response = store.post("/v1/webhook-endpoints", json={"url": receiver.url})
    assert response.status_code == 403
    assert response.json()["allowed_roles"] == ["admin"]


def test_no_key_is_401(admin: Caller) -> None:
    assert admin.client.get("/v1/webhook-endpoints").status_code == 401


def test_a_disabled_endpoint_cannot_be_pinged(admin: Caller, receiver: Receiver) -> None:
    created = subscribe(admin, receiver, enabled=False)
    response = admin.post(f"/v1/webhook-endpoints/{created['id']}/test")
    assert response.status_code == 409, response.text


def test_secrets_are_never_logged(
    admin: Caller, handler: Caller, receiver: Receiver, dispatcher: Dispatcher, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        created = subscribe(admin, receiver)
        rotated = admin.post(f"/v1/webhook-endpoints/{created['id']}/rotate-secret").json()
        receiver.secrets.append(rotated["secret"])
        handler.register()
        receiver.reply(Reply(500))
        assert dispatcher.once().delivered == 0
        admin.get(f"/v1/webhook-endpoints/{created['id']}/deliveries")

    assert receiver.received[0].verified_with == [created["secret"], rotated["secret"]]
    logged = caplog.text + "".join(str(r.__dict__) for r in caplog.records)
    assert "HTTP Request: POST" in logged  # httpx did log the attempt, at its own level
    for secret in (created["secret"], rotated["secret"]):
        assert secret not in logged and secret.removeprefix("whsec_") not in logged


def test_after_a_day_only_the_new_secret_signs(
    admin: Caller, handler: Caller, receiver: Receiver, dispatcher: Dispatcher
) -> None:
    created = subscribe(admin, receiver)
    with time_machine.travel(START) as clock:
        rotated = admin.post(f"/v1/webhook-endpoints/{created['id']}/rotate-secret").json()
        receiver.secrets.append(rotated["secret"])
        assert datetime.fromisoformat(rotated["previous_secret_expires_at"]) == START + timedelta(hours=24)
        clock.move_to(START + timedelta(hours=23, minutes=59))
        handler.register()
        dispatcher.once()
        clock.move_to(START + timedelta(hours=24, seconds=1))
        handler.register()
        dispatcher.once()

    within, after = receiver.received
    assert within.verified_with == [created["secret"], rotated["secret"]]
    assert after.verified_with == [rotated["secret"]]
    assert len(after.headers["webhook-signature"].split(" ")) == 1


def test_the_log_warns_when_private_targets_are_allowed(settings: Settings, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="tousu.webhooks"):
        create_app(settings.model_copy(update={"webhook_allow_private": False}))
    assert caplog.records == []
    with caplog.at_level(logging.WARNING, logger="tousu.webhooks"):
        create_app(settings)
    (warning,) = caplog.records
    assert warning.levelno == logging.WARNING and "TOUSU_WEBHOOK_ALLOW_PRIVATE" in warning.getMessage()


def test_the_delivery_log_filters_by_status_and_pages(
    admin: Caller, handler: Caller, receiver: Receiver, dispatcher: Dispatcher
) -> None:
    endpoint = subscribe(admin, receiver)
    registered = [handler.register(complainant=another_customer(i)) for i in range(5)]
    receiver.rule = lambda message: Reply(503) if message["data"]["complaint"]["id"] == registered[1]["id"] else None
    dispatcher.once()
    path = f"/v1/webhook-endpoints/{endpoint['id']}/deliveries"

    (pending,) = admin.get(path, params={"status": "pending"}).json()["items"]
    assert pending["complaint_id"] == registered[1]["id"] and pending["attempts"][0]["status_code"] == 503
    seen, cursor = [], None
    while True:
        page = admin.get(path, params={"limit": 2, **({"cursor": cursor} if cursor else {})}).json()
        seen += [d["complaint_id"] for d in page["items"]]
        if (cursor := page["next_cursor"]) is None:
            break
    assert seen == [c["id"] for c in reversed(registered)]  # newest first, each once
    for query in ({"status": "lost"}, {"limit": 0}, {"limit": 201}, {"cursor": "AAAA"}, {"since": "yesterday"}):
        response = admin.get(path, params=query)
        assert response.status_code == 422, (query, response.text)
        assert response.headers["content-type"] == "application/problem+json"


def test_deleting_an_endpoint_ends_its_pending_deliveries(
    admin: Caller, handler: Caller, receiver: Receiver, dispatcher: Dispatcher, db: Database
) -> None:
    endpoint = subscribe(admin, receiver)
    receiver.default = Reply(503)
    handler.register()
    dispatcher.once()

    assert admin.delete(f"/v1/webhook-endpoints/{endpoint['id']}").status_code == 200
    with db.readers() as session:
        (delivery,) = session.scalars(select(WebhookDelivery))
    assert delivery.status == "failed" and delivery.next_attempt_at is None
    with time_machine.travel(utcnow() + timedelta(days=4)):
        assert dispatcher.once().attempts == 0
    assert len(receiver.received) == 1
