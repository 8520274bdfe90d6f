"""Whatever a client sends: a clear problem+json refusal, and nothing changed."""

from __future__ import annotations

import gzip
import json
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


@pytest.mark.parametrize("text", ["备注\x0c", "\x0b备注", "备\x85注", "备注\x7f", "备注\x9f"])
def test_control_characters_are_refused_at_either_end_too(handler: Caller, text: str) -> None:
    """A form feed or vertical tab at an end was stripped away unseen; C1 controls (NEL: a line break) were kept."""
    complaint = handler.register()
    response = handler.post(f"/v1/complaints/{complaint['id']}/notes", json={"text": text})
    assert ["body", "text"] in [error["loc"] for error in refused(response, 422)["errors"]]
    assert handler.get(f"/v1/complaints/{complaint['id']}/events").json()[-1]["move"] == "register"


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


def test_a_wrong_content_type_is_415(intake: Caller) -> None:
    response = intake.client.post(
        "/v1/complaints", content=b"name=zhang", headers=intake.headers({"Content-Type": "text/plain"})
    )
    refused(response, 415)


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


# Dates: an ISO 8601 string with its offset, within a sane range; never a number.

FAR_OUT = ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00Z"]


def field_refused(response: Any, loc: list[str]) -> None:
    """422, naming the field: in `errors` (schema validation) or as `field` (a rule of the service)."""
    problem = refused(response, 422)
    assert loc in [error["loc"] for error in problem.get("errors", [])] or problem.get("field") == loc[-1], problem


@pytest.mark.parametrize(
    "received_at",
    [*FAR_OUT, "1999-12-31T23:59:59Z", "2099-01-01T00:00:00+08:00", 0, 1764000000, 1.5, "1764000000", True],
)
def test_a_receipt_time_out_of_range_or_not_a_string_is_422(intake: Caller, received_at: Any) -> None:
    field_refused(intake.post("/v1/complaints", json=complaint_body(received_at=received_at)), ["body", "received_at"])
    assert intake.get("/v1/complaints").json()["items"] == []


def test_a_receipt_time_from_2000_is_taken(intake: Caller) -> None:
    assert intake.register(received_at="2000-01-01T00:00:00Z")["received_at"] == "2000-01-01T08:00:00+08:00"


@pytest.mark.parametrize("name", ["received_from", "received_to"])
@pytest.mark.parametrize("value", [*FAR_OUT, "1969-12-31T23:59:59Z", "2101-01-01T00:00:00Z", "0", "1764000000"])
def test_a_filter_time_out_of_range_or_a_number_is_422(intake: Caller, name: str, value: str) -> None:
    field_refused(intake.get("/v1/complaints", params={name: value}), ["query", name])


def test_filter_times_at_the_ends_of_the_range_are_taken(intake: Caller) -> None:
    complaint = intake.register()
    params = {"received_from": "1970-01-01T00:00:00Z", "received_to": "2100-12-31T23:59:59+00:00"}
    response = intake.get("/v1/complaints", params=params)
    assert response.status_code == 200, response.text
    assert [item["id"] for item in response.json()["items"]] == [complaint["id"]]


@pytest.mark.parametrize("day", ["0", "946684800", "2026-10-01T00:00:00", "２０２６-10-01"])
def test_a_calendar_day_must_be_written_as_a_date(handler: Caller, admin: Caller, day: str) -> None:
    field_refused(handler.get(f"/v1/calendar/days/{day}"), ["path", "day"])
    field_refused(
        admin.client.put(f"/v1/calendar/days/{day}", json={"working": True}, headers=admin.headers()), ["path", "day"]
    )


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"from": "0", "to": "0"}, "from"),
        ({"from": "2026-10-01", "to": "1793404800"}, "to"),
        ({"from": "1969-12-31", "to": "1970-01-31"}, "from"),
        ({"from": "2100-12-01", "to": "2101-01-01"}, "to"),
    ],
)
def test_a_report_period_must_be_dates_from_1970_to_2100(make_caller: Any, params: dict[str, str], name: str) -> None:
    field_refused(make_caller("reporter").get("/v1/reports/summary", params=params), ["query", name])


@pytest.mark.parametrize("phone", ["１３８ １２３４ ８０００", "138 1234 800٠", "138\t1234\t8000"])
def test_a_phone_number_is_written_in_ascii_digits(intake: Caller, phone: str) -> None:
    body = complaint_body(complainant={"name": "张三", "phone": phone})
    field_refused(intake.post("/v1/complaints", json=body), ["body", "complainant", "phone"])
    field_refused(intake.get("/v1/complaints", params={"phone": phone}), ["query", "phone"])
    assert intake.get("/v1/complaints").json()["items"] == []


# Booleans: JSON true or false in a body, true or false in a query string.


@pytest.mark.parametrize("working", [0, 1, "false", "true"])
def test_a_day_is_opened_or_closed_with_json_booleans_only(admin: Caller, working: Any) -> None:
    response = admin.client.put("/v1/calendar/days/2026-10-01", json={"working": working}, headers=admin.headers())
    field_refused(response, ["body", "working"])
    assert admin.get("/v1/calendar/days/2026-10-01").json()["source"] == "package"


@pytest.mark.parametrize("enabled", [0, "false", "no"])
def test_a_webhook_endpoint_is_enabled_with_json_booleans_only(admin: Caller, enabled: Any) -> None:
    body = {"url": "https://93.184.215.14/hooks", "enabled": enabled}
    field_refused(admin.post("/v1/webhook-endpoints", json=body), ["body", "enabled"])
    assert admin.get("/v1/webhook-endpoints").json() == []


@pytest.mark.parametrize(("value", "status"), [("1", 422), ("yes", 422), ("on", 422), ("true", 200), ("False", 200)])
def test_a_query_boolean_is_true_or_false(admin: Caller, value: str, status: int) -> None:
    response = admin.get("/v1/api-keys", params={"include_revoked": value})
    assert response.status_code == status, response.text


# Money: plain decimal strings or JSON numbers, at most 2 decimals, never negative.


def investigating(handler: Caller) -> str:
    complaint = handler.register()
    handler.move(complaint["id"], "investigate", {"store_id": "SZ-FT-012"})
    return complaint["id"]


@pytest.mark.parametrize(
    ("kind", "amount"),
    [
        ("apology", "-0.00"),
        ("apology", -0.0),
        ("refund", "３００"),
        ("refund", "1_000"),
        ("refund", "3e2"),
        ("refund", " 300"),
        ("refund", "+300"),
        ("refund", "300.500"),
        ("refund", ".5"),
        ("refund", "NaN"),
        ("refund", True),
        ("refund", 300.123),
        ("refund", 300),  # a JSON number, however plain: the schema says string
        ("refund", 300.5),
        ("apology", 0),
    ],
)
def test_an_amount_that_is_not_plain_is_422(handler: Caller, kind: str, amount: Any) -> None:
    complaint_id = investigating(handler)
    body = {"remedy": {"kind": kind, "amount": amount}, "reply": "非常抱歉给您带来不便。", "reply_channel": "sms"}
    field_refused(handler.post(f"/v1/complaints/{complaint_id}/propose", json=body), ["body", "remedy", "amount"])
    assert handler.get(f"/v1/complaints/{complaint_id}").json()["state"] == "investigating"


@pytest.mark.parametrize(
    ("amount", "shown"),
    [("300", "300.00"), ("300.5", "300.50"), ("300.50", "300.50"), ("12", "12.00"), ("9999999999.99", "9999999999.99")],
)
def test_plain_amounts_are_taken_and_shown_with_two_decimals(handler: Caller, amount: Any, shown: str) -> None:
    complaint_id = investigating(handler)
    body = {"remedy": {"kind": "refund", "amount": amount}, "reply": "非常抱歉给您带来不便。", "reply_channel": "sms"}
    proposed = handler.move(complaint_id, "propose", body)
    assert proposed["remedy"]["amount"] == shown


# Bodies: JSON in UTF-8, or 415.

REGISTRATION = json.dumps(complaint_body(), ensure_ascii=False)


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (REGISTRATION.encode("utf-16"), "application/json"),  # with a byte-order mark
        (REGISTRATION.encode("utf-16-le"), "application/json"),
        (REGISTRATION.encode("utf-16-be"), "application/json"),
        (REGISTRATION.encode("utf-32"), "application/json"),
        (REGISTRATION.encode("utf-32-be"), "application/json"),
        (REGISTRATION.encode("utf-16-le"), "application/json; charset=utf-16"),
        (json.dumps(complaint_body()).encode(), "application/json; charset=latin-1"),
        (json.dumps(complaint_body()).encode(), "application/json; charset=utf-16"),
        (REGISTRATION.encode(), "text/plain"),
        (REGISTRATION.encode(), "application/x-www-form-urlencoded"),
        (REGISTRATION.encode(), "multipart/form-data; boundary=x"),
        (REGISTRATION.encode(), None),
    ],
)
def test_a_body_that_is_not_json_in_utf8_is_415(intake: Caller, content: bytes, content_type: str | None) -> None:
    headers = intake.headers({"Content-Type": content_type} if content_type else None)
    problem = refused(intake.client.post("/v1/complaints", content=content, headers=headers), 415)
    assert problem["title"] == "Unsupported Media Type"
    assert intake.get("/v1/complaints").json()["items"] == []


def test_a_compressed_body_is_415(intake: Caller) -> None:
    headers = intake.headers({"Content-Type": "application/json", "Content-Encoding": "gzip"})
    refused(intake.client.post("/v1/complaints", content=gzip.compress(REGISTRATION.encode()), headers=headers), 415)


@pytest.mark.parametrize(
    "content_type", ["application/json", "application/json; charset=UTF-8", 'application/json;charset="utf-8"']
)
def test_json_in_utf8_is_read_whatever_the_spelling_of_its_type(intake: Caller, content_type: str) -> None:
    headers = intake.headers({"Content-Type": content_type})
    response = intake.client.post("/v1/complaints", content=REGISTRATION.encode(), headers=headers)
    assert response.status_code == 201, response.text


def test_a_merge_patch_body_is_json_too(admin: Caller) -> None:
    endpoint = admin.post("/v1/webhook-endpoints", json={"url": "https://93.184.215.14/hooks"}).json()
    headers = admin.headers({"Content-Type": "application/merge-patch+json"})
    response = admin.client.patch(
        f"/v1/webhook-endpoints/{endpoint['id']}", content=b'{"enabled": false}', headers=headers
    )
    assert response.status_code == 200, response.text
    assert response.json()["enabled"] is False


def test_an_empty_body_is_still_a_missing_body_whatever_its_type(handler: Caller, supervisor: Caller) -> None:
    complaint_id = investigating(handler)
    handler.move(
        complaint_id,
        "propose",
        {"remedy": {"kind": "refund", "amount": "300"}, "reply": "全额退款。", "reply_channel": "sms"},
    )
    headers = supervisor.headers({"Content-Type": "text/plain"})
    response = supervisor.client.post(f"/v1/complaints/{complaint_id}/approve", content=b"", headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["state"] == "resolved"


def test_every_operation_that_takes_a_body_documents_415(client: Any) -> None:
    operations = [op for path in client.app.openapi()["paths"].values() for op in path.values()]
    with_body = [op for op in operations if "requestBody" in op]
    assert with_body and all("415" in op["responses"] for op in with_body)
    assert all("415" not in op["responses"] for op in operations if "requestBody" not in op)
