"""Repeat complaints rise by themselves (投诉多少次了): the 3rd from one phone within 90 days, or a second on an
order or receipt whose first complaint is open, is registered urgent, linked to the others both ways and
escalated. Over HTTP, on SQLite and PostgreSQL, at times the tests choose."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import time_machine

from tests.conftest import Caller
from tests.planted import MINE, OTHER, OWN, THEIR_MARK, THEIRS, forbidden_values, holds_digits, quoting

T0 = datetime(2026, 10, 1, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
SPELLINGS = ("+86 138 0013 8000", "13800138000", "138-0013-8000", "0086 138 0013 8000")
ORDER = "POS-012-20261120-0088"


def register_at(caller: Caller, at: datetime, **overrides: Any) -> dict[str, Any]:
    with time_machine.travel(at, tick=False):
        return caller.register(**overrides)


def read(caller: Caller, complaint: dict[str, Any]) -> dict[str, Any]:
    response = caller.get(f"/v1/complaints/{complaint['id']}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def related(complaint: dict[str, Any]) -> dict[str, list[str]]:
    return {r["id"]: r["reasons"] for r in complaint["related"]}


def escalations(caller: Caller, complaint: dict[str, Any], trigger: str | None = "repeat") -> list[dict[str, Any]]:
    events = caller.get(f"/v1/complaints/{complaint['id']}/events").json()
    return [
        e["payload"]
        for e in events
        if e["move"] == "complaint.escalated" and (trigger is None or e["payload"].get("trigger") == trigger)
    ]


def written_reply(complaint: dict[str, Any]) -> dict[str, Any]:
    (clock,) = (c for c in complaint["clocks"] if c["kind"] == "written_reply")
    return clock


def by_phone(caller: Caller, *days: int, **overrides: Any) -> list[dict[str, Any]]:
    """Complaints from one phone, each spelled differently, ``days`` after T0."""
    return [
        register_at(caller, T0 + timedelta(days=day), complainant={"name": "张三", "phone": SPELLINGS[i]}, **overrides)
        for i, day in enumerate(days)
    ]


def test_the_third_from_one_phone_within_90_days_is_urgent_linked_both_ways_and_escalated(handler: Caller) -> None:
    first, second, third = by_phone(handler, 0, 30, 60)

    assert (first["priority"], second["priority"]) == ("normal", "normal")
    assert first["related"] == second["related"] == []
    assert third["priority"] == "urgent"
    # Its written reply runs on the urgent target (3 days), not the normal one (7).
    received = datetime.fromisoformat(third["received_at"])
    assert datetime.fromisoformat(written_reply(third)["due_at"]) == received + timedelta(days=3)
    assert related(third) == {first["id"]: ["same_phone"], second["id"]: ["same_phone"]}
    assert {r["number"] for r in third["related"]} == {first["number"], second["number"]}
    # Read again, and from the earlier ones: the link is there both ways.
    assert related(read(handler, third)) == related(third)
    for earlier in (first, second):
        assert related(read(handler, earlier)) == {third["id"]: ["same_phone"]}

    (escalation,) = escalations(handler, third)
    assert escalation["priority"] == "urgent"
    assert escalation["raised_from"] == "normal"
    assert escalation["related"] == sorted([first["id"], second["id"]])
    assert escalation["related_why"] == ["3rd complaint from this phone in 90 days"]
    assert escalations(handler, first, None) == escalations(handler, second, None) == []


def test_the_third_after_the_window_stays_normal(handler: Caller) -> None:
    first, second, third = by_phone(handler, 0, 10, 91)

    assert third["priority"] == "normal"
    assert third["related"] == []
    assert escalations(handler, third, None) == []
    assert read(handler, first)["related"] == []
    received = datetime.fromisoformat(third["received_at"])
    assert datetime.fromisoformat(written_reply(third)["due_at"]) == received + timedelta(days=7)
    # A fourth the next day is the third in the window (the 2nd and the 3rd before it).
    fourth = register_at(handler, T0 + timedelta(days=92), complainant={"name": "张三", "phone": SPELLINGS[3]})
    assert fourth["priority"] == "urgent"
    assert related(fourth) == {second["id"]: ["same_phone"], third["id"]: ["same_phone"]}


def test_a_second_complaint_on_an_open_order_is_urgent_and_linked(handler: Caller) -> None:
    first = register_at(handler, T0, order_number=ORDER)
    # Another customer (another phone), the number typed in lower case and with spaces around it.
    second = register_at(
        handler,
        T0 + timedelta(days=2),
        complainant={"name": "李四", "phone": "139 0000 1111"},
        order_number=f"  {ORDER.lower()} ",
    )

    assert second["priority"] == "urgent"
    assert second["order_number"] == ORDER.lower()
    assert related(second) == {first["id"]: ["same_order_number"]}
    assert related(read(handler, first)) == {second["id"]: ["same_order_number"]}
    (escalation,) = escalations(handler, second)
    assert escalation["related"] == [first["id"]]
    assert escalation["related_why"] == [f"a second complaint on order {ORDER.lower()} while {first['number']} is open"]
    # Another order number relates to nothing.
    other = register_at(
        handler,
        T0 + timedelta(days=3),
        complainant={"name": "王五", "phone": "137 0000 2222"},
        order_number="POS-012-20261120-0089",
    )
    assert (other["priority"], other["related"]) == ("normal", [])


def test_a_second_complaint_on_an_order_whose_complaint_is_closed_is_not(handler: Caller) -> None:
    first = register_at(handler, T0, order_number=ORDER)
    with time_machine.travel(T0 + timedelta(hours=2), tick=False):
        handler.move(first["id"], "reject", {"reason": "misunderstanding", "explanation": "经核实属误会，敬请谅解。"})
    second = register_at(
        handler, T0 + timedelta(days=1), complainant={"name": "李四", "phone": "139 0000 1111"}, order_number=ORDER
    )

    assert second["priority"] == "normal"
    assert second["related"] == []
    assert read(handler, first)["related"] == []
    assert escalations(handler, second, None) == []


def test_every_answer_shows_the_links_both_ways_and_none_where_there_are_none(handler: Caller) -> None:
    """A page of the list, a move's answer and a read each look for related complaints only where the complaint is
    linked to some, either end: a linked one shows them however it is read, an unlinked one beside it none."""
    first, second, third = by_phone(handler, 0, 30, 60)
    alone = register_at(handler, T0 + timedelta(days=61))
    linked = {
        first["id"]: {third["id"]: ["same_phone"]},
        second["id"]: {third["id"]: ["same_phone"]},
        third["id"]: {first["id"]: ["same_phone"], second["id"]: ["same_phone"]},
        alone["id"]: {},
    }

    page = handler.get("/v1/complaints", params={"limit": 10})
    assert page.status_code == 200, page.text
    assert {item["id"]: related(item) for item in page.json()["items"]} == linked
    for complaint in (first, third, alone):
        with time_machine.travel(T0 + timedelta(days=62), tick=False):
            moved = handler.move(complaint["id"], "investigate", {"store_id": "SZ-FT-012"})
        assert related(moved) == linked[complaint["id"]]
        assert related(read(handler, complaint)) == linked[complaint["id"]]


def test_a_media_complaint_stays_media_and_is_linked_and_escalated_as_a_repeat_too(handler: Caller) -> None:
    first, second = by_phone(handler, 0, 5)
    third = register_at(
        handler, T0 + timedelta(days=6), complainant={"name": "张三", "phone": SPELLINGS[2]}, channel="media"
    )

    assert third["priority"] == "media"
    assert related(third) == {first["id"]: ["same_phone"], second["id"]: ["same_phone"]}
    received = datetime.fromisoformat(third["received_at"])
    assert datetime.fromisoformat(written_reply(third)["due_at"]) == received + timedelta(days=2)
    (repeat,) = escalations(handler, third)
    assert repeat["priority"] == "media"
    assert "raised_from" not in repeat
    # The media complaint's (the supervisor and the general manager), and the repeat's (the supervisor).
    assert [(e["trigger"], e["level"]) for e in escalations(handler, third, None)] == [
        ("media", "cs_supervisor"),
        ("media", "general_manager"),
        ("repeat", "cs_supervisor"),
    ]


def test_an_urgent_complaint_on_both_counts_is_linked_once_per_reason(handler: Caller) -> None:
    first, second = by_phone(handler, 0, 1, order_number=None)
    third = register_at(
        handler,
        T0 + timedelta(days=2),
        complainant={"name": "张三", "phone": SPELLINGS[2]},
        priority="urgent",
        order_number=ORDER,
    )
    # No earlier complaint on the order: the phone alone counts; urgent already, it stays urgent.
    assert related(third) == {first["id"]: ["same_phone"], second["id"]: ["same_phone"]}
    assert "raised_from" not in escalations(handler, third)[0]
    fourth = register_at(
        handler, T0 + timedelta(days=3), complainant={"name": "张三", "phone": SPELLINGS[3]}, order_number=ORDER
    )
    assert fourth["priority"] == "urgent"
    assert related(fourth) == {
        first["id"]: ["same_phone"],
        second["id"]: ["same_phone"],
        third["id"]: ["same_phone", "same_order_number"],
    }
    assert related(read(handler, third)) == {
        first["id"]: ["same_phone"],
        second["id"]: ["same_phone"],
        fourth["id"]: ["same_phone", "same_order_number"],
    }


def test_the_summary_lists_the_repeat_complainant_with_their_complaints(handler: Caller, manager: Caller) -> None:
    complaints = by_phone(handler, 0, 3, 6)
    register_at(handler, T0 + timedelta(days=1), complainant={"name": "李四", "phone": "139 0000 1111"})

    response = manager.get("/v1/reports/summary", params={"from": "2026-10-01", "to": "2026-10-31"})
    assert response.status_code == 200, response.text
    assert response.json()["top_repeat_complainants"] == [
        {
            "phone": "138****8000",
            "complaints": 3,
            "listed": [{"id": c["id"], "number": c["number"]} for c in complaints],
        }
    ]
    assert "13800138000" not in response.text
    assert not holds_digits(response.text, "0013")


def test_a_store_key_learns_nothing_of_the_related_complaints_of_another_store(
    handler: Caller, manager: Caller, make_caller: Any
) -> None:
    """Three complaints of another store relate to the store's own (one on its order, all from its customer's
    phone): the store key reads its complaint, the list, its history and the summary, and finds none of them."""
    theirs = [
        register_at(
            handler,
            T0 + timedelta(hours=hour),
            store_id=OTHER,
            complainant={**THEIRS, "phone": phone},
            description=quoting(THEIRS) + THEIR_MARK,
            order_number="POS-LEAK-0001" if hour == 0 else None,
        )
        for hour, phone in ((0, THEIRS["phone"]), (1, f"+86 {MINE['phone']}"), (2, MINE["phone"]))
    ]
    for complaint in theirs:
        handler.move(complaint["id"], "investigate", {"store_id": OTHER})
    mine = register_at(
        handler,
        T0 + timedelta(hours=3),
        store_id=OWN,
        complainant=MINE,
        description=quoting(MINE),
        order_number="pos-leak-0001",
    )
    handler.move(mine["id"], "investigate", {"store_id": OWN})
    assert mine["priority"] == "urgent"
    assert set(related(read(handler, mine))) == {c["id"] for c in theirs}  # the company sees them

    store = make_caller("store", store_id=OWN)
    period = {"from": "2026-10-01", "to": "2026-10-31"}
    answers = {
        "complaint": store.get(f"/v1/complaints/{mine['id']}"),
        "list": store.get("/v1/complaints"),
        "history": store.get(f"/v1/complaints/{mine['id']}/events"),
        "summary": store.get("/v1/reports/summary", params=period),
        "summary as CSV": store.get("/v1/reports/summary", params=period, headers={"Accept": "text/csv"}),
    }
    assert all(answer.status_code == 200 for answer in answers.values()), answers
    assert answers["complaint"].json()["related"] == []
    assert [c["related"] for c in answers["list"].json()["items"]] == [[]]
    (escalation,) = escalations(store, mine)
    expected = {
        "reason": "repeat complaint: escalated to 客服主管",
        "trigger": "repeat",
        "level": "cs_supervisor",
        "addressees": [],
        "priority": "urgent",
        "raised_from": "normal",
    }
    assert escalation == expected
    assert answers["summary"].json()["top_repeat_complainants"] == []

    forbidden = [*forbidden_values(THEIRS), *forbidden_values(MINE), THEIR_MARK]
    forbidden += [value for c in theirs for value in (c["id"], c["number"])]
    for what, answer in answers.items():
        text = answer.content.decode()
        text += json.dumps(answer.json(), ensure_ascii=False) if "json" in answer.headers["content-type"] else ""
        found = [value for value in forbidden if value in text]
        assert not found, f"{what}: {found}"
    # The company's summary links the customer's complaints, the phone masked.
    summary = manager.get("/v1/reports/summary", params=period).json()
    (repeater,) = summary["top_repeat_complainants"]
    assert repeater["phone"] == "139****4321"
    assert [c["id"] for c in repeater["listed"]] == [theirs[1]["id"], theirs[2]["id"], mine["id"]]
