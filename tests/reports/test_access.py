"""Who may read the summary, what a store key sees, the period's local boundaries, and refused queries."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Caller
from tests.reports.dataset import STORE_A, STORE_B, Month, report

PATHS = ("/v1/reports/summary", "/v1/reports/summary.svg")


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("role", ["handler", "supervisor", "intake"])
def test_roles_that_handle_complaints_may_not_read_reports(make_caller: Any, role: str, path: str) -> None:
    response = report(make_caller(role), path)
    assert response.status_code == 403, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["allowed_roles"] == ["admin", "department", "manager", "reporter", "store"]


@pytest.mark.parametrize("role", ["reporter", "manager", "admin"])
def test_reporting_roles_read_it(make_caller: Any, role: str) -> None:
    assert report(make_caller(role)).status_code == 200


def test_no_key_is_401(client: Any) -> None:
    assert client.get("/v1/reports/summary", params={"from": "2026-10-01", "to": "2026-10-31"}).status_code == 401


def test_a_store_key_sees_only_the_complaints_dispatched_to_its_store(
    handler: Caller, supervisor: Caller, make_caller: Any
) -> None:
    Month(handler, supervisor).build()
    store = make_caller("store", store_id=STORE_A, actor="店长王五")
    response = report(store, group_by="store")
    assert response.status_code == 200, response.text
    body = response.json()
    # c1 c2 c5: c6 names store A but was never dispatched to it; store B's are not its business.
    assert [row["group"] for row in body["groups"]] == [STORE_A]
    assert body["total"]["received"] == 3
    assert body["total"]["repeat_complainants"] == {"count": 1, "complaints": 2}
    assert body["top_repeat_causes"] == [{"store_id": STORE_A, "category": "service_attitude", "complaints": 2}]
    other = make_caller("store", store_id=STORE_B, actor="店长赵六")
    assert report(other).json()["total"]["received"] == 2  # c4 c10; c3 was rejected before any dispatch


def test_the_period_is_local_days_both_included(handler: Caller, make_caller: Any) -> None:
    month = Month(handler, handler)
    month.register("before", (2026, 9, 30, 23, 50), "13800000001")
    month.register("first", (2026, 10, 1, 0, 5), "13800000002")
    month.register("last", (2026, 10, 31, 23, 30), "13800000003")
    month.register("after", (2026, 11, 1, 0, 10), "13800000004")
    reporter = make_caller("reporter")
    # 23:30 on 31 October in Shanghai is 15:30 UTC: in. 00:10 on 1 November is 16:10 UTC on 31 October: out.
    assert report(reporter).json()["total"]["received"] == 2
    assert report(reporter, **{"from": "2026-10-31", "to": "2026-10-31"}).json()["total"]["received"] == 1
    assert report(reporter, **{"from": "2026-11-01", "to": "2026-11-01"}).json()["total"]["received"] == 1
    assert report(reporter, **{"from": "2026-09-30", "to": "2026-11-01"}).json()["total"]["received"] == 4


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize(
    ("params", "where"),
    [
        ({"from": "2026-11-01", "to": "2026-10-31"}, "from"),
        ({"from": "2026-02-30"}, "from"),
        ({"to": "31/10/2026"}, "to"),
        ({"from": "2025-10-01", "to": "2026-10-31"}, "to"),
        ({"from": "9999-12-31", "to": "9999-12-31"}, "from"),
        ({"group_by": "owner"}, "group_by"),
        ({"groupby": "store"}, "groupby"),
    ],
)
def test_a_bad_query_is_422(make_caller: Any, path: str, params: dict[str, str], where: str) -> None:
    response = report(make_caller("reporter"), path, **params)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert where in str(problem.get("errors", "")) or problem.get("field") == where, problem


def test_from_and_to_are_required(make_caller: Any) -> None:
    response = make_caller("reporter").get("/v1/reports/summary", params={"from": "2026-10-01"})
    assert response.status_code == 422
    assert ["query", "to"] in [error["loc"] for error in response.json()["errors"]]
