"""The summary grouped by store or department names each unit from the directory, in JSON and in the CSV."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest

from tests.conftest import Caller
from tests.reports.dataset import DEPARTMENT, STORE_A, STORE_B, Month, report


def put(caller: Caller, path: str, body: Any) -> None:
    response = caller.client.put(path, json=body, headers=caller.headers())
    assert response.status_code in (200, 201), response.text


@pytest.fixture
def reporter(handler: Caller, supervisor: Caller, admin: Caller, make_caller: Any) -> Caller:
    put(admin, f"/v1/stores/{STORE_A}", {"name": "福田中心店", "region": "华南区"})
    put(admin, f"/v1/stores/{STORE_B}", {"region": "华南区"})  # known, without a name
    put(admin, f"/v1/departments/{DEPARTMENT}", {"name": "=物业工程部（总部）"})
    put(admin, "/v1/stores/SZ-OTHER-1", {"name": "不在报表里的店"})
    Month(handler, supervisor).build()  # dispatches to the units just put
    return make_caller("reporter", actor="reporter-01")


def test_grouped_by_store_each_row_has_the_store_name(reporter: Caller) -> None:
    body = report(reporter, group_by="store").json()
    assert [(row["group"], row["name"]) for row in body["groups"]] == [
        (STORE_A, "福田中心店"),
        (STORE_B, None),
        (None, None),
    ]
    assert body["total"]["name"] is None


def test_grouped_by_department_and_in_the_csv(reporter: Caller) -> None:
    body = report(reporter, group_by="department").json()
    assert [row["name"] for row in body["groups"]] == ["=物业工程部（总部）", None]
    response = report(reporter, headers={"Accept": "text/csv"}, group_by="department")
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert list(rows[0])[:3] == ["row", "group", "name"]
    # A name is text: one a spreadsheet would run as a formula is shown as text.
    assert [(row["group"], row["name"]) for row in rows] == [(DEPARTMENT, "'=物业工程部（总部）"), ("", ""), ("", "")]


def test_grouped_otherwise_no_name(reporter: Caller) -> None:
    body = report(reporter, group_by="category").json()
    assert all(row["name"] is None for row in body["groups"])
    assert "不在报表里的店" not in report(reporter, group_by="store").text
