"""The figures of the seeded month (tests/reports/dataset.py), worked out by hand, in the JSON report."""

from __future__ import annotations

from typing import Any

import pytest

from app.reports.queries import percentile_cont
from tests.conftest import Caller
from tests.reports.dataset import DEPARTMENT, STORE_A, STORE_B, Month, remedy, report


def summary(caller: Caller, **params: Any) -> dict[str, Any]:
    response = report(caller, **params)
    assert response.status_code == 200, response.text
    return response.json()


def clocks(row: dict[str, Any]) -> dict[str, tuple[int, int, int, float | None]]:
    return {kind: (c["met"], c["breached"], c["running"], c["on_time_rate"]) for kind, c in row["clocks"].items()}


def remedies(row: dict[str, Any]) -> list[tuple[str, int, str]]:
    return [(r["kind"], r["count"], r["amount"]) for r in row["remedies"]]


def test_the_total_of_the_month(month: dict[str, str], reporter: Caller) -> None:
    body = summary(reporter)
    assert body["period"] == {
        "from": "2026-10-01",
        "to": "2026-10-31",
        "time_zone": "Asia/Shanghai",
        "start": "2026-10-01T00:00:00+08:00",
        "end": "2026-11-01T00:00:00+08:00",
    }
    assert body["group_by"] is None and body["groups"] == []
    total = body["total"]
    # c1 c2 c3 c4 c5 c6 c9 c10; c7 and c8 fall outside by ten minutes.
    assert (total["received"], total["rejected"], total["resolved"], total["open"]) == (8, 1, 4, 3)
    assert (total["reopened"], total["reopen_rate"]) == (2, 0.25)  # c4, c10
    assert clocks(total) == {
        # met c1; breached c4 (fed back late), c5 (overdue); cancelled c2 and c10 are not counted
        "store_feedback": (1, 2, 0, 0.3333),
        # met c1 c2 c3 c9 and c10 twice; breached c4 twice (late, then overdue after the reopen), c5, c6 overdue
        "written_reply": (6, 4, 0, 0.6),
        # met c1 c2 c10 and c4 (the call that reopened it); c9 never called
        "follow_up": (4, 1, 0, 0.8),
        # met c1 c2 (paid); c4's refund was cancelled by the reopen; apologies have nothing to carry out
        "fulfilment": (2, 0, 0, 1.0),
        "incident_report": (0, 0, 0, None),  # no major complaint
    }
    # Replied: c3 6 h, c1 25 h, c2 49 h, c10 49 h, c9 105 h 55 min. p90: 49 + 0.6 × 56.9167 = 83.15.
    assert total["reply_time"] == {"replied": 5, "median_hours": 49.0, "p90_hours": 83.15}
    assert total["satisfaction"] == {
        "satisfied": 2,
        "neutral": 1,
        "unsatisfied": 1,
        "unreachable": 0,
        "satisfied_rate": 0.5,
    }
    # P1: c1 c2 c6; P2: c3 c10 (its c8 is in September).
    assert total["repeat_complainants"] == {"count": 2, "complaints": 5}
    # A service_attitude: c1 c2 c6; B billing: c3 c10.
    assert total["repeat_causes"] == {"count": 2, "complaints": 5}
    assert body["top_repeat_causes"] == [
        {"store_id": STORE_A, "category": "service_attitude", "complaints": 3},
        {"store_id": STORE_B, "category": "billing", "complaints": 2},
    ]
    # c4's refund of 88.80 was granted, then the complaint reopened: its reply no longer stands.
    assert remedies(total) == [("apology", 2, "0.00"), ("refund", 1, "300.00"), ("compensation", 1, "1000.50")]


def test_by_store(month: dict[str, str], reporter: Caller) -> None:
    body = summary(reporter, group_by="store")
    rows = {row["group"]: row for row in body["groups"]}
    assert list(rows) == [STORE_A, STORE_B, None]  # c9 is about a department: no store
    a, b, none = rows[STORE_A], rows[STORE_B], rows[None]

    # c6 was never dispatched: it counts for the store the customer named.
    assert (a["received"], a["rejected"], a["resolved"], a["open"], a["reopened"]) == (4, 0, 2, 2, 0)
    assert clocks(a) == {
        "store_feedback": (1, 1, 0, 0.5),
        "written_reply": (2, 2, 0, 0.5),
        "follow_up": (2, 0, 0, 1.0),
        "fulfilment": (2, 0, 0, 1.0),
        "incident_report": (0, 0, 0, None),  # no major complaint
    }
    assert a["reply_time"] == {"replied": 2, "median_hours": 37.0, "p90_hours": 46.6}
    assert a["satisfaction"] == {
        "satisfied": 1,
        "neutral": 1,
        "unsatisfied": 0,
        "unreachable": 0,
        "satisfied_rate": 0.5,
    }
    assert a["repeat_complainants"] == {"count": 1, "complaints": 3}
    assert a["repeat_causes"] == {"count": 1, "complaints": 3}
    assert remedies(a) == [("refund", 1, "300.00"), ("compensation", 1, "1000.50")]

    assert (b["received"], b["rejected"], b["resolved"], b["open"], b["reopened"]) == (3, 1, 1, 1, 2)
    assert b["reopen_rate"] == 0.6667
    assert clocks(b) == {
        "store_feedback": (0, 1, 0, 0.0),
        "written_reply": (3, 2, 0, 0.6),
        "follow_up": (2, 0, 0, 1.0),
        "fulfilment": (0, 0, 0, None),
        "incident_report": (0, 0, 0, None),  # no major complaint
    }
    assert b["reply_time"] == {"replied": 2, "median_hours": 27.5, "p90_hours": 44.7}
    assert b["satisfaction"] == {
        "satisfied": 1,
        "neutral": 0,
        "unsatisfied": 1,
        "unreachable": 0,
        "satisfied_rate": 0.5,
    }
    assert b["repeat_complainants"] == {"count": 1, "complaints": 2}
    assert remedies(b) == [("apology", 1, "0.00")]

    assert (none["received"], none["resolved"]) == (1, 1)
    assert clocks(none)["store_feedback"] == (0, 0, 0, None)
    assert none["reply_time"] == {"replied": 1, "median_hours": 105.92, "p90_hours": 105.92}
    assert none["satisfaction"]["satisfied_rate"] is None

    assert body["total"]["received"] == sum(row["received"] for row in rows.values())


def test_by_category_channel_and_department(month: dict[str, str], reporter: Caller) -> None:
    received = {
        group_by: {row["group"]: row["received"] for row in summary(reporter, group_by=group_by)["groups"]}
        for group_by in ("category", "channel", "department")
    }
    assert received["category"] == {
        "billing": 2,
        "delivery": 1,
        "facilities": 1,
        "product_quality": 1,
        "service_attitude": 3,
    }
    assert received["channel"] == {"email": 1, "letter": 1, "media": 1, "phone": 4, "web": 1}
    assert received["department"] == {"物业工程部": 1, None: 7}


def test_repeats_are_counted_within_each_group(month: dict[str, str], reporter: Caller) -> None:
    def repeats(group_by: str) -> dict[str | None, tuple[tuple[int, int], tuple[int, int]]]:
        rows = summary(reporter, group_by=group_by)["groups"]
        return {
            row["group"]: (tuple(row["repeat_complainants"].values()), tuple(row["repeat_causes"].values()))
            for row in rows
        }

    # By phone: P1 c1 c6 and A service_attitude c1 c6; P1's c2 came by web, P2's c10 by media.
    assert repeats("channel") == {
        "email": ((0, 0), (0, 0)),
        "letter": ((0, 0), (0, 0)),
        "media": ((0, 0), (0, 0)),
        "phone": ((1, 2), (1, 2)),
        "web": ((0, 0), (0, 0)),
    }
    # Only c9 names the department; the other seven repeat as in the total.
    assert repeats("department") == {DEPARTMENT: ((0, 0), (0, 0)), None: ((2, 5), (2, 5))}


def test_a_running_clock_before_its_deadline_is_not_counted_yet(handler: Caller, reporter: Caller) -> None:
    Month(handler, handler).register("late", (2026, 11, 20, 10, 0), "13800000009")
    body = summary(reporter, **{"from": "2026-11-20", "to": "2026-11-22"})
    assert clocks(body["total"])["written_reply"] == (0, 0, 1, None)
    assert body["total"]["reply_time"] == {"replied": 0, "median_hours": None, "p90_hours": None}


def test_an_empty_period_has_a_zero_total(reporter: Caller) -> None:
    total = summary(reporter, group_by="store")["total"]
    assert (total["received"], total["reopen_rate"], total["remedies"]) == (0, None, [])


@pytest.mark.parametrize(
    ("values", "fraction", "expected"),
    [([], 0.5, None), ([7.0], 0.9, 7.0), ([1.0, 2.0], 0.5, 1.5), ([4.0, 1.0, 3.0, 2.0], 0.9, 3.7)],
)
def test_percentile_interpolates_like_postgresql(values: list[float], fraction: float, expected: float | None) -> None:
    result = percentile_cont(values, fraction)
    assert result == pytest.approx(expected) if expected is not None else result is None


def test_amounts_claimed_are_shown_beside_what_was_granted_on_them(
    handler: Caller, supervisor: Caller, reporter: Caller
) -> None:
    days = Month(handler, supervisor)
    store = {"store_id": STORE_A}
    days.register(
        "claimed",
        (2026, 9, 7, 9, 0),
        "13800000011",
        claim={"type": "compensation", "amount_claimed": "599.00"},
        **store,
    )
    days.register(
        "claimed-more",
        (2026, 9, 7, 10, 0),
        "13800000012",
        claim={"type": "compensation", "amount_claimed": "6999.50"},
        **store,
    )
    days.register("appeal", (2026, 9, 7, 11, 0), "13800000013", claim={"type": "appeal"}, **store)
    days.register("granted-unclaimed", (2026, 9, 7, 12, 0), "13800000014", **store)
    for name in ("claimed", "granted-unclaimed"):
        days.move(name, "investigate", (2026, 9, 7, 13, 0), store)
        days.move(name, "propose", (2026, 9, 8, 9, 0), remedy("compensation", "300.00"))
        days.move(name, "approve", (2026, 9, 8, 10, 0), by=supervisor)
    body = summary(reporter, **{"from": "2026-09-07", "to": "2026-09-07"}, group_by="store")
    expected = {"count": 2, "amount_claimed": "7598.50", "amount_granted": "300.00"}
    assert body["total"]["claims"] == expected
    assert [(row["group"], row["claims"]) for row in body["groups"]] == [(STORE_A, expected)]
    assert remedies(body["total"]) == [("compensation", 2, "600.00")]  # granted on a claim or not


def test_an_empty_period_claims_nothing(reporter: Caller) -> None:
    claims = summary(reporter)["total"]["claims"]
    assert claims == {"count": 0, "amount_claimed": "0.00", "amount_granted": "0.00"}
