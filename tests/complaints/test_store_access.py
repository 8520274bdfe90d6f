"""A store key sees only the complaints dispatched to its store, masked, and may only feed back.

Another store's complaint, or one not dispatched to a store at all, answers 404 on every endpoint (never 403,
never 409, so ids do not leak) and stays as it was. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.conftest import Caller, complaint_body

OWN = "SZ-FT-012"
OTHER = "GZ-TH-003"

FEEDBACK = {"cause": "店员未按退货流程操作", "responsible_person": "李四", "responsibility": "staff_fault"}
REFUND = {"remedy": {"kind": "refund", "amount": "300.00"}, "reply": "非常抱歉，全额退款。", "reply_channel": "sms"}
APOLOGY = {"remedy": {"kind": "apology"}, "reply": "非常抱歉给您带来不便。", "reply_channel": "sms"}

# Each move with a body the schema accepts, and the state it starts from (where it would be legal).
MOVES: list[tuple[str, dict[str, Any], str]] = [
    ("reject", {"reason": "misunderstanding", "explanation": "经核实属误会，敬请谅解。"}, "accepted"),
    ("investigate", {"store_id": OWN}, "accepted"),
    ("store-feedback", FEEDBACK, "investigating"),
    ("propose", REFUND, "investigating"),
    ("resolve", APOLOGY, "investigating"),
    ("approve", {"reply": "已为您退款300元。"}, "awaiting_approval"),
    ("send-back", {"reason": "请重新协商"}, "awaiting_approval"),
    ("revisit", {"satisfaction": "satisfied", "call_notes": "客户满意"}, "resolved"),
    ("reopen", {"reason": "客户仍不满意", "store_id": OWN}, "resolved"),
]
MOVE_IDS = [name for name, _, _ in MOVES]


def problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status
    return body


def prepare(handler: Caller, supervisor: Caller, state: str, unit: dict[str, str] | None) -> dict[str, Any]:
    """A complaint about store OWN, brought to ``state``; ``unit`` is where it is dispatched (None: nowhere).

    ``accepted`` and ``rejected`` complaints are never dispatched; the others need a unit.
    """
    complaint = handler.register(store_id=OWN)
    if state == "accepted":
        return complaint
    if state == "rejected":
        return handler.move(complaint["id"], "reject", {"reason": "misunderstanding", "explanation": "误会"})
    assert unit is not None
    complaint = handler.move(complaint["id"], "investigate", unit)
    if state == "investigating":
        return complaint
    if state == "awaiting_approval":
        return handler.move(complaint["id"], "propose", REFUND)
    complaint = handler.move(complaint["id"], "resolve", APOLOGY)
    if state == "resolved":
        return complaint
    assert state == "revisited"
    return handler.move(complaint["id"], "revisit", {"satisfaction": "neutral"})


def snapshot(handler: Caller, complaint_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """What a handler sees of the complaint and its history."""
    complaint = handler.get(f"/v1/complaints/{complaint_id}")
    assert complaint.status_code == 200, complaint.text
    events = handler.get(f"/v1/complaints/{complaint_id}/events")
    assert events.status_code == 200, events.text
    return complaint.json(), events.json()


def assert_unchanged(handler: Caller, before: dict[str, Any], events_before: list[dict[str, Any]]) -> None:
    after, events_after = snapshot(handler, before["id"])
    assert after["version"] == before["version"]
    assert after["state"] == before["state"]
    assert after["updated_at"] == before["updated_at"]
    assert after["responsibility"] == before["responsibility"]
    assert after["responsible_store_id"] == before["responsible_store_id"]
    assert events_after == events_before


@pytest.fixture
def store(make_caller: Any) -> Caller:
    return make_caller("store", store_id=OWN, actor="店长王五")


# Hidden complaints: another store's, and one dispatched to no store.


def hidden_complaint(handler: Caller, supervisor: Caller, scenario: str, source: str, move: str = "") -> dict[str, Any]:
    """A complaint the store key may not see, as close as possible to one where the move would be legal.

    ``other-store``: dispatched to store OTHER (moves that start from ``accepted`` find it investigating: an
    accepted complaint is dispatched nowhere). ``undispatched``: about store OWN but dispatched to no store:
    still accepted, rejected (for reopen), or handed to a department.
    """
    if scenario == "other-store":
        state = "investigating" if source == "accepted" else source
        return prepare(handler, supervisor, state, {"store_id": OTHER})
    state = "rejected" if move == "reopen" else source
    return prepare(handler, supervisor, state, {"department": "物业工程部"} if state != "accepted" else None)


SCENARIOS = ["other-store", "undispatched"]


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_read_one_is_404(handler: Caller, supervisor: Caller, store: Caller, scenario: str) -> None:
    complaint = hidden_complaint(handler, supervisor, scenario, "investigating")
    before, events = snapshot(handler, complaint["id"])
    body = problem(store.get(f"/v1/complaints/{complaint['id']}"), 404)
    assert body["type"].endswith("/not-found")
    assert "ETag" not in store.get(f"/v1/complaints/{complaint['id']}").headers
    assert_unchanged(handler, before, events)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_history_is_404(handler: Caller, supervisor: Caller, store: Caller, scenario: str) -> None:
    complaint = hidden_complaint(handler, supervisor, scenario, "investigating")
    body = problem(store.get(f"/v1/complaints/{complaint['id']}/events"), 404)
    assert body["type"].endswith("/not-found")
    assert "register" not in str(body)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_notes_are_404(handler: Caller, supervisor: Caller, store: Caller, scenario: str) -> None:
    complaint = hidden_complaint(handler, supervisor, scenario, "investigating")
    before, events = snapshot(handler, complaint["id"])
    body = problem(store.post(f"/v1/complaints/{complaint['id']}/notes", json={"text": "门店想看看"}), 404)
    assert body["type"].endswith("/not-found")
    assert_unchanged(handler, before, events)


@pytest.mark.parametrize("scenario", SCENARIOS)
@pytest.mark.parametrize(("move", "body", "source"), MOVES, ids=MOVE_IDS)
def test_every_move_is_404_and_changes_nothing(
    handler: Caller,
    supervisor: Caller,
    store: Caller,
    scenario: str,
    move: str,
    body: dict[str, Any],
    source: str,
) -> None:
    complaint = hidden_complaint(handler, supervisor, scenario, source, move)
    before, events = snapshot(handler, complaint["id"])
    response = store.post(f"/v1/complaints/{complaint['id']}/{move}", json=body)
    refused = problem(response, 404)
    assert refused["type"].endswith("/not-found")
    assert "allowed_moves" not in refused and "allowed_roles" not in refused and "guard" not in refused
    assert "ETag" not in response.headers
    assert_unchanged(handler, before, events)


@pytest.mark.parametrize("if_match", ['"1"', '"2"', '"99"', "*"])
def test_if_match_on_a_hidden_complaint_is_404_not_412(
    handler: Caller, supervisor: Caller, store: Caller, if_match: str
) -> None:
    """A 412 would carry the complaint's current ETag: its version, and that it exists."""
    complaint = hidden_complaint(handler, supervisor, "other-store", "investigating")
    before, events = snapshot(handler, complaint["id"])
    for move, body in (("store-feedback", FEEDBACK), ("propose", REFUND)):
        response = store.post(f"/v1/complaints/{complaint['id']}/{move}", json=body, headers={"If-Match": if_match})
        problem(response, 404)
        assert "ETag" not in response.headers
    assert_unchanged(handler, before, events)


def test_a_hidden_complaint_answers_like_one_that_does_not_exist(
    handler: Caller, supervisor: Caller, store: Caller
) -> None:
    complaint = hidden_complaint(handler, supervisor, "other-store", "investigating")
    missing = str(uuid.uuid4())
    for path in ("", "/events"):
        hidden = problem(store.get(f"/v1/complaints/{complaint['id']}{path}"), 404)
        absent = problem(store.get(f"/v1/complaints/{missing}{path}"), 404)
        assert hidden.keys() == absent.keys()
        assert hidden["detail"].replace(complaint["id"], missing) == absent["detail"]
    hidden = problem(store.post(f"/v1/complaints/{complaint['id']}/store-feedback", json=FEEDBACK), 404)
    absent = problem(store.post(f"/v1/complaints/{missing}/store-feedback", json=FEEDBACK), 404)
    assert hidden.keys() == absent.keys()
    assert hidden["detail"].replace(complaint["id"], missing) == absent["detail"]


# The list.


def listed(caller: Caller, **params: Any) -> list[str]:
    response = caller.get("/v1/complaints", params=params)
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


@pytest.fixture
def three_stores(handler: Caller, supervisor: Caller) -> dict[str, str]:
    """Complaints: dispatched to OWN (about OTHER), about OWN dispatched to OTHER, about OWN not dispatched,
    and about OWN handed to a department."""
    mine = handler.register(store_id=OTHER, complainant={"name": "王小明", "phone": "139 0000 1111"})
    handler.move(mine["id"], "investigate", {"store_id": OWN})
    elsewhere = prepare(handler, supervisor, "investigating", {"store_id": OTHER})
    undispatched = handler.register(store_id=OWN)
    department = prepare(handler, supervisor, "investigating", {"department": "物业工程部"})
    return {
        "mine": mine["id"],
        "elsewhere": elsewhere["id"],
        "undispatched": undispatched["id"],
        "department": department["id"],
    }


def test_the_list_holds_only_the_stores_own_complaints(
    handler: Caller, store: Caller, three_stores: dict[str, str]
) -> None:
    assert sorted(listed(handler)) == sorted(three_stores.values())
    assert listed(store) == [three_stores["mine"]]


@pytest.mark.parametrize(
    "params",
    [
        {"store_id": OWN},
        {"store_id": OTHER},
        {"state": "investigating"},
        {"state": "accepted"},
        {"category": "service_attitude"},
        {"channel": "phone"},
        {"priority": "normal"},
        {"received_from": "2000-01-01T00:00:00+08:00"},
        {"received_to": "2100-12-31T00:00:00+08:00"},
        {"limit": 200},
    ],
    ids=lambda p: "-".join(f"{k}={v}" for k, v in p.items()),
)
def test_filters_cannot_widen_the_list(
    handler: Caller, store: Caller, three_stores: dict[str, str], params: dict[str, Any]
) -> None:
    hidden = {three_stores["elsewhere"], three_stores["undispatched"], three_stores["department"]}
    if params.get("store_id") != OTHER:  # store_id filters the store complained about: only "mine" is about OTHER
        assert hidden & set(listed(handler, **params)), "the filter matches complaints the store may not see"
    seen = set(listed(store, **params))
    assert not seen & hidden
    assert seen <= {three_stores["mine"]}


def test_a_store_key_cannot_search_by_phone_at_all(
    handler: Caller, store: Caller, three_stores: dict[str, str]
) -> None:
    """Not even for its own complainant: a search that answers differently for the right number is an oracle."""
    assert three_stores["elsewhere"] in listed(handler, phone="13812348000")
    right = problem(store.get("/v1/complaints", params={"phone": "13900001111"}), 403)
    wrong = problem(store.get("/v1/complaints", params={"phone": "13900001112"}), 403)
    assert right == wrong


def test_paging_cannot_widen_the_list(handler: Caller, supervisor: Caller, store: Caller) -> None:
    mine = []
    for i in range(3):
        mine.append(prepare(handler, supervisor, "investigating", {"store_id": OWN})["id"])
        prepare(handler, supervisor, "investigating", {"store_id": OTHER})
        if i == 1:
            handler.register(store_id=OWN)
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 1}
        if cursor:
            params["cursor"] = cursor
        page = store.get("/v1/complaints", params=params)
        assert page.status_code == 200, page.text
        seen += [item["id"] for item in page.json()["items"]]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(mine, reverse=True)


def test_a_complaint_dispatched_elsewhere_on_reopen_leaves_the_store(
    handler: Caller, supervisor: Caller, store: Caller
) -> None:
    complaint = prepare(handler, supervisor, "resolved", {"store_id": OWN})
    assert store.get(f"/v1/complaints/{complaint['id']}").status_code == 200
    handler.move(complaint["id"], "reopen", {"reason": "实为广州天河店责任", "store_id": OTHER})
    problem(store.get(f"/v1/complaints/{complaint['id']}"), 404)
    problem(store.post(f"/v1/complaints/{complaint['id']}/store-feedback", json=FEEDBACK), 404)
    assert listed(store) == []


# The store's own complaints.


def test_own_complaint_is_seen_with_the_complainant_masked(handler: Caller, supervisor: Caller, store: Caller) -> None:
    complaint = handler.register(
        complainant={"name": "张三", "phone": "138 1234 8000", "email": "zhangsan@example.com", "customer_ref": "C-77"}
    )
    handler.move(complaint["id"], "investigate", {"store_id": OWN})
    response = store.get(f"/v1/complaints/{complaint['id']}")
    assert response.status_code == 200, response.text
    seen = response.json()
    assert seen["complainant"] == {
        "name": "张*",
        "phone": "138****8000",
        "email": "z***@example.com",
        "customer_ref": None,
        "address": None,
    }
    assert seen["responsible_store_id"] == OWN
    assert seen["allowed_moves"] == ["store-feedback"]
    assert response.headers["ETag"] == f'"{seen["version"]}"'
    for text in ("13812348000", "138 1234", "张三", "zhangsan", "C-77"):
        assert text not in response.text
    (item,) = store.get("/v1/complaints").json()["items"]
    assert item["complainant"] == seen["complainant"]
    assert handler.get(f"/v1/complaints/{complaint['id']}").json()["complainant"]["phone"] == "13812348000"


def test_own_complaint_history_does_not_reveal_the_complainant(handler: Caller, store: Caller) -> None:
    complaint = handler.register(complainant={"name": "张三", "phone": "138 1234 8000"})
    handler.move(complaint["id"], "investigate", {"store_id": OWN})
    response = store.get(f"/v1/complaints/{complaint['id']}/events")
    assert response.status_code == 200, response.text
    assert [e["move"] for e in response.json()] == ["register", "investigate"]
    assert "13812348000" not in response.text and "张三" not in response.text


def test_own_complaint_takes_the_stores_feedback(handler: Caller, supervisor: Caller, store: Caller) -> None:
    complaint = prepare(handler, supervisor, "investigating", {"store_id": OWN})
    after = store.move(complaint["id"], "store-feedback", FEEDBACK)
    assert after["state"] == "investigating"
    assert after["version"] == complaint["version"] + 1
    assert after["responsibility"] == "staff_fault"
    assert after["complainant"]["phone"] == "138****8000", "the answer to a store's move is masked too"
    events = handler.get(f"/v1/complaints/{complaint['id']}/events").json()
    assert events[-1]["move"] == "store-feedback"
    assert events[-1]["actor"] == "店长王五"


def test_own_store_feedback_naming_another_store_is_refused(handler: Caller, supervisor: Caller, store: Caller) -> None:
    complaint = prepare(handler, supervisor, "investigating", {"store_id": OWN})
    before, events = snapshot(handler, complaint["id"])
    problem(store.post(f"/v1/complaints/{complaint['id']}/store-feedback", json={**FEEDBACK, "store_id": OTHER}), 403)
    assert_unchanged(handler, before, events)


def own_complaint(handler: Caller, supervisor: Caller, source: str) -> dict[str, Any]:
    """Dispatched to OWN, in the move's start state (investigating for moves that start from accepted)."""
    state = "investigating" if source == "accepted" else source
    return prepare(handler, supervisor, state, {"store_id": OWN})


NOT_FEEDBACK = [m for m in MOVES if m[0] != "store-feedback"]


@pytest.mark.parametrize(("move", "body", "source"), NOT_FEEDBACK, ids=[m[0] for m in NOT_FEEDBACK])
def test_every_other_move_on_its_own_complaint_is_forbidden(
    handler: Caller, supervisor: Caller, store: Caller, move: str, body: dict[str, Any], source: str
) -> None:
    complaint = own_complaint(handler, supervisor, source)
    before, events = snapshot(handler, complaint["id"])
    assert move not in store.get(f"/v1/complaints/{complaint['id']}").json()["allowed_moves"]
    refused = problem(store.post(f"/v1/complaints/{complaint['id']}/{move}", json=body), 403)
    assert refused["type"].endswith("/forbidden")
    assert "store" not in refused["allowed_roles"]
    assert "handler" in refused["allowed_roles"] or move == "approve"
    assert_unchanged(handler, before, events)


def test_notes_on_its_own_complaint_are_forbidden(handler: Caller, supervisor: Caller, store: Caller) -> None:
    complaint = own_complaint(handler, supervisor, "investigating")
    before, events = snapshot(handler, complaint["id"])
    refused = problem(store.post(f"/v1/complaints/{complaint['id']}/notes", json={"text": "门店备注"}), 403)
    assert "store" not in refused["allowed_roles"]
    assert_unchanged(handler, before, events)


def test_store_feedback_out_of_state_on_its_own_complaint_is_an_illegal_move(
    handler: Caller, supervisor: Caller, store: Caller
) -> None:
    complaint = own_complaint(handler, supervisor, "awaiting_approval")
    before, events = snapshot(handler, complaint["id"])
    refused = problem(store.post(f"/v1/complaints/{complaint['id']}/store-feedback", json=FEEDBACK), 409)
    assert refused["type"].endswith("/illegal-move")
    assert refused["allowed_moves"] == []
    assert_unchanged(handler, before, events)


def test_a_store_key_may_not_register(store: Caller) -> None:
    problem(store.post("/v1/complaints", json=complaint_body(store_id=OWN)), 403)
    assert listed(store) == []
