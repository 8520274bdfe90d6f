"""The same summary as CSV for a spreadsheet, and as a chart (SVG) checked by its content."""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET
from typing import Any

import pytest

from app.db import Database
from app.directory import service as directory
from app.directory.schemas import DepartmentIn
from tests.conftest import Caller
from tests.reports.dataset import STORE_A, STORE_B, Month, report

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture
def reporter(handler: Caller, supervisor: Caller, make_caller: Any) -> Caller:
    Month(handler, supervisor).build()
    return make_caller("reporter", actor="reporter-01")


def read_csv(response: Any) -> list[dict[str, str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.content.startswith("\ufeff".encode())  # Excel reads UTF-8 only with the mark
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))


def test_csv_is_the_same_table_one_row_per_group_and_the_total(reporter: Caller) -> None:
    response = report(reporter, headers={"Accept": "text/csv"}, group_by="store")
    assert 'filename="tousu-summary-2026-10-01-2026-10-31.csv"' in response.headers["content-disposition"]
    rows = read_csv(response)
    assert [(row["row"], row["group"], row["received"]) for row in rows] == [
        ("group", STORE_A, "4"),
        ("group", STORE_B, "3"),
        ("group", "", "1"),
        ("total", "", "8"),
    ]
    total = rows[-1]
    assert total["clocks_written_reply_met"] == "6"
    assert total["clocks_written_reply_breached"] == "4"
    assert total["clocks_store_feedback_on_time_rate"] == "0.3333"
    assert total["reply_time_p90_hours"] == "83.15"
    assert total["satisfaction_satisfied_rate"] == "0.5"
    assert total["repeat_complainants_count"] == "2"
    assert total["remedies_compensation_amount"] == "1000.50"
    assert total["remedies_exchange_count"] == "0"
    assert rows[2]["clocks_store_feedback_on_time_rate"] == ""  # no store, no store clock: no rate


def test_csv_keeps_chinese_department_names(reporter: Caller) -> None:
    rows = read_csv(report(reporter, headers={"Accept": "text/csv"}, group_by="department"))
    assert [row["group"] for row in rows] == ["物业工程部", "", ""]


FORMULAS = ["=cmd|' /C calc'!A0", "+SUM(A1:A9)", "-2+3+cmd|' /C calc'!A0", "@SUM(1+1)*cmd|' /C calc'!A0"]


@pytest.mark.parametrize("name", FORMULAS)
def test_a_cell_a_spreadsheet_would_run_is_text(handler: Caller, db: Database, make_caller: Any, name: str) -> None:
    """OWASP's CSV injection: a department named as a formula comes back prefixed with ', shown as text."""
    # Into the directory by its service: a name with a slash is no path segment of PUT /v1/departments/{department}.
    with db.writers.begin() as session:
        directory.put_department(session, name, DepartmentIn())
    complaint = handler.register(received_at="2026-10-05T10:00:00+08:00", store_id=None, department="物业部")
    handler.move(complaint["id"], "investigate", {"department": name})
    reporter = make_caller("reporter")
    rows = read_csv(report(reporter, headers={"Accept": "text/csv"}, group_by="department"))
    assert [row["group"] for row in rows] == ["'" + name, ""]
    assert rows[0]["received"] == "1"  # numbers stay numbers


@pytest.mark.parametrize(
    ("accept", "kind"),
    [
        (None, "application/json"),
        ("application/json", "application/json"),
        ("text/csv;q=0.5, application/json", "application/json"),
        ("*/*", "application/json"),
        ("text/csv, */*;q=0.1", "text/csv; charset=utf-8"),
    ],
)
def test_json_unless_csv_is_preferred(reporter: Caller, accept: str | None, kind: str) -> None:
    response = report(reporter, headers={"Accept": accept} if accept else None)
    assert response.headers["content-type"] == kind


def texts(root: ET.Element) -> list[str]:
    return ["".join(element.itertext()).strip() for element in root.iter(f"{SVG}text")]


def test_the_chart_has_a_bar_per_week_and_category_and_its_labels(reporter: Caller) -> None:
    response = report(reporter, "/v1/reports/summary.svg")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/svg+xml"
    root = ET.fromstring(response.content)
    assert root.tag == f"{SVG}svg"
    bars = sorted(g.get("id") for g in root.iter(f"{SVG}g") if (g.get("id") or "").startswith("bar-"))
    # The non-empty cells of the month; c7 (1 November, week 44) is outside the period.
    assert bars == [
        "bar-2026-W40-facilities",
        "bar-2026-W42-billing",
        "bar-2026-W42-product_quality",
        "bar-2026-W42-service_attitude",
        "bar-2026-W43-delivery",
        "bar-2026-W44-service_attitude",
    ]
    for bar in bars:  # a drawn shape, not an empty group
        assert root.find(f".//{SVG}g[@id='{bar}']/{SVG}path") is not None
    rates = sorted(g.get("id") for g in root.iter(f"{SVG}g") if (g.get("id") or "").startswith("rate-"))
    assert rates == ["rate-follow_up", "rate-fulfilment", "rate-store_feedback", "rate-written_reply"]
    labels = texts(root)
    assert "投诉汇总分析 2026-10-01 至 2026-10-31（8 件）" in labels
    assert {"每周投诉量（按类别）", "各时限按时率"} <= set(labels)
    assert {"2026-W40", "2026-W41", "2026-W42", "2026-W43", "2026-W44"} <= set(labels)
    assert {"服务态度", "收费结算", "商品质量", "送货安装", "设施环境"} <= set(labels)  # the legend
    assert "服务质量" not in labels  # no complaint of that category: no legend entry
    assert {"单位反馈", "书面答复", "回访", "落实"} <= set(labels)
    assert {"33%（1/3）", "60%（6/10）", "80%（4/5）"} <= set(labels)


def test_an_empty_chart_says_so(make_caller: Any) -> None:
    response = report(make_caller("manager"), "/v1/reports/summary.svg")
    root = ET.fromstring(response.content)
    assert not [g for g in root.iter(f"{SVG}g") if (g.get("id") or "").startswith(("bar-", "rate-"))]
    assert {"本期无投诉", "无数据"} <= set(texts(root))
