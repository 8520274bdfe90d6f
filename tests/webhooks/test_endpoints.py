"""The endpoints API: admin only, secrets shown once, unknown fields refused, 404 for what does not exist."""

from __future__ import annotations

import logging
import uuid

import pytest

from tests.conftest import Caller
from tests.webhooks.conftest import Receiver, patch, subscribe

URL = "https://crm.example.com/tousu/webhooks"


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
        {"url": URL, "event_types": []},
        {"url": URL, "store_id": "福田店"},
        {},
    ],
)
def test_bad_bodies_are_422(admin: Caller, body: dict) -> None:
    response = admin.post("/v1/webhook-endpoints", json=body)
    assert response.status_code == 422, response.text


def test_patch_refuses_unknown_fields_and_null_url(admin: Caller, receiver: Receiver) -> None:
    created = subscribe(admin, receiver)
    for body in ({"secret": "whsec_mine"}, {"url": None}, {"enabled": None}):
        response = patch(admin, f"/v1/webhook-endpoints/{created['id']}", body)
        assert response.status_code == 422, (body, response.text)


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


def test_secrets_are_never_logged(admin: Caller, receiver: Receiver, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        created = subscribe(admin, receiver)
        rotated = admin.post(f"/v1/webhook-endpoints/{created['id']}/rotate-secret").json()
    logged = caplog.text + "".join(str(r.__dict__) for r in caplog.records)
    assert created["secret"] not in logged and rotated["secret"] not in logged
