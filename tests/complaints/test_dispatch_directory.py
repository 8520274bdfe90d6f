"""A complaint is dispatched only to a store or department the directory knows and that is active: investigate and
reopen to an unknown or closed unit are 422 and change nothing. The store complained about (registration, PATCH) is
what the customer said and need not be known. Over HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Caller
from tests.sla.moments import frozen

STORE = "SZ-FT-012"  # in the chain's directory (tests/conftest.py)
UNKNOWN = "SZ-XX-999"
VERIFIED = {"reason": "misunderstanding", "explanation": "经实地调查，该批次产品检验合格，投诉不成立，敬请谅解。"}


def put(admin: Caller, path: str, body: dict[str, Any], status: int) -> None:
    response = admin.client.put(path, json=body, headers=admin.headers())
    assert response.status_code == status, response.text


def refused(caller: Caller, complaint_id: str, move: str, body: dict[str, Any]) -> dict[str, Any]:
    response = caller.post(f"/v1/complaints/{complaint_id}/{move}", json=body)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem: dict[str, Any] = response.json()
    assert problem["type"].endswith("/invalid-input")
    return problem


def seen(caller: Caller, complaint_id: str) -> tuple[Any, ...]:
    """What a client reads of the complaint: itself with its ETag, its history and its clocks."""
    complaint = caller.get(f"/v1/complaints/{complaint_id}")
    events = caller.get(f"/v1/complaints/{complaint_id}/events")
    clocks = caller.get(f"/v1/complaints/{complaint_id}/clocks")
    assert complaint.status_code == events.status_code == clocks.status_code == 200
    return complaint.json(), complaint.headers["ETag"], events.json(), clocks.json()


@pytest.mark.parametrize(
    ("unit", "field", "detail"),
    [
        ({"store_id": UNKNOWN}, "store_id", f"no store {UNKNOWN} in the directory"),
        ({"department": "公关部"}, "department", "no department 公关部 in the directory"),
        ({"store_id": STORE, "department": "公关部"}, "department", "no department 公关部 in the directory"),
    ],
    ids=["store", "department", "one-of-two"],
)
def test_investigate_to_an_unknown_unit_is_422_and_changes_nothing(
    handler: Caller, unit: dict[str, str], field: str, detail: str
) -> None:
    with frozen(2026, 11, 23, 10, 0):
        complaint = handler.register()
        before = seen(handler, complaint["id"])
        problem = refused(handler, complaint["id"], "investigate", unit)
        assert seen(handler, complaint["id"]) == before
    assert problem["detail"] == detail
    assert problem["field"] == field
    assert problem["errors"] == [{"loc": ["body", field], "msg": detail, "type": "not_dispatchable"}]
    assert before[0]["state"] == "accepted"


@pytest.mark.parametrize("kind", ["stores", "departments"])
def test_investigate_to_a_closed_unit_is_422_until_it_is_open_again(handler: Caller, admin: Caller, kind: str) -> None:
    unit_id, field = ("GZ-TH-003", "store_id") if kind == "stores" else ("法务部", "department")
    put(admin, f"/v1/{kind}/{unit_id}", {"name": "已撤销", "active": False}, 200)
    with frozen(2026, 11, 23, 10, 0):
        complaint = handler.register()
        before = seen(handler, complaint["id"])
        problem = refused(handler, complaint["id"], "investigate", {field: unit_id})
        assert seen(handler, complaint["id"]) == before
    assert problem["detail"] == f"{kind[:-1] if kind == 'stores' else 'department'} {unit_id} is closed"
    assert problem["field"] == field
    put(admin, f"/v1/{kind}/{unit_id}", {"active": True}, 200)
    with frozen(2026, 11, 23, 10, 5):
        investigating = handler.move(complaint["id"], "investigate", {field: unit_id})
    assert investigating["state"] == "investigating"
    assert investigating["responsible_store_id" if kind == "stores" else "responsible_department"] == unit_id


def test_a_store_put_in_the_directory_is_dispatched_to(handler: Caller, admin: Caller) -> None:
    put(admin, "/v1/stores/SZ-BA-021", {"name": "宝安新店", "region": "华南区"}, 201)
    complaint = handler.register(store_id="SZ-BA-021")
    investigating = handler.move(complaint["id"], "investigate", {"store_id": "SZ-BA-021"})
    assert investigating["responsible_store_id"] == "SZ-BA-021"


def test_reopen_to_an_unknown_or_closed_unit_is_422_and_without_one_keeps_its_unit(
    handler: Caller, admin: Caller
) -> None:
    put(admin, "/v1/departments/物流部", {"active": False}, 200)
    with frozen(2026, 11, 23, 10, 0):
        complaint = handler.register()
        handler.move(complaint["id"], "investigate", {"store_id": STORE})
        handler.move(complaint["id"], "reject", VERIFIED)
    with frozen(2026, 11, 24, 9, 0):
        before = seen(handler, complaint["id"])
        unknown = refused(handler, complaint["id"], "reopen", {"reason": "客户补充了证据", "store_id": UNKNOWN})
        closed = refused(handler, complaint["id"], "reopen", {"reason": "客户补充了证据", "department": "物流部"})
        assert seen(handler, complaint["id"]) == before
        reopened = handler.move(complaint["id"], "reopen", {"reason": "客户补充了证据"})
    assert (unknown["field"], closed["field"]) == ("store_id", "department")
    assert closed["detail"] == "department 物流部 is closed"
    assert before[0]["state"] == "rejected"
    assert (reopened["state"], reopened["responsible_store_id"]) == ("investigating", STORE)


def test_the_store_complained_about_need_not_be_known_until_dispatch(handler: Caller) -> None:
    """Intake records the store the customer names; registering and correcting it are no dispatch."""
    complaint = handler.register(store_id=UNKNOWN)
    assert complaint["store_id"] == UNKNOWN
    response = handler.client.patch(
        f"/v1/complaints/{complaint['id']}",
        json={"store_id": "SZ-XX-998", "reason": "客户更正了门店"},
        headers=handler.headers({"If-Match": f'"{complaint["version"]}"'}),
    )
    assert response.status_code == 200, response.text
    assert response.json()["store_id"] == "SZ-XX-998"
    problem = refused(handler, complaint["id"], "investigate", {"store_id": "SZ-XX-998"})
    assert problem["detail"] == "no store SZ-XX-998 in the directory"


def test_reassigning_the_owner_does_not_consult_the_directory(handler: Caller, admin: Caller) -> None:
    """Reassignment hands the complaint to another person (首问责任人), not to a unit: a unit closed since the
    dispatch does not stop it."""
    with frozen(2026, 11, 23, 10, 0):
        complaint = handler.register()
        handler.move(complaint["id"], "investigate", {"store_id": "SZ-LH-003"})
    put(admin, "/v1/stores/SZ-LH-003", {"active": False}, 200)
    with frozen(2026, 11, 23, 11, 0):
        reassigned = handler.move(complaint["id"], "reassign", {"owner": "handler-12", "reason": "原责任人休假"})
    assert (reassigned["owner"], reassigned["responsible_store_id"]) == ("handler-12", "SZ-LH-003")
