"""A store key and corrective actions, tested the way scoping fails: distinctive texts are planted in another
store's action and in the complaints linked to it, and every byte the store key gets is searched for them."""

from __future__ import annotations

from typing import Any

import pytest

from tests.actions.helpers import PATH, create, patch
from tests.conftest import Caller
from tests.planted import OTHER, OWN, leaks, plant

THEIR_ACTION_MARK = "THEIR-ACTION-5K8W"
THEIR_OWNER = "诸葛远航"


@pytest.fixture
def scene(handler: Caller, manager: Caller) -> dict[str, Any]:
    planted = plant(handler)
    mine, theirs = planted[OWN], planted[OTHER]
    own = create(manager, store_id=OWN, complaint_ids=[mine["id"], theirs["id"]])
    other = create(
        manager,
        store_id=OTHER,
        cause=f"成都门店重复投诉 {THEIR_ACTION_MARK}",
        action=f"整改 {THEIR_ACTION_MARK}",
        owner=THEIR_OWNER,
        complaint_ids=[theirs["id"]],
    )
    company = create(manager, store_id=None, category="billing", cause=f"全公司收费问题 {THEIR_ACTION_MARK}")
    return {"planted": planted, "own": own, "other": other, "company": company}


def their_traces(data: bytes, scene: dict[str, Any], asked: str = "") -> list[str]:
    text = data.decode()
    wanted = [THEIR_ACTION_MARK, THEIR_OWNER, scene["other"]["id"], scene["company"]["id"]]
    return leaks(data, scene["planted"], asked) + [value for value in wanted if value in text and value not in asked]


def test_a_store_key_reads_its_own_stores_actions_only(make_caller: Any, scene: dict[str, Any]) -> None:
    store = make_caller("store", store_id=OWN, actor="store-manager-12")
    listed = store.get(PATH)
    assert listed.status_code == 200
    assert [a["id"] for a in listed.json()] == [scene["own"]["id"]]
    # Of the linked complaints, only the one dispatched to its store.
    assert listed.json()[0]["complaint_ids"] == [scene["planted"][OWN]["id"]]
    one = store.get(f"{PATH}/{scene['own']['id']}")
    assert one.status_code == 200 and one.json() == listed.json()[0]
    received = [listed, one]
    for params in ({"store_id": OTHER}, {"category": "billing"}, {"state": "open"}):
        found = store.get(PATH, params=params)
        assert found.status_code == 200
        received.append(found)
    assert [a["id"] for a in received[-1].json()] == [scene["own"]["id"]]
    assert received[2].json() == []
    for response in received:
        assert their_traces(response.content, scene) == []


def test_every_write_on_another_stores_action_is_404_and_tells_nothing(
    make_caller: Any, manager: Caller, scene: dict[str, Any]
) -> None:
    store = make_caller("store", store_id=OWN, actor="store-manager-12")
    before = manager.get(PATH).json()
    for action in (scene["other"], scene["company"]):
        asked = action["id"]
        answers = [
            store.get(f"{PATH}/{asked}"),
            patch(store, asked, {"action": "改写"}),
            store.post(f"{PATH}/{asked}/done"),
        ]
        for response in answers:
            assert response.status_code == 404, response.text
            assert their_traces(response.content, scene, asked) == []
    assert manager.get(PATH).json() == before


def test_a_store_key_edits_and_completes_its_own_action(make_caller: Any, scene: dict[str, Any]) -> None:
    store = make_caller("store", store_id=OWN, actor="store-manager-12")
    own = scene["own"]["id"]
    edited = patch(store, own, {"action": "店长每周抽查小票", "owner": "门店店长"})
    assert edited.status_code == 200, edited.text
    assert (edited.json()["action"], edited.json()["updated_by"]) == ("店长每周抽查小票", "store-manager-12")
    done = store.post(f"{PATH}/{own}/done")
    assert done.status_code == 200 and done.json()["state"] == "done"
    for response in (edited, done):
        assert their_traces(response.content, scene) == []


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("post", "", {"store_id": OWN, "cause": "自建", "action": "自建", "owner": "店长", "due_on": "2026-12-01"}),
        ("post", "/{own}/verify", None),
        ("post", "/{own}/drop", {"reason": "不做了"}),
        ("patch", "/{own}", {"store_id": OTHER}),
        ("patch", "/{own}", {"complaint_ids": []}),
        ("patch", "/{own}", {"category": "delivery"}),
    ],
)
def test_a_store_key_may_not_create_verify_drop_or_move_the_cause(
    make_caller: Any, manager: Caller, scene: dict[str, Any], method: str, path: str, body: Any
) -> None:
    store = make_caller("store", store_id=OWN, actor="store-manager-12")
    before = manager.get(PATH).json()
    url = PATH + path.format(own=scene["own"]["id"])
    response = store.client.request(method.upper(), url, json=body, headers=store.headers())
    assert response.status_code == 403, response.text
    assert their_traces(response.content, scene) == []
    assert manager.get(PATH).json() == before


def test_a_department_key_sees_no_action(make_caller: Any, scene: dict[str, Any]) -> None:
    department = make_caller("department", department="品管部", actor="qa-01")
    assert department.get(PATH).json() == []
    assert department.get(f"{PATH}/{scene['own']['id']}").status_code == 404
    assert patch(department, scene["own"]["id"], {"action": "改"}).status_code == 403


def test_the_summary_shows_a_store_key_its_own_actions_only(
    make_caller: Any, manager: Caller, scene: dict[str, Any]
) -> None:
    for action in (scene["own"], scene["other"], scene["company"]):
        assert manager.post(f"{PATH}/{action['id']}/done").status_code == 200
    store = make_caller("store", store_id=OWN, actor="store-manager-12")
    today = scene["own"]["created_at"][:10]
    response = store.get("/v1/reports/summary", params={"from": today, "to": today})
    assert response.status_code == 200, response.text
    assert [a["id"] for a in response.json()["corrective_actions"]] == [scene["own"]["id"]]
    assert their_traces(response.content, scene) == []
    everything = manager.get("/v1/reports/summary", params={"from": today, "to": today}).json()
    assert len(everything["corrective_actions"]) == 3
