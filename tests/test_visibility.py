"""The visibility model, tried as an attacker with a store key would: distinctive names, phone numbers and e-mail
addresses are planted on the complaints of two stores (in the contact fields and quoted in free text), then every
byte the store key can get is searched for the other store's data and for the unmasked values of its own.

On SQLite and PostgreSQL, over HTTP through the app; the webhook half of the model is in tests/webhooks.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi import FastAPI

from tests.conftest import Caller
from tests.planted import FEEDBACK, MINE, OTHER, OWN, leaks, plant


@pytest.fixture
def store(make_caller: Any) -> Caller:
    return make_caller("store", store_id=OWN, actor="店长王五")


@pytest.fixture
def planted(handler: Caller) -> dict[str, dict[str, Any]]:
    return plant(handler)


def store_routes(app: FastAPI) -> list[tuple[str, str]]:
    """Every operation of the API, as (method, path template): the store key tries them all."""
    return [
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        for method in operations
        if method in ("get", "post", "put", "patch", "delete")
    ]


BODIES: dict[str, Any] = {
    "store-feedback": FEEDBACK,
    "notes": {"text": "门店补充说明"},
    "investigate": {"store_id": OWN},
    "reject": {"reason": "misunderstanding", "explanation": "误会"},
    "propose": {"remedy": {"kind": "apology"}, "reply": "抱歉", "reply_channel": "sms"},
    "resolve": {"remedy": {"kind": "apology"}, "reply": "抱歉", "reply_channel": "sms"},
    "send-back": {"reason": "重新拟定"},
    "revisit": {"satisfaction": "satisfied"},
    "reopen": {"reason": "客户不满意"},
}


def test_nothing_a_store_key_can_get_leaks(app: FastAPI, store: Caller, planted: dict[str, dict[str, Any]]) -> None:
    found: dict[str, list[str]] = {}
    tried = 0
    for method, template in store_routes(app):
        for complaint in planted.values():
            path = template.replace("{complaint_id}", complaint["id"]).replace("{day}", "2026-10-01")
            path = re.sub(r"\{[a-z_]+\}", "00000000-0000-7000-8000-000000000000", path)
            name = path.rsplit("/", 1)[-1]
            requests = [{}]
            if path.startswith("/v1/reports"):
                requests = [
                    {"params": {"from": "2026-01-01", "to": "2026-12-31", **group}, "headers": {"Accept": accept}}
                    for group in ({}, {"group_by": "store"}, {"group_by": "department"})
                    for accept in ("application/json", "text/csv")
                ]
            if path.startswith("/v1/complaints") and method == "GET" and path.endswith("/complaints"):
                requests = [{"params": {"limit": 200}}]
            for extra in requests:
                headers = store.headers(extra.get("headers"))
                body = BODIES.get(name, {}) if method in ("POST", "PUT", "PATCH") else None
                response = store.client.request(method, path, headers=headers, params=extra.get("params"), json=body)
                tried += 1
                if leaked := leaks(response.content, planted, asked=path):
                    found[f"{method} {path} {extra} -> {response.status_code}"] = leaked
    assert tried > 40
    assert found == {}


def test_the_store_sees_its_own_complaint_masked_and_redacted(
    store: Caller, planted: dict[str, dict[str, Any]]
) -> None:
    mine = store.get(f"/v1/complaints/{planted[OWN]['id']}").json()
    assert mine["complainant"] == {
        "name": "欧***",
        "phone": "139****4321",
        "email": "j***@example.org",
        "customer_ref": None,
        "address": "浙江省杭州市***",
    }
    assert (
        mine["description"]
        == "客户欧***（电话 139****4321，邮箱 j***@example.org，住址 浙江省杭州市***）反映店员态度恶劣。"
    )
    assert mine["customer_request"] == "请回电 139****4321"


def test_internal_notes_stay_internal(handler: Caller, store: Caller, planted: dict[str, dict[str, Any]]) -> None:
    complaint_id = planted[OWN]["id"]
    notes = [e for e in handler.get(f"/v1/complaints/{complaint_id}/events").json() if e["move"] == "note"]
    assert [n["payload"]["visible_to_unit"] for n in notes] == [False, True]
    seen = [e for e in store.get(f"/v1/complaints/{complaint_id}/events").json() if e["move"] == "note"]
    assert [n["id"] for n in seen] == [notes[1]["id"]]
    assert seen[0]["payload"]["text"] == "客户 欧*** 又来电 139****4321"


def test_a_store_does_not_read_another_stores_feedback_after_a_reassignment(
    handler: Caller, make_caller: Any, planted: dict[str, dict[str, Any]]
) -> None:
    complaint_id = planted[OTHER]["id"]
    handler.move(complaint_id, "resolve", {"remedy": {"kind": "apology"}, "reply": "抱歉", "reply_channel": "sms"})
    handler.move(complaint_id, "reopen", {"reason": "客户不满意", "store_id": OWN})
    store = make_caller("store", store_id=OWN)
    history = store.get(f"/v1/complaints/{complaint_id}/events").json()
    assert "store-feedback" not in [e["move"] for e in history]  # store OTHER's, not OWN's
    clocks = store.get(f"/v1/complaints/{complaint_id}/clocks").json()
    assert {c["store_id"] for c in clocks} <= {None, OWN}
    assert OTHER not in {c["store_id"] for c in store.get(f"/v1/complaints/{complaint_id}").json()["clocks"]}


# Finding 10: a store key speaks for its own store only.


def test_feedback_for_another_store_is_refused_and_not_recorded(
    handler: Caller, store: Caller, planted: dict[str, dict[str, Any]]
) -> None:
    complaint_id = planted[OWN]["id"]
    before = handler.get(f"/v1/complaints/{complaint_id}/events").json()
    response = store.post(f"/v1/complaints/{complaint_id}/store-feedback", json={**FEEDBACK, "store_id": OTHER})
    assert response.status_code == 403, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert handler.get(f"/v1/complaints/{complaint_id}/events").json() == before


def test_feedback_names_the_store_it_is_for(handler: Caller, store: Caller, planted: dict[str, dict[str, Any]]) -> None:
    complaint_id = planted[OWN]["id"]
    store.move(complaint_id, "store-feedback", {**FEEDBACK, "store_id": OWN})
    store.move(complaint_id, "store-feedback", FEEDBACK)
    feedback = [e for e in handler.get(f"/v1/complaints/{complaint_id}/events").json() if e["move"] == "store-feedback"]
    assert [e["payload"]["store_id"] for e in feedback] == [OWN, OWN, OWN]  # the handler's, on its behalf, too


# Finding 1: the phone oracle.


def test_a_phone_guess_answers_the_same_whether_right_or_wrong(
    store: Caller, planted: dict[str, dict[str, Any]]
) -> None:
    right = store.get("/v1/complaints", params={"phone": MINE["phone"]})
    wrong = store.get("/v1/complaints", params={"phone": "13987654320"})
    assert right.status_code == wrong.status_code == 403
    assert right.json() == wrong.json()
    assert MINE["phone"] not in right.text


# Finding 9: masks hide most of a value.


@pytest.mark.parametrize(
    ("person", "shown"),
    [
        ({"name": "王", "phone": "88886666"}, {"name": "*", "phone": "******66"}),
        ({"name": "王五", "phone": "13812348000"}, {"name": "王*", "phone": "138****8000"}),
        ({"name": "诸葛孔明", "phone": "0755-8888 6666"}, {"name": "诸***", "phone": "**********66"}),
        ({"name": "Li", "phone": "+44 20 7946 0958"}, {"name": "L*", "phone": "+**********58"}),
    ],
)
def test_masks_hide_most_of_a_value(
    handler: Caller, store: Caller, person: dict[str, str], shown: dict[str, str]
) -> None:
    complaint = handler.register(complainant={**person, "email": "x@example.com"})
    handler.move(complaint["id"], "investigate", {"store_id": OWN})
    complainant = store.get(f"/v1/complaints/{complaint['id']}").json()["complainant"]
    assert {"name": complainant["name"], "phone": complainant["phone"]} == shown
    assert complainant["email"] == "x***@example.com"
