"""Optimistic concurrency: ETag and If-Match, and moves racing on one complaint over real concurrent requests."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from threading import Barrier
from typing import Any

import pytest

from tests.conftest import Caller, LiveCaller, LiveServer, another_customer, complaint_body

APOLOGY = {"remedy": {"kind": "apology"}, "reply": "非常抱歉给您带来不便。", "reply_channel": "sms"}
REJECT = {"reason": "misunderstanding", "explanation": "经核实，系顾客误解，已当面解释。"}


def test_every_complaint_response_carries_its_version_as_etag(handler: Caller) -> None:
    complaint = handler.register()
    assert handler.get(f"/v1/complaints/{complaint['id']}").headers["ETag"] == '"1"'
    moved = handler.post(f"/v1/complaints/{complaint['id']}/investigate", json={"store_id": "SZ-FT-012"})
    assert moved.headers["ETag"] == '"2"' == f'"{moved.json()["version"]}"'


def test_a_stale_if_match_is_412_with_the_current_version_and_changes_nothing(handler: Caller) -> None:
    complaint = handler.register()
    path = f"/v1/complaints/{complaint['id']}"
    handler.post(f"{path}/notes", json={"text": "已致电顾客，约定明天回电。"})
    stale = handler.post(f"{path}/investigate", json={"store_id": "SZ-FT-012"}, headers={"If-Match": '"1"'})
    assert stale.status_code == 412, stale.text
    assert stale.headers["content-type"] == "application/problem+json"
    assert stale.json()["current_version"] == 2
    assert stale.headers["ETag"] == '"2"'
    after = handler.get(path).json()
    assert (after["state"], after["version"]) == ("accepted", 2)
    assert [e["move"] for e in handler.get(f"{path}/events").json()] == ["register", "note"]


@pytest.mark.parametrize("if_match", ['"2"', '"7", "2"', "*"])
def test_a_current_if_match_applies(handler: Caller, if_match: str) -> None:
    complaint = handler.register()
    path = f"/v1/complaints/{complaint['id']}"
    handler.post(f"{path}/notes", json={"text": "顾客来电催促。"})
    response = handler.post(f"{path}/investigate", json={"store_id": "SZ-FT-012"}, headers={"If-Match": if_match})
    assert response.status_code == 200, response.text
    assert response.json()["version"] == 3


def test_a_weak_tag_never_matches(handler: Caller) -> None:
    complaint = handler.register()
    response = handler.post(
        f"/v1/complaints/{complaint['id']}/investigate", json={"store_id": "SZ-FT-012"}, headers={"If-Match": 'W/"1"'}
    )
    assert response.status_code == 412


@pytest.mark.parametrize("if_match", ["1", '"1', "version 1", '"1";"2"'])
def test_a_malformed_if_match_is_422(handler: Caller, if_match: str) -> None:
    complaint = handler.register()
    response = handler.post(
        f"/v1/complaints/{complaint['id']}/investigate", json={"store_id": "SZ-FT-012"}, headers={"If-Match": if_match}
    )
    assert response.status_code == 422, response.text
    assert handler.get(f"/v1/complaints/{complaint['id']}").json()["version"] == 1


def test_a_stale_note_is_412(handler: Caller) -> None:
    complaint = handler.register()
    path = f"/v1/complaints/{complaint['id']}"
    handler.move(complaint["id"], "investigate", {"store_id": "SZ-FT-012"})
    response = handler.post(f"{path}/notes", json={"text": "补充说明"}, headers={"If-Match": '"1"'})
    assert response.status_code == 412
    assert [e["move"] for e in handler.get(f"{path}/events").json()] == ["register", "investigate"]


def race(first: Any, second: Any) -> list[Any]:
    """Two requests released at the same instant; their responses."""
    barrier = Barrier(2)

    def go(send: Any) -> Any:
        barrier.wait()
        return send()

    with ThreadPoolExecutor(2) as pool:
        return list(pool.map(go, [first, second]))


ROUNDS = 25
IF_MATCH_2 = {"If-Match": '"2"'}


def _events(caller: LiveCaller, complaint_id: str) -> list[str]:
    return [e["move"] for e in caller.get(f"/v1/complaints/{complaint_id}/events").json()]


def test_reject_racing_resolve_one_wins(live_server: LiveServer) -> None:
    """Both start from investigating (reject too, after the investigation); each ends where the other may not."""
    handler = live_server.caller("handler", actor="handler-07")
    colleague = LiveCaller(handler.url, handler.key, actor="handler-11")
    for i in range(ROUNDS):
        complaint = handler.post("/v1/complaints", json=complaint_body(complainant=another_customer(i))).json()
        path = f"/v1/complaints/{complaint['id']}"
        handler.post(f"{path}/investigate", json={"store_id": "SZ-FT-012"})
        responses = race(
            lambda path=path: handler.post(f"{path}/reject", json=REJECT),
            lambda path=path: colleague.post(f"{path}/resolve", json=APOLOGY),
        )
        statuses = sorted(r.status_code for r in responses)
        assert statuses == [200, 409], [r.text for r in responses]
        winner = next(r for r in responses if r.status_code == 200).json()
        events = _events(handler, complaint["id"])
        assert len(events) == 3 and events[2] in ("reject", "resolve")
        assert winner["state"] == ("rejected" if events[2] == "reject" else "resolved")
        assert winner["version"] == 3


def test_two_moves_with_the_same_if_match_one_wins(live_server: LiveServer) -> None:
    handler = live_server.caller("handler", actor="handler-07")
    for i in range(ROUNDS):
        complaint = handler.post("/v1/complaints", json=complaint_body(complainant=another_customer(i))).json()
        path = f"/v1/complaints/{complaint['id']}"
        handler.post(f"{path}/investigate", json={"store_id": "SZ-FT-012"})
        responses = race(
            lambda path=path: handler.post(f"{path}/notes", json={"text": "甲：已联系门店"}, headers=IF_MATCH_2),
            lambda path=path: handler.post(f"{path}/resolve", json=APOLOGY, headers=IF_MATCH_2),
        )
        statuses = sorted(r.status_code for r in responses)
        assert statuses in ([200, 412], [201, 412]), [r.text for r in responses]
        assert len(_events(handler, complaint["id"])) == 3


def test_two_approvers_racing_one_approval(live_server: LiveServer) -> None:
    handler = live_server.caller("handler", actor="handler-07")
    first = live_server.caller("supervisor", actor="supervisor-03")
    second = live_server.caller("manager", actor="manager-01")
    proposal = {
        "remedy": {"kind": "refund", "amount": "300.00", "description": "退还货款"},
        "reply": "全额退款。",
        "reply_channel": "sms",
    }
    for i in range(ROUNDS):
        complaint = handler.post("/v1/complaints", json=complaint_body(complainant=another_customer(i))).json()
        path = f"/v1/complaints/{complaint['id']}"
        handler.post(f"{path}/investigate", json={"store_id": "SZ-FT-012"})
        handler.post(f"{path}/propose", json=proposal)
        responses = race(
            lambda path=path: first.post(f"{path}/approve", json={}),
            lambda path=path: second.post(f"{path}/approve", json={}),
        )
        assert sorted(r.status_code for r in responses) == [200, 409], [r.text for r in responses]
        assert _events(handler, complaint["id"]).count("approve") == 1
