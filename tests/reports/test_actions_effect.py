"""The summary's corrective actions: those on its top repeat causes and those done in the period, with the
complaints of their cause in the period's length before and after they were done, counted by hand.

The period is 2026-11-01 to 2026-11-10 (10 days); the actions are done at 11-05 12:00, so "before" is from 10-26
12:00 and "after" until 11-15 12:00 (local, Asia/Shanghai). A is SZ-FT-012, B SZ-LH-003.

- b1 10-26 11:59 A billing (a minute too early)   - a1 11-05 12:00 A billing (after, its first instant)
- b2 10-26 12:00 A billing (before, its first)     - a4 11-06 10:00 B delivery
- b3 10-30 09:00 A billing                          - a5 11-07 10:00 A delivery
- b4 11-05 11:59 A billing (before, its last)      - a2 11-15 11:59 A billing (after, its last minute)
- b5 11-03 10:00 A delivery                         - a3 11-15 12:00 A billing (a minute too late)
- b6 11-04 10:00 B billing

Received in the period: b4 b5 b6 a1 a4 a5, so the top repeat causes are A billing (b4 a1) and A delivery (b5 a5).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.actions.helpers import PATH, create
from tests.conftest import Caller, another_customer
from tests.sla.moments import frozen

A, B = "SZ-FT-012", "SZ-LH-003"
PERIOD = {"from": "2026-11-01", "to": "2026-11-10"}
DONE_AT = (2026, 11, 5, 12, 0)
EARLY = {
    "b1": ((2026, 10, 26, 11, 59), A, "billing"),
    "b2": ((2026, 10, 26, 12, 0), A, "billing"),
    "b3": ((2026, 10, 30, 9, 0), A, "billing"),
    "b4": ((2026, 11, 5, 11, 59), A, "billing"),
    "b5": ((2026, 11, 3, 10, 0), A, "delivery"),
    "b6": ((2026, 11, 4, 10, 0), B, "billing"),
    "a1": ((2026, 11, 5, 12, 0), A, "billing"),
    "a4": ((2026, 11, 6, 10, 0), B, "delivery"),
    "a5": ((2026, 11, 7, 10, 0), A, "delivery"),
}
LATE = {
    "a2": ((2026, 11, 15, 11, 59), A, "billing"),
    "a3": ((2026, 11, 15, 12, 0), A, "billing"),
}


def register(handler: Caller, complaints: dict[str, Any], first: int) -> dict[str, str]:
    ids = {}
    for n, (name, (at, store, category)) in enumerate(complaints.items(), start=first):
        with frozen(*at):
            ids[name] = handler.register(store_id=store, category=category, complainant=another_customer(n))["id"]
    return ids


@pytest.fixture
def actions(handler: Caller, manager: Caller) -> dict[str, str]:
    register(handler, EARLY, 1)
    made = {}
    causes = {
        "x1": {"store_id": A, "category": "billing"},
        "x2": {"store_id": None, "category": "billing"},
        "x3": {"store_id": A, "category": None},
        "x4": {"store_id": None, "category": "delivery"},
        "x5": {"store_id": A, "category": "billing"},  # stays open
        "x6": {"store_id": A, "category": "billing"},  # dropped
        "x7": {"store_id": B, "category": "delivery"},  # open, not on a top cause
        "x8": {"store_id": "GZ-TH-001", "category": "other"},  # done before the period, not on a top cause
    }
    for day, (name, cause) in enumerate(causes.items(), start=1):
        with frozen(2026, 10, day, 9, 0):
            made[name] = create(manager, **cause, cause=f"原因 {name}")["id"]
    with frozen(2026, 10, 20, 9, 0):
        assert manager.post(f"{PATH}/{made['x8']}/done").status_code == 200
    with frozen(*DONE_AT):
        for name in ("x1", "x2", "x3", "x4"):
            assert manager.post(f"{PATH}/{made[name]}/done").status_code == 200
        assert manager.post(f"{PATH}/{made['x6']}/drop", json={"reason": "重复登记"}).status_code == 200
    return made


def effects(caller: Caller, at: tuple[int, ...]) -> list[tuple[str, str | None, int | None, int | None, Any]]:
    with frozen(*at):
        response = caller.get("/v1/reports/summary", params=PERIOD)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["top_repeat_causes"] == [
        {"store_id": A, "category": "billing", "complaints": 2},
        {"store_id": A, "category": "delivery", "complaints": 2},
    ]
    assert {a["window_days"] for a in body["corrective_actions"]} == {10}
    return [(a["id"], a["done_at"], a["before"], a["after"], a["fell"]) for a in body["corrective_actions"]]


def test_before_and_after_while_the_window_after_is_running(actions: dict[str, str], manager: Caller) -> None:
    done = "2026-11-05T12:00:00+08:00"
    # 11-14: a2 and a3 are not in yet, and the window after runs until 11-15 12:00: no verdict.
    assert effects(manager, (2026, 11, 14, 10, 0)) == [
        (actions["x1"], done, 3, 1, None),  # b2 b3 b4 | a1
        (actions["x2"], done, 4, 1, None),  # b2 b3 b4 b6 | a1
        (actions["x3"], done, 4, 2, None),  # b2 b3 b4 b5 | a1 a5
        (actions["x4"], done, 1, 2, None),  # b5 | a4 a5
        (actions["x5"], None, None, None, None),  # open: nothing to measure
    ]


def test_whether_complaints_fell_once_the_window_after_is_over(
    actions: dict[str, str], handler: Caller, manager: Caller
) -> None:
    register(handler, LATE, 20)
    done = "2026-11-05T12:00:00+08:00"
    assert effects(manager, (2026, 11, 20, 10, 0)) == [
        (actions["x1"], done, 3, 2, True),  # b2 b3 b4 | a1 a2
        (actions["x2"], done, 4, 2, True),  # b2 b3 b4 b6 | a1 a2
        (actions["x3"], done, 4, 3, True),  # b2 b3 b4 b5 | a1 a5 a2
        (actions["x4"], done, 1, 2, False),  # b5 | a4 a5
        (actions["x5"], None, None, None, None),
    ]


def test_a_store_key_counts_its_own_complaints_and_actions(
    actions: dict[str, str], handler: Caller, make_caller: Any
) -> None:
    late = register(handler, LATE, 20)
    with frozen(2026, 11, 15, 13, 0):
        handler.move(late["a2"], "investigate", {"store_id": A})
    store = make_caller("store", store_id=A, actor="store-manager-12")
    # It reads a2 alone (dispatched to A): no repeat cause in the period for it, so of its store's actions only
    # those done in the period (x1, x3; not x5, open); b2 b3 b4 were never dispatched, so before is 0 for it.
    done = "2026-11-05T12:00:00+08:00"
    assert effects_of(store) == [(actions["x1"], done, 0, 1, False), (actions["x3"], done, 0, 1, False)]


def effects_of(caller: Caller) -> list[tuple[Any, ...]]:
    with frozen(2026, 11, 20, 10, 0):
        response = caller.get("/v1/reports/summary", params=PERIOD)
    assert response.status_code == 200, response.text
    return [(a["id"], a["done_at"], a["before"], a["after"], a["fell"]) for a in response.json()["corrective_actions"]]
