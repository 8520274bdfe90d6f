"""Every error is application/problem+json (RFC 9457): FastAPI's own 404, 405 and 422, ours, and a 500 that tells
the client nothing but an error id. On SQLite and PostgreSQL."""

from __future__ import annotations

import logging
import re
from typing import Any

import pytest
from sqlalchemy import text

from app.config import Settings
from app.db import utcnow
from app.dependencies import WriteSession
from app.main import create_app
from tests.conftest import Caller, complaint_body
from tests.testclient import TestClient

PROBLEM_JSON = "application/problem+json"
MARKER = "LEAK-7f3a9c-李秘密"
REFUND = {"remedy": {"kind": "refund", "amount": "300.00"}, "reply": "非常抱歉，全额退款。", "reply_channel": "sms"}
APOLOGY = {"remedy": {"kind": "apology"}, "reply": "非常抱歉给您带来不便。", "reply_channel": "sms"}
FEEDBACK = {"cause": "店员未按退货流程操作", "responsible_person": "李四", "responsibility": "staff_fault"}


def problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    body = response.json()
    assert body["status"] == status
    assert isinstance(body["type"], str) and body["type"]
    assert isinstance(body["title"], str) and body["title"]
    return body


# Routing: FastAPI's own 404 and 405.


@pytest.mark.parametrize("path", ["/nope", "/v1/nope", "/v1/complaints/1/2/3", "/v2/complaints"])
def test_an_unknown_route_is_a_problem_404(client: TestClient, path: str) -> None:
    body = problem(client.get(path), 404)
    assert body["title"] == "Not Found"
    assert body["type"] == "about:blank"


def test_an_unknown_route_is_404_with_a_key_too(handler: Caller) -> None:
    problem(handler.get("/v1/complaint"), 404)
    problem(handler.post("/v1/complaints/00000000-0000-0000-0000-000000000000/call-the-police", json={}), 404)


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("DELETE", "/v1/complaints", {"GET", "POST"}),
        ("PUT", "/v1/complaints/{id}", {"GET", "PATCH"}),
        ("GET", "/v1/complaints/{id}/reject", {"POST"}),
        ("PATCH", "/v1/api-keys", {"GET", "POST"}),
        ("POST", "/healthz", {"GET"}),
    ],
)
def test_a_wrong_method_is_a_problem_405_with_allow(handler: Caller, method: str, path: str, allowed: set[str]) -> None:
    complaint = handler.register()
    response = handler.client.request(method, path.format(id=complaint["id"]), headers=handler.headers())
    body = problem(response, 405)
    assert body["title"] == "Method Not Allowed"
    # Starlette names the methods of the first route that matches the path only (POST /v1/complaints has its
    # own route beside GET), so Allow may be a subset of what the path takes; it never names the refused method.
    named = {m.strip() for m in response.headers["Allow"].split(",")}
    assert named and named <= allowed | {"HEAD"}
    assert method not in named
    assert handler.get(f"/v1/complaints/{complaint['id']}").json()["version"] == 1


# Validation: 422 lists the errors, never the input.


def assert_validation_problem(response: Any) -> list[dict[str, Any]]:
    body = problem(response, 422)
    assert body["type"].endswith("/validation")
    assert body["errors"], "a 422 lists what is wrong"
    for error in body["errors"]:
        assert set(error) == {"loc", "msg", "type"}, error
        assert isinstance(error["loc"], list) and error["msg"]
    return body["errors"]


def complainant(**overrides: Any) -> dict[str, Any]:
    return {"name": "张三", "phone": "138 1234 8000", **overrides}


BAD_BODIES = {
    "enum": (complaint_body(channel=MARKER), ["body", "channel"]),
    "too-long": (complaint_body(complainant=complainant(name=MARKER * 20)), ["body", "complainant", "name"]),
    "phone": (complaint_body(complainant=complainant(phone=MARKER)), ["body", "complainant", "phone"]),
    "email": (complaint_body(complainant=complainant(email=MARKER)), ["body", "complainant", "email"]),
    "datetime": (complaint_body(received_at=MARKER), ["body", "received_at"]),
    "naive-datetime": (complaint_body(received_at="2026-11-22T10:15:00"), ["body", "received_at"]),
    "type": (complaint_body(description={"text": MARKER}), ["body", "description"]),
    "control-chars": (complaint_body(description=MARKER + "\x00"), ["body", "description"]),
    "extra-field": (complaint_body(notes=MARKER), ["body", "notes"]),
    "store-pattern": (complaint_body(store_id=MARKER), ["body", "store_id"]),
    "missing": ({"complainant": complainant(phone=MARKER)}, ["body", "channel"]),
}


@pytest.mark.parametrize(("body", "loc"), BAD_BODIES.values(), ids=BAD_BODIES.keys())
def test_a_bad_body_is_422_listing_errors_without_the_input(handler: Caller, body: Any, loc: list[str]) -> None:
    response = handler.post("/v1/complaints", json=body)
    errors = assert_validation_problem(response)
    assert loc in [e["loc"] for e in errors]
    assert MARKER not in response.text
    assert "LEAK-7f3a9c" not in response.text
    assert "李秘密" not in response.json().__repr__()
    assert handler.get("/v1/complaints").json()["items"] == []


def test_a_body_that_is_not_json_is_422_without_the_input(handler: Caller) -> None:
    raw = ('{"complainant": {"name": "' + MARKER + '", "phone": "13812348000"').encode()
    response = handler.post("/v1/complaints", content=raw, headers={"Content-Type": "application/json"})
    errors = assert_validation_problem(response)
    assert errors[0]["type"] == "json_invalid"
    assert "LEAK-7f3a9c" not in response.text


@pytest.mark.parametrize(
    ("move", "body"),
    [
        ("propose", {"remedy": {"kind": "refund", "amount": MARKER}, "reply": "抱歉", "reply_channel": "sms"}),
        ("propose", {"remedy": {"kind": MARKER}, "reply": "抱歉", "reply_channel": "sms"}),
        ("store-feedback", {**FEEDBACK, "responsibility": MARKER}),
        ("store-feedback", {**FEEDBACK, "store_id": MARKER}),
        ("investigate", {"note": MARKER}),
        ("revisit", {"satisfaction": MARKER}),
    ],
)
def test_a_bad_move_body_is_422_without_the_input(handler: Caller, move: str, body: Any) -> None:
    complaint = handler.register()
    handler.move(complaint["id"], "investigate", {"store_id": "SZ-FT-012"})
    response = handler.post(f"/v1/complaints/{complaint['id']}/{move}", json=body)
    assert_validation_problem(response)
    assert "LEAK-7f3a9c" not in response.text
    assert len(handler.get(f"/v1/complaints/{complaint['id']}/events").json()) == 2


@pytest.mark.parametrize(
    "params",
    [
        {"limit": MARKER},
        {"limit": "0"},
        {"limit": "201"},
        {"state": MARKER},
        {"received_from": MARKER},
        {"received_to": "2026-11-22T10:15:00"},
        {"surprise": MARKER},
        {"store_id": MARKER * 10},
        {"phone": MARKER},
    ],
    ids=lambda p: next(iter(p)) + ("-marker" if MARKER in str(p) else ""),
)
def test_a_bad_query_is_422_without_the_input(handler: Caller, params: dict[str, str]) -> None:
    response = handler.get("/v1/complaints", params=params)
    errors = assert_validation_problem(response)
    assert ["query", next(iter(params))] in [e["loc"] for e in errors]
    assert "LEAK-7f3a9c" not in response.text


@pytest.mark.parametrize("params", [{"phone": "+86 123"}, {"cursor": "LEAK-7f3a9c"}])
def test_a_query_refused_by_the_service_is_422_without_the_input(handler: Caller, params: dict[str, str]) -> None:
    response = handler.get("/v1/complaints", params=params)
    body = problem(response, 422)
    assert body["type"].endswith("/invalid-input")
    assert body["field"] == next(iter(params))
    assert next(iter(params.values())) not in response.text


def test_a_malformed_id_is_422_without_the_input(handler: Caller) -> None:
    response = handler.get(f"/v1/complaints/{MARKER}")
    errors = assert_validation_problem(response)
    assert errors[0]["loc"] == ["path", "complaint_id"]
    assert "LEAK-7f3a9c" not in response.text


def test_a_bad_actor_is_422_without_the_input(handler: Caller) -> None:
    response = handler.post(
        "/v1/complaints",
        json=complaint_body(),
        headers={"X-Actor": "LEAK-7f3a9c" * 10},
    )
    body = problem(response, 422)
    assert body["field"] == "X-Actor"
    assert "LEAK-7f3a9c" not in response.text


# 500: nothing but an error id.


def test_an_unhandled_error_is_a_bare_500_with_an_error_id(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(settings)

    @app.get("/v1/boom")
    def boom() -> None:
        raise RuntimeError("password=hunter2 at /srv/tousu/secret.py line 42")

    caplog.set_level(logging.ERROR, logger="tousu.errors")
    with TestClient(app, raise_server_exceptions=False) as client:
        first = client.get("/v1/boom")
        second = client.get("/v1/boom")
    body = problem(first, 500)
    assert set(body) == {"type", "title", "status", "error_id"}
    assert body["type"].endswith("/internal")
    assert re.fullmatch(r"[0-9a-f]{32}", body["error_id"])
    for leak in ("hunter2", "RuntimeError", "secret.py", "Traceback"):
        assert leak not in first.text
    assert problem(second, 500)["error_id"] != body["error_id"]
    logged = [r for r in caplog.records if getattr(r, "error_id", None) == body["error_id"]]
    assert logged, "the log ties the error id to the fault"
    assert logged[0].exc_info is not None and "hunter2" in str(logged[0].exc_info[1])


def test_a_500_in_a_write_changes_nothing(settings: Settings, handler: Caller) -> None:
    """An unhandled error after the handler wrote rolls the request's transaction back."""
    complaint = handler.register()
    app = create_app(settings)

    @app.post("/v1/write-then-boom")
    def write_then_boom(session: WriteSession) -> None:
        session.execute(text("UPDATE complaints SET owner = 'hijacked', updated_at = :now"), {"now": utcnow()})
        session.flush()
        raise RuntimeError("after the write")

    with TestClient(app, raise_server_exceptions=False) as client:
        problem(client.post("/v1/write-then-boom"), 500)
    assert handler.get(f"/v1/complaints/{complaint['id']}").json()["owner"] == "handler-07"


# Refused moves: 409 with the moves that are allowed, or the guard that refused.


def test_an_illegal_move_is_409_with_the_state_and_allowed_moves(handler: Caller, supervisor: Caller) -> None:
    complaint = handler.register()
    body = problem(handler.post(f"/v1/complaints/{complaint['id']}/propose", json=REFUND), 409)
    assert body["type"] == "https://tousu.dev/problems/illegal-move"
    assert body["state"] == "accepted"
    assert body["allowed_moves"] == ["reject", "investigate", "reassign", "escalate"]
    assert "propose" in body["detail"] and "accepted" in body["detail"]

    handler.move(complaint["id"], "investigate", {"store_id": "SZ-FT-012"})
    handler.move(complaint["id"], "propose", REFUND)
    as_handler = problem(handler.post(f"/v1/complaints/{complaint['id']}/resolve", json=APOLOGY), 409)
    as_supervisor = problem(supervisor.post(f"/v1/complaints/{complaint['id']}/resolve", json=APOLOGY), 409)
    assert as_handler["state"] == as_supervisor["state"] == "awaiting_approval"
    assert as_handler["allowed_moves"] == ["send-back", "reassign", "escalate"], "the moves this key may make"
    assert as_supervisor["allowed_moves"] == ["approve", "send-back", "reassign", "escalate"]


def guards_of(caller: Caller, move: str) -> list[str]:
    workflow = caller.get("/v1/workflow").json()
    (described,) = [m for m in workflow["moves"] if m["name"] == move]
    return [g["name"] for g in described["guards"]]


def investigating(handler: Caller) -> dict[str, Any]:
    return handler.move(handler.register()["id"], "investigate", {"store_id": "SZ-FT-012"})


def _resolve_beyond_authority(handler: Caller, supervisor: Caller) -> tuple[Caller, str, str, Any]:
    return handler, investigating(handler)["id"], "resolve", REFUND


def _approve_own_proposal(handler: Caller, supervisor: Caller) -> tuple[Caller, str, str, Any]:
    complaint = investigating(supervisor)
    supervisor.move(complaint["id"], "propose", REFUND)
    return supervisor, complaint["id"], "approve", {}


def _approve_beyond_authority(handler: Caller, supervisor: Caller) -> tuple[Caller, str, str, Any]:
    complaint = investigating(handler)
    handler.move(
        complaint["id"],
        "propose",
        {"remedy": {"kind": "compensation", "amount": "2000.01"}, "reply": "赔偿", "reply_channel": "sms"},
    )
    return supervisor, complaint["id"], "approve", {}


def _feedback_for_another_store(handler: Caller, supervisor: Caller) -> tuple[Caller, str, str, Any]:
    return handler, investigating(handler)["id"], "store-feedback", {**FEEDBACK, "store_id": "GZ-TH-003"}


def _unsatisfied_revisit(handler: Caller, supervisor: Caller) -> tuple[Caller, str, str, Any]:
    complaint = investigating(handler)
    handler.move(complaint["id"], "resolve", APOLOGY)
    return handler, complaint["id"], "revisit", {"satisfaction": "unsatisfied"}


def _reopen_without_a_unit(handler: Caller, supervisor: Caller) -> tuple[Caller, str, str, Any]:
    complaint = handler.register()
    handler.move(complaint["id"], "reject", {"reason": "duplicate", "explanation": "重复投诉"})
    return handler, complaint["id"], "reopen", {"reason": "客户坚持"}


@pytest.mark.parametrize(
    ("setup", "guard", "allowed"),
    [
        (
            _resolve_beyond_authority,
            "within_own_authority",
            ["reject", "store-feedback", "propose", "resolve", "reassign", "escalate"],
        ),
        (_approve_own_proposal, "not_the_proposer", ["approve", "send-back", "reassign", "escalate"]),
        (_approve_beyond_authority, "authority_covers_amount", ["approve", "send-back", "reassign", "escalate"]),
        (
            _feedback_for_another_store,
            "dispatched_store",
            ["reject", "store-feedback", "propose", "resolve", "reassign", "escalate"],
        ),
        (_unsatisfied_revisit, "satisfied_or_neutral", ["call-attempt", "revisit", "reopen", "reassign", "escalate"]),
        (_reopen_without_a_unit, "responsible_unit_named", ["reopen"]),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_a_guard_refusal_is_409_naming_the_guard(
    handler: Caller, supervisor: Caller, setup: Any, guard: str, allowed: list[str]
) -> None:
    caller, complaint_id, move, body = setup(handler, supervisor)
    before = handler.get(f"/v1/complaints/{complaint_id}").json()
    refused = problem(caller.post(f"/v1/complaints/{complaint_id}/{move}", json=body), 409)
    assert refused["type"] == "https://tousu.dev/problems/guard-refused"
    assert refused["guard"] == guard
    assert guard in guards_of(handler, move), "the guard is one the workflow document lists for this move"
    assert refused["allowed_moves"] == allowed
    assert refused["detail"]
    after = handler.get(f"/v1/complaints/{complaint_id}").json()
    assert (after["state"], after["version"]) == (before["state"], before["version"])


# The other statuses are problems too.


def test_401_403_and_404_are_problems(client: TestClient, handler: Caller, make_caller: Any) -> None:
    complaint = handler.register()
    unauthorized = client.get("/v1/complaints")
    assert problem(unauthorized, 401)["type"].endswith("/unauthorized")
    assert unauthorized.headers["WWW-Authenticate"] == 'Bearer realm="tousu"'
    reporter = make_caller("reporter")
    assert problem(reporter.post(f"/v1/complaints/{complaint['id']}/notes", json={"text": "x"}), 403)["type"].endswith(
        "/forbidden"
    )
    missing = "0190f5a4-0000-7000-8000-000000000000"
    assert problem(handler.get(f"/v1/complaints/{missing}"), 404)["type"].endswith("/not-found")
    assert problem(handler.post(f"/v1/complaints/{missing}/reject", json={"reason": "other", "explanation": "x"}), 404)
