"""The corrective-action flow: record, edit, done, verified or dropped; illegal moves 409, bad input 422, and nothing
changed by a refused request."""

from __future__ import annotations

from typing import Any

import pytest

from tests.actions.helpers import PATH, action_body, create, patch, read
from tests.conftest import Caller, another_customer
from tests.sla.moments import frozen


@pytest.fixture
def reporter(make_caller: Any) -> Caller:
    return make_caller("reporter", actor="reporter-01")


def test_an_action_goes_open_done_verified_with_who_and_when(manager: Caller, handler: Caller) -> None:
    complaint = handler.register(category="billing", complainant=another_customer(1))
    with frozen(2026, 11, 2, 9, 30):
        created = manager.post(PATH, json={**action_body(), "complaint_ids": [complaint["id"]]})
    assert created.status_code == 201, created.text
    action = created.json()
    assert created.headers["Location"] == f"{PATH}/{action['id']}"
    assert created.headers["ETag"] == '"1"'
    assert action["state"] == "open" and action["complaint_ids"] == [complaint["id"]]
    assert action["created_at"] == "2026-11-02T09:30:00+08:00" and action["created_by"] == "manager-01"
    with frozen(2026, 11, 10, 18, 0):
        done = manager.as_actor("manager-02").post(f"{PATH}/{action['id']}/done")
    assert done.status_code == 200, done.text
    assert done.json()["state"] == "done" and done.json()["done_at"] == "2026-11-10T18:00:00+08:00"
    assert done.headers["ETag"] == '"2"'
    with frozen(2026, 11, 20, 10, 0):
        verified = manager.post(f"{PATH}/{action['id']}/verify").json()
    assert verified["state"] == "verified" and verified["verified_at"] == "2026-11-20T10:00:00+08:00"
    assert [(c["change"], c["by"], c["at"]) for c in verified["history"]] == [
        ("create", "manager-01", "2026-11-02T09:30:00+08:00"),
        ("done", "manager-02", "2026-11-10T18:00:00+08:00"),
        ("verify", "manager-01", "2026-11-20T10:00:00+08:00"),
    ]
    assert (verified["updated_by"], verified["version"]) == ("manager-01", 3)


def test_a_dropped_action_keeps_its_reason_and_is_final(admin: Caller) -> None:
    action = create(admin)
    dropped = admin.post(f"{PATH}/{action['id']}/drop", json={"reason": "门店已于11月关闭"})
    assert dropped.status_code == 200, dropped.text
    assert (dropped.json()["state"], dropped.json()["dropped_reason"]) == ("dropped", "门店已于11月关闭")
    for move in ("done", "verify"):
        refused = admin.post(f"{PATH}/{action['id']}/{move}")
        assert refused.status_code == 409 and refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["state"] == "dropped" and refused.json()["allowed_moves"] == []
    edit = patch(admin, action["id"], {"action": "改为关店前清点"})
    assert edit.status_code == 409
    assert read(admin, action["id"]) == dropped.json()


@pytest.mark.parametrize(("first", "then"), [(None, "verify"), ("done", "done"), ("verify", "drop")])
def test_an_illegal_move_is_409_and_changes_nothing(manager: Caller, first: str | None, then: str) -> None:
    action = create(manager)
    if first == "verify":
        manager.post(f"{PATH}/{action['id']}/done")
    if first is not None:
        assert manager.post(f"{PATH}/{action['id']}/{first}").status_code == 200
    before = read(manager, action["id"])
    body = {"reason": "不再需要"} if then == "drop" else None
    refused = manager.post(f"{PATH}/{action['id']}/{then}", json=body)
    assert refused.status_code == 409, refused.text
    assert refused.json()["type"].endswith("illegal-move")
    assert read(manager, action["id"]) == before


def test_edits_change_what_is_sent_and_are_in_the_history(manager: Caller) -> None:
    action = create(manager)
    edited = patch(manager, action["id"], {"action": "每周抽查小票", "due_on": "2026-12-01"}, {"If-Match": '"1"'})
    assert edited.status_code == 200, edited.text
    assert (edited.json()["action"], edited.json()["due_on"], edited.json()["owner"]) == (
        "每周抽查小票",
        "2026-12-01",
        "王店长",
    )
    assert edited.json()["history"][-1]["fields"] == ["action", "due_on"]
    stale = patch(manager, action["id"], {"owner": "李主管"}, {"If-Match": '"1"'})
    assert stale.status_code == 412 and stale.json()["current_version"] == 2
    assert read(manager, action["id"])["owner"] == "王店长"


@pytest.mark.parametrize(
    "body",
    [
        {"store_id": None, "category": None},
        {"store_id": "NO-SUCH-STORE"},
        {"due_on": "2026-02-30"},
        {"owner": ""},
        {"complaint_ids": ["01939d3c-7a4e-7c3f-9d2a-3b5c6d7e8f90"]},
        {"state": "verified"},
    ],
)
def test_bad_input_is_422_and_records_nothing(manager: Caller, body: dict[str, Any]) -> None:
    refused = manager.post(PATH, json={**action_body(), **body})
    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    assert manager.get(PATH).json() == []


@pytest.mark.parametrize(
    "body", [{}, {"action": None}, {"store_id": "NO-SUCH-STORE"}, {"category": None, "store_id": None}, {"x": 1}]
)
def test_a_bad_edit_is_422_and_changes_nothing(manager: Caller, body: dict[str, Any]) -> None:
    action = create(manager, category=None)
    refused = patch(manager, action["id"], body)
    assert refused.status_code == 422, refused.text
    assert read(manager, action["id"]) == action


def test_a_drop_needs_a_reason(manager: Caller) -> None:
    action = create(manager)
    assert manager.post(f"{PATH}/{action['id']}/drop", json={}).status_code == 422
    assert read(manager, action["id"])["state"] == "open"


def test_reporters_and_handlers_read_but_do_not_write(manager: Caller, reporter: Caller, handler: Caller) -> None:
    action = create(manager)
    assert read(reporter, action["id"]) == action
    assert [a["id"] for a in handler.get(PATH).json()] == [action["id"]]
    for caller in (reporter, handler):
        assert caller.post(PATH, json=action_body()).status_code == 403
        assert caller.post(f"{PATH}/{action['id']}/done").status_code == 403
        assert patch(caller, action["id"], {"action": "改"}).status_code == 403
    assert read(manager, action["id"])["state"] == "open"


def test_the_list_filters_by_state_store_and_category(manager: Caller) -> None:
    billing = create(manager)
    delivery = create(manager, store_id="SZ-LH-003", category="delivery")
    company = create(manager, store_id=None, category="delivery")
    manager.post(f"{PATH}/{billing['id']}/done")

    def ids(**params: str) -> list[str]:
        response = manager.get(PATH, params=params)
        assert response.status_code == 200, response.text
        return sorted(a["id"] for a in response.json())

    assert ids(state="done") == [billing["id"]]
    assert ids(state="open") == sorted([delivery["id"], company["id"]])
    assert ids(store_id="SZ-LH-003") == [delivery["id"]]
    assert ids(category="delivery") == sorted([delivery["id"], company["id"]])
    assert manager.get(PATH, params={"state": "closed"}).status_code == 422


def test_a_move_with_a_stale_if_match_is_412_and_changes_nothing(manager: Caller) -> None:
    action = create(manager)
    patch(manager, action["id"], {"owner": "李主管"})
    before = read(manager, action["id"])
    stale = manager.post(f"{PATH}/{action['id']}/done", headers={"If-Match": '"1"'})
    assert stale.status_code == 412, stale.text
    assert (stale.json()["current_version"], stale.headers["content-type"]) == (2, "application/problem+json")
    assert read(manager, action["id"]) == before
    current = manager.post(f"{PATH}/{action['id']}/done", headers={"If-Match": '"2"'})
    assert current.status_code == 200 and current.json()["state"] == "done"


def test_an_unknown_action_is_404_and_a_malformed_id_422(manager: Caller) -> None:
    unknown = manager.get(f"{PATH}/01939d3c-7a4e-7c3f-9d2a-3b5c6d7e8f90")
    assert unknown.status_code == 404 and unknown.headers["content-type"] == "application/problem+json"
    assert manager.post(f"{PATH}/not-an-id/done").status_code == 422
