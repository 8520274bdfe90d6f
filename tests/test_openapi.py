"""The OpenAPI document integrators read: committed, current, and complete for every operation."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from app.config import Settings
from app.main import create_app
from tests.conftest import ROOT

COMMITTED = ROOT / "openapi" / "openapi.json"
CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return create_app(Settings(database_url="sqlite:///:memory:")).openapi()


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            yield path, method, operation


def examples_under(node: Any, document: dict[str, Any], seen: set[str] | None = None) -> Iterator[Any]:
    """Every example reachable from a schema, following $refs."""
    seen = set() if seen is None else seen
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref not in seen:
            seen.add(ref)
            yield from examples_under(document["components"]["schemas"][ref.rsplit("/", 1)[1]], document, seen)
        for key, value in node.items():
            if key in ("example", "examples"):
                yield value
            else:
                yield from examples_under(value, document, seen)
    elif isinstance(node, list):
        for value in node:
            yield from examples_under(value, document, seen)


def test_committed_document_is_current(document: dict[str, Any]) -> None:
    committed = json.loads(COMMITTED.read_text(encoding="utf-8"))
    assert committed == document, "openapi/openapi.json is stale: run `make openapi`"


def test_every_operation_has_a_summary_and_a_description(document: dict[str, Any]) -> None:
    missing = [f"{m} {p}" for p, m, op in operations(document) if not op.get("summary") or not op.get("description")]
    assert missing == []


def test_every_v1_operation_declares_its_errors_as_problem_json(document: dict[str, Any]) -> None:
    for path, method, operation in operations(document):
        if not path.startswith("/v1"):
            continue
        errors = {status: r for status, r in operation["responses"].items() if status[0] in "45"}
        assert "401" in errors, f"{method} {path} does not declare 401"
        if operation.get("parameters") or operation.get("requestBody"):
            assert "422" in errors, f"{method} {path} does not declare 422"
        for status, response in errors.items():
            assert list(response["content"]) == ["application/problem+json"], f"{method} {path} {status}"


def test_every_v1_operation_has_chinese_examples(document: dict[str, Any]) -> None:
    for path, method, operation in operations(document):
        if not path.startswith("/v1"):
            continue
        shown = [operation.get("requestBody", {})] + [
            r for status, r in operation["responses"].items() if status.startswith("2")
        ]
        examples = json.dumps(list(examples_under(shown, document)), ensure_ascii=False)
        assert CJK.search(examples), f"{method} {path} has no Chinese-language example"


def test_move_routes_exist_for_every_move(document: dict[str, Any]) -> None:
    from app.complaints.workflow import MOVES

    for move in MOVES:
        assert f"/v1/complaints/{{complaint_id}}/{move.name}" in document["paths"]


def test_every_reference_in_the_document_arrives(document: dict[str, Any]) -> None:
    """A $ref to nothing stops ReDoc ("Invalid reference token") and code generators."""
    text = json.dumps(document)
    for name in set(re.findall(r'"#/components/schemas/([^"]+)"', text)):
        assert name in document["components"]["schemas"], f"#/components/schemas/{name} is not in the document"
