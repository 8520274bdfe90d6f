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
from tests.testclient import TestClient

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
        if not any("application/json" in r.get("content", {}) for r in shown):
            continue  # bytes in, bytes out (an attachment's download): no words to give an example of
        examples = json.dumps(list(examples_under(shown, document)), ensure_ascii=False)
        assert CJK.search(examples), f"{method} {path} has no Chinese-language example"


def test_move_routes_exist_for_every_move(document: dict[str, Any]) -> None:
    from app.complaints.workflow import MOVES

    for move in MOVES:
        assert f"/v1/complaints/{{complaint_id}}/{move.name}" in document["paths"]


CAMEL_CASE = re.compile(r"^[a-z][a-z0-9]*([A-Z][a-z0-9]*)*$")
TAGS = {
    "complaints",
    "moves",
    "clocks",
    "calendar",
    "directory",
    "escalation",
    "webhooks",
    "reports",
    "keys",
    "health",
    "actions",
    "data-subjects",
}


def every_operation(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    yield from operations(document)
    for event, item in document.get("webhooks", {}).items():
        for method, operation in item.items():
            yield f"webhook {event}", method, operation


def test_every_operation_id_is_unique_and_camel_case(document: dict[str, Any]) -> None:
    ids = [operation.get("operationId", "") for _, _, operation in every_operation(document)]
    assert [i for i in ids if not CAMEL_CASE.fullmatch(i)] == []
    assert len(ids) == len(set(ids))
    some = {"registerComplaint", "listComplaints", "getComplaint", "approveComplaint", "getSummary"}
    assert some <= set(ids)


def test_a_move_is_named_move_complaint(document: dict[str, Any]) -> None:
    from app.complaints.workflow import MOVES

    ids = {path: item["post"]["operationId"] for path, item in document["paths"].items() if "post" in item}
    assert ids["/v1/complaints/{complaint_id}/store-feedback"] == "storeFeedbackComplaint"
    assert ids["/v1/complaints/{complaint_id}/send-back"] == "sendBackComplaint"
    for move in MOVES:
        expected = re.sub(r"-(\w)", lambda m: m[1].upper(), move.name) + "Complaint"
        assert ids[f"/v1/complaints/{{complaint_id}}/{move.name}"] == expected


def test_every_operation_has_one_tag_of_the_groups(document: dict[str, Any]) -> None:
    tags = {f"{m} {p}": op.get("tags") for p, m, op in operations(document)}
    assert {key: value for key, value in tags.items() if not value or len(value) != 1 or value[0] not in TAGS} == {}
    assert {tag["name"] for tag in document["tags"]} == TAGS
    assert {value[0] for value in tags.values() if value} == TAGS


def test_every_schema_name_is_plain(document: dict[str, Any]) -> None:
    """No FastAPI -Input/-Output pair, no module path: a generator gives each schema its own class."""
    names = list(document["components"]["schemas"])
    assert [name for name in names if not re.fullmatch(r"[A-Z][A-Za-z0-9]*", name)] == []
    titles = [schema.get("title", name) for name, schema in document["components"]["schemas"].items()]
    assert len(titles) == len(set(titles)), "two schemas share a title"


def test_the_problem_declares_its_extension_members(document: dict[str, Any]) -> None:
    members = document["components"]["schemas"]["Problem"]["properties"]
    for name in ("allowed_moves", "state", "guard", "allowed_roles", "current_version", "errors", "error_id"):
        assert name in members, name
    assert members["current_version"]["anyOf"][0] == {"type": "integer"}
    assert members["errors"]["anyOf"][0]["items"] == {"$ref": "#/components/schemas/FieldError"}


def test_response_headers_are_declared_where_they_are_sent(document: dict[str, Any]) -> None:
    for path, method, operation in operations(document):
        for status, response in operation["responses"].items():
            headers = response.get("headers", {})
            assert "X-Request-ID" in headers, f"{method} {path} {status}"
            if status in ("429", "503"):
                assert "Retry-After" in headers, f"{method} {path} {status}"
    registered = document["paths"]["/v1/complaints"]["post"]["responses"]["201"]["headers"]
    assert {"Location", "ETag", "Idempotent-Replayed"} <= set(registered)
    assert "ETag" in document["paths"]["/v1/complaints/{complaint_id}"]["get"]["responses"]["200"]["headers"]
    assert "ETag" in document["paths"]["/v1/complaints/{complaint_id}/approve"]["post"]["responses"]["200"]["headers"]


def test_422_only_where_the_request_has_input(document: dict[str, Any]) -> None:
    assert "422" not in document["paths"]["/healthz"]["get"]["responses"]
    for path, method, operation in operations(document):
        has_input = bool(operation.get("parameters")) or "requestBody" in operation
        assert ("422" in operation["responses"]) == has_input, f"{method} {path}"


@pytest.mark.sqlite_only
def test_an_unknown_query_parameter_is_refused_where_the_document_says_input_is_taken(
    document: dict[str, Any], client: TestClient
) -> None:
    """The query parameters each operation accepts are read from its route (app.dependencies.declared_query), not
    from the document: they must be the document's. Every operation is sent every query parameter its document
    declares and one it does not: the undeclared one, and only it, is refused where the operation takes input; an
    operation without input lets it by."""
    undeclared = "zz-undeclared"
    for path, method, operation in operations(document):
        declared = {p["name"]: "1" for p in operation.get("parameters", []) if p["in"] == "query"}
        response = client.request(method, re.sub(r"{[^}]+}", "x", path), params={**declared, undeclared: "1"})
        if bool(operation.get("parameters")) or "requestBody" in operation:
            assert response.status_code == 422, f"{method} {path}: {response.text}"
            assert response.json()["errors"] == [
                {"loc": ["query", undeclared], "msg": "Extra inputs are not permitted", "type": "extra_forbidden"}
            ], f"{method} {path}"
        else:
            assert response.status_code != 422, f"{method} {path}: {response.text}"


def test_money_is_a_decimal_string_in_every_response(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    for name in ("RemedyOut", "RemedyTotal"):
        assert schemas[name]["properties"]["amount"]["type"] == "string", name
    accepted = schemas["RemedyIn"]["properties"]["amount"]
    assert accepted["type"] == "string"
    assert "anyOf" not in accepted


def test_approve_takes_an_optional_body_that_is_not_null(document: dict[str, Any]) -> None:
    body = document["paths"]["/v1/complaints/{complaint_id}/approve"]["post"]["requestBody"]
    assert not body.get("required")
    assert body["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ApproveBody"}


def test_registration_says_a_store_or_a_department_is_required(document: dict[str, Any]) -> None:
    schema = document["components"]["schemas"]["ComplaintCreate"]
    assert schema["not"] == {"properties": {"store_id": {"type": "null"}, "department": {"type": "null"}}}
    assert "one of them is required" in schema["description"]


def test_every_reference_in_the_document_arrives(document: dict[str, Any]) -> None:
    """A $ref to nothing stops ReDoc ("Invalid reference token") and code generators."""
    text = json.dumps(document)
    for name in set(re.findall(r'"#/components/schemas/([^"]+)"', text)):
        assert name in document["components"]["schemas"], f"#/components/schemas/{name} is not in the document"
