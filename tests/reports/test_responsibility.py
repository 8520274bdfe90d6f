"""Findings by responsibility (company, staff, customer misunderstanding, third party, undetermined): the summary
grouped by the responsibility the store's feedback found, in JSON and CSV, on the seeded month
(tests/reports/dataset.py): c1 and c4 were fed back as staff_fault; no other October complaint has a finding."""

from __future__ import annotations

from tests.conftest import Caller
from tests.reports.dataset import report
from tests.reports.test_formats import read_csv


def test_the_month_grouped_by_responsibility(month: dict[str, str], reporter: Caller) -> None:
    response = report(reporter, group_by="responsibility")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["group_by"] == "responsibility"
    rows = [(g["group"], g["received"], g["resolved"], g["open"], g["rejected"]) for g in body["groups"]]
    assert rows == [
        ("staff_fault", 2, 1, 1, 0),  # c1 revisited; c4 investigating again
        (None, 6, 3, 2, 1),  # c2 c9 c10 resolved or revisited; c5 c6 open; c3 rejected
    ]
    assert body["total"]["received"] == 8


def test_the_responsibility_table_as_csv(month: dict[str, str], reporter: Caller) -> None:
    rows = read_csv(report(reporter, headers={"Accept": "text/csv"}, group_by="responsibility"))
    assert [(row["row"], row["group"], row["received"]) for row in rows] == [
        ("group", "staff_fault", "2"),
        ("group", "", "6"),
        ("total", "", "8"),
    ]


def test_an_unknown_grouping_is_422(reporter: Caller) -> None:
    response = report(reporter, group_by="fault")
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
