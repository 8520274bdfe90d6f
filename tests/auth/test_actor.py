"""X-Actor: one person, one spelling. Percent-encoded UTF-8, NFKC-normalised, nothing invisible, no raw bytes; the
four-eyes guard sees through case and full-width letters. Over HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Caller, complaint_body

REFUND = {"remedy": {"kind": "refund", "amount": "300.00"}, "reply": "非常抱歉，全额退款。", "reply_channel": "sms"}


def problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    return response.json()


def register_as(caller: Caller, actor: str | bytes) -> Any:
    headers = {"Authorization": f"Bearer {caller.key}", "X-Actor": actor}
    return caller.client.post("/v1/complaints", headers=headers, json=complaint_body())


def proposed_by_alice(handler: Caller) -> str:
    complaint = handler.register()
    handler.move(complaint["id"], "investigate", {"store_id": "SZ-FT-012"})
    alice = handler.as_actor("alice")
    assert alice.move(complaint["id"], "propose", REFUND)["proposed_by"] == "alice"
    return complaint["id"]


def approve_as(supervisor: Caller, complaint_id: str, actor: str) -> Any:
    headers = {"Authorization": f"Bearer {supervisor.key}", "X-Actor": actor}
    return supervisor.client.post(f"/v1/complaints/{complaint_id}/approve", headers=headers, json={})


FULL_WIDTH_ALICE = "%EF%BD%81%EF%BD%8C%EF%BD%89%EF%BD%83%EF%BD%85"  # ａｌｉｃｅ


@pytest.mark.parametrize("approver", ["alice", "ALICE", "Alice", FULL_WIDTH_ALICE, "%EF%BC%A1lice", "  alice "])
def test_the_proposer_cannot_approve_under_another_spelling(handler: Caller, supervisor: Caller, approver: str) -> None:
    complaint_id = proposed_by_alice(handler)
    refused = problem(approve_as(supervisor, complaint_id, approver), 409)
    assert refused["guard"] == "not_the_proposer"
    assert handler.get(f"/v1/complaints/{complaint_id}").json()["state"] == "awaiting_approval"


INVISIBLE_ALICES = {
    "zero-width-space": "alice%E2%80%8B",
    "zero-width-joiner": "al%E2%80%8Dice",
    "byte-order-mark": "%EF%BB%BFalice",
    "soft-hyphen": "ali%C2%ADce",
    "word-joiner": "alice%E2%81%A0",
    "variation-selector": "alice%EF%B8%8F",
    "hangul-filler": "alice%E3%85%A4",
    "combining-grapheme-joiner": "alice%CD%8F",
    "left-to-right-mark": "%E2%80%8Ealice",
    "tag-character": "alice%F3%A0%80%81",
}


@pytest.mark.parametrize("approver", INVISIBLE_ALICES.values(), ids=INVISIBLE_ALICES.keys())
def test_an_invisible_character_in_the_approver_is_422(handler: Caller, supervisor: Caller, approver: str) -> None:
    complaint_id = proposed_by_alice(handler)
    refused = problem(approve_as(supervisor, complaint_id, approver), 422)
    assert refused["field"] == "X-Actor"
    after = handler.get(f"/v1/complaints/{complaint_id}").json()
    assert (after["state"], after["approved_by"]) == ("awaiting_approval", None)


def test_someone_else_approves(handler: Caller, supervisor: Caller) -> None:
    complaint_id = proposed_by_alice(handler)
    approved = approve_as(supervisor, complaint_id, "bob")
    assert approved.status_code == 200, approved.text
    assert (approved.json()["proposed_by"], approved.json()["approved_by"]) == ("alice", "bob")


REFUSED_ACTORS = {
    "del": "agent%7F",
    "c1-next-line": "agent%C2%850042",
    "c1-csi": "%C2%9B31m",
    "right-to-left-override": "%E2%80%AEnimda",
    "right-to-left-isolate": "%E2%81%A7nimda",
    "arabic-letter-mark": "%D8%9Cadmin",
    "line-separator": "agent%E2%80%A80042",
    "paragraph-separator": "agent%E2%80%A90042",
    "tab-encoded": "agent%090042",
    "lone-surrogate": "%ED%A0%80",
    "raw-utf8": "张三".encode(),
    "raw-latin1": "José".encode("latin-1"),
    "raw-tab": "agent\t0042",
    "too-long-after-nfkc": "%EF%B7%BA" * 6,  # ﷺ: one character, eighteen after NFKC
}


@pytest.mark.parametrize("actor", REFUSED_ACTORS.values(), ids=REFUSED_ACTORS.keys())
def test_a_refused_actor_is_422_and_registers_nothing(handler: Caller, actor: str | bytes) -> None:
    refused = problem(register_as(handler, actor), 422)
    assert refused["field"] == "X-Actor"
    assert handler.get("/v1/complaints").json()["items"] == []


STORED_ACTORS = [
    (FULL_WIDTH_ALICE, "alice"),
    ("%EF%BC%A1lice%E3%80%80%EF%BC%B7ang", "Alice Wang"),  # full-width letters, an ideographic space
    ("agent%C2%A0%C2%A00042", "agent 0042"),  # no-break spaces
    ("agent   0042", "agent 0042"),
    ("%E5%BC%A0%E4%B8%89", "张三"),
    ("%EF%BE%8A%EF%BE%9D", "ハン"),  # half-width katakana
    ("e%CC%81mile", "émile"),  # e and a combining accent: one precomposed letter
]


@pytest.mark.parametrize(("header", "stored"), STORED_ACTORS)
def test_the_actor_is_stored_normalised(handler: Caller, header: str, stored: str) -> None:
    response = register_as(handler, header)
    assert response.status_code == 201, response.text
    assert response.json()["owner"] == stored
    (event,) = handler.get(f"/v1/complaints/{response.json()['id']}/events").json()
    assert event["actor"] == stored
