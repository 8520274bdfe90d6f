"""Whatever a client sends: a clear problem+json refusal, and nothing changed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import Caller, complaint_body

MiB = 1024 * 1024


def refused(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    return response.json()


def test_a_body_over_one_mebibyte_is_413(intake: Caller) -> None:
    body = complaint_body(description="很" * (MiB // 3 + 10))  # three bytes each in UTF-8
    problem = refused(intake.post("/v1/complaints", json=body), 413)
    assert problem["status"] == 413
    assert intake.get("/v1/complaints").json()["items"] == []


def test_a_streamed_body_over_one_mebibyte_is_413(intake: Caller) -> None:
    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit counts what arrives
        yield b'{"description": "'
        for _ in range(20):
            yield b"x" * 65536
        yield b'"}'

    response = intake.client.post(
        "/v1/complaints", content=chunks(), headers=intake.headers({"Content-Type": "application/json"})
    )
    refused(response, 413)


def test_a_body_just_under_the_limit_is_read(intake: Caller) -> None:
    # Under the byte limit, the field limits decide: a description this long is refused as too long, not too big.
    body = complaint_body(description="x" * (MiB - 4096))
    problem = refused(intake.post("/v1/complaints", json=body), 422)
    assert problem["errors"][0]["loc"] == ["body", "description"]


@pytest.mark.parametrize(
    ("move", "body"),
    [
        ("investigate", {"store_id": "SZ-FT-012", "state": "resolved"}),
        ("investigate", {"store_id": "SZ-FT-012", "version": 99}),
        ("investigate", {"store_id": "SZ-FT-012", "responsible_store_id": "GZ-TH-003"}),
        (
            "reject",
            {"reason": "duplicate", "explanation": "重复投诉，已合并处理。", "rejected_at": "2020-01-01T00:00:00Z"},
        ),
        ("notes", {"text": "备注", "actor": "someone-else"}),
    ],
)
def test_a_body_cannot_set_what_the_service_owns(handler: Caller, move: str, body: dict[str, Any]) -> None:
    complaint = handler.register()
    problem = refused(handler.post(f"/v1/complaints/{complaint['id']}/{move}", json=body), 422)
    assert any(error["type"] == "extra_forbidden" for error in problem["errors"])
    after = handler.get(f"/v1/complaints/{complaint['id']}").json()
    assert (after["state"], after["version"], after["responsible_store_id"]) == ("accepted", 1, None)


@pytest.mark.parametrize(
    "received_at",
    [
        "2026-02-30T10:00:00+08:00",  # no such day
        "2026-11-23T25:00:00+08:00",  # no such hour
        "2026-11-23T10:00:00+25:00",  # no such offset
        "2026-11-23T10:00:00 Mars/Olympus_Mons",  # no such zone
        "2026-11-23T10:00:00[Asia/Nowhere]",
        "yesterday",
        "",
    ],
)
def test_impossible_times_and_unknown_zones_are_422(intake: Caller, received_at: str) -> None:
    refused(intake.post("/v1/complaints", json=complaint_body(received_at=received_at)), 422)
    assert intake.get("/v1/complaints").json()["items"] == []


@pytest.mark.parametrize("query", ["received_from=2026-13-01T00:00:00%2B08:00", "received_to=2026-11-23T10:00:00Z%00"])
def test_impossible_times_in_a_query_are_422(intake: Caller, query: str) -> None:
    refused(intake.get(f"/v1/complaints?{query}"), 422)


def test_a_nul_byte_anywhere_is_422(handler: Caller) -> None:
    complaint = handler.register()
    path = f"/v1/complaints/{complaint['id']}"
    refused(handler.post(f"{path}/notes", json={"text": "a\x00b"}), 422)
    refused(handler.post(f"{path}/investigate", json={"store_id": "SZ\x00FT"}), 422)
    refused(handler.get("/v1/complaints?store_id=SZ%00FT"), 422)
    refused(handler.post(f"{path}/notes", json={"text": "ok"}, headers={"X-Actor": "agent%00"}), 422)
    assert handler.get(f"{path}/events").json()[-1]["move"] == "register"


@pytest.mark.parametrize(
    "payload",
    [
        b"{",
        b"[]",
        b'"a string"',
        b"null",
        b'{"complainant": []}',
        '{"description": "\ud800"}'.encode("utf-8", "surrogatepass"),
    ],
)
def test_malformed_json_is_a_client_error(intake: Caller, payload: bytes) -> None:
    response = intake.client.post(
        "/v1/complaints", content=payload, headers=intake.headers({"Content-Type": "application/json"})
    )
    refused(response, 422)


def test_a_wrong_content_type_is_refused(intake: Caller) -> None:
    response = intake.client.post(
        "/v1/complaints", content=b"name=zhang", headers=intake.headers({"Content-Type": "text/plain"})
    )
    assert 400 <= response.status_code < 500
    assert response.headers["content-type"] == "application/problem+json"


def test_an_unknown_complaint_id_shape_is_422_not_500(handler: Caller) -> None:
    refused(handler.get("/v1/complaints/not-a-uuid"), 422)
    refused(handler.post("/v1/complaints/12345/reject", json={}), 422)


def test_a_body_that_is_not_utf8_is_422(intake: Caller) -> None:
    response = intake.client.post(
        "/v1/complaints",
        content=b'{"description": "\xff\xfe"}',
        headers=intake.headers({"Content-Type": "application/json"}),
    )
    refused(response, 422)


def test_405_names_every_method_of_the_path(intake: Caller) -> None:
    response = intake.client.put("/v1/complaints", headers=intake.headers())
    refused(response, 405)
    assert response.headers["Allow"] == "GET, HEAD, POST"
