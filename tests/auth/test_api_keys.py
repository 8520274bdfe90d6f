"""API keys: 401 for a missing, malformed, unknown or revoked key; the role matrix; keys kept as SHA-256 only;
the X-Actor header on writes; who did what in the history. On SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

import pytest
from sqlalchemy import text

from app.db import Database
from tests.conftest import Caller, complaint_body
from tests.testclient import TestClient

FEEDBACK = {"cause": "店员未按退货流程操作", "responsible_person": "李四", "responsibility": "staff_fault"}
REFUND = {"remedy": {"kind": "refund", "amount": "300.00"}, "reply": "非常抱歉，全额退款。", "reply_channel": "sms"}
ROLES = ["intake", "handler", "supervisor", "manager", "store", "reporter", "admin"]
STORE = "SZ-FT-012"


def problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status
    assert body["title"]
    return body


def key_of(make_caller: Any, role: str, actor: str | None = None) -> Caller:
    return make_caller(role, store_id=STORE if role == "store" else None, actor=actor or f"{role}-person")


def create_key(admin: Caller, **body: Any) -> dict[str, Any]:
    response = admin.post("/v1/api-keys", json=body)
    assert response.status_code == 201, response.text
    return response.json()


# 401: who is calling is not known.

PROTECTED = [
    ("GET", "/v1/complaints"),
    ("POST", "/v1/complaints"),
    ("GET", "/v1/complaints/{id}"),
    ("GET", "/v1/complaints/{id}/events"),
    ("POST", "/v1/complaints/{id}/notes"),
    ("POST", "/v1/complaints/{id}/investigate"),
    ("POST", "/v1/complaints/{id}/approve"),
    ("GET", "/v1/workflow"),
    ("GET", "/v1/api-keys"),
    ("POST", "/v1/api-keys"),
    ("DELETE", "/v1/api-keys/{id}"),
]
BAD_AUTHORIZATION = {
    "missing": None,
    "empty": "",
    "basic-scheme": "Basic YWRtaW46YWRtaW4=",
    "bearer-without-key": "Bearer",
    "bearer-blank": "Bearer    ",
    "key-without-scheme": "tsk_abcdefghijklmnopqrstuvwxyz0123456789ABCDEF",
    "unknown-key": "Bearer tsk_abcdefghijklmnopqrstuvwxyz0123456789ABCDEF",
    "not-a-key": "Bearer hello",
}


def call(client: TestClient, method: str, path: str, headers: dict[str, str], body: Any = None) -> Any:
    return client.request(method, path, headers=headers, json=body)


def assert_unauthorized(response: Any) -> None:
    body = problem(response, 401)
    assert body["type"].endswith("/unauthorized")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("authorization", BAD_AUTHORIZATION.values(), ids=BAD_AUTHORIZATION.keys())
@pytest.mark.parametrize(("method", "path"), PROTECTED, ids=[f"{m} {p}" for m, p in PROTECTED])
def test_without_a_good_key_every_endpoint_is_401(
    client: TestClient, handler: Caller, method: str, path: str, authorization: str | None
) -> None:
    complaint = handler.register()
    headers = {"X-Actor": "agent-0042"}
    if authorization is not None:
        headers["Authorization"] = authorization
    body = {"name": "x", "role": "admin"} if path == "/v1/api-keys" else complaint_body()
    response = call(client, method, path.format(id=complaint["id"]), headers, body)
    assert_unauthorized(response)
    assert handler.get("/v1/complaints").json()["items"][0]["version"] == 1


@pytest.mark.parametrize(
    "body", [complaint_body(), {"complainant": {"name": "张三"}}, {}], ids=["valid", "incomplete", "empty"]
)
def test_401_comes_before_the_x_actor_check_and_the_body(client: TestClient, body: dict[str, Any]) -> None:
    """No key, no X-Actor, whatever the body: the answer is 401, not a 422 that describes the schema."""
    assert_unauthorized(client.post("/v1/complaints", json=body))
    assert_unauthorized(client.post("/v1/complaints", json=body, headers={"Authorization": "Bearer tsk_nope"}))


def test_a_revoked_key_is_401_at_once(admin: Caller) -> None:
    created = create_key(admin, name="呼叫中心 CRM", role="handler")
    crm = Caller(admin.client, created["key"], "agent-0042")
    assert crm.get("/v1/complaints").status_code == 200
    complaint = crm.register()
    revoked = admin.delete(f"/v1/api-keys/{created['id']}")
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["revoked_at"] is not None
    assert_unauthorized(crm.get("/v1/complaints"))
    assert_unauthorized(crm.get(f"/v1/complaints/{complaint['id']}"))
    assert_unauthorized(crm.post("/v1/complaints", json=complaint_body()))
    assert_unauthorized(crm.post(f"/v1/complaints/{complaint['id']}/investigate", json={"store_id": STORE}))
    assert admin.get(f"/v1/complaints/{complaint['id']}").json()["state"] == "accepted"


def test_a_revoked_admin_key_cannot_issue_keys(admin: Caller, make_caller: Any) -> None:
    other_admin = make_caller("admin", actor="admin-02")
    created = create_key(admin, name="第二管理员", role="admin")
    second = Caller(admin.client, created["key"], "admin-03")
    assert second.get("/v1/api-keys").status_code == 200
    other_admin.delete(f"/v1/api-keys/{created['id']}")
    assert_unauthorized(second.post("/v1/api-keys", json={"name": "偷偷的", "role": "admin"}))
    names = [k["name"] for k in other_admin.get("/v1/api-keys").json()]
    assert "偷偷的" not in names


def test_a_key_with_one_character_changed_is_401(admin: Caller) -> None:
    created = create_key(admin, name="呼叫中心 CRM", role="handler")
    secret = created["key"]
    tampered = secret[:-1] + ("A" if secret[-1] != "A" else "B")
    assert_unauthorized(Caller(admin.client, tampered).get("/v1/complaints"))
    assert_unauthorized(Caller(admin.client, secret.upper()).get("/v1/complaints"))
    assert_unauthorized(Caller(admin.client, created["prefix"]).get("/v1/complaints"))


def test_health_needs_no_key(client: TestClient) -> None:
    assert client.get("/healthz").status_code == 200


# The role matrix.


def outcome(response: Any) -> int:
    if response.status_code >= 400:
        assert response.headers["content-type"] == "application/problem+json", response.text
    return response.status_code


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        ("intake", 201),
        ("handler", 201),
        ("supervisor", 201),
        ("manager", 201),
        ("store", 403),
        ("reporter", 403),
        ("admin", 201),
    ],
)
def test_register(make_caller: Any, handler: Caller, role: str, expected: int) -> None:
    caller = key_of(make_caller, role)
    assert outcome(caller.post("/v1/complaints", json=complaint_body())) == expected
    assert len(handler.get("/v1/complaints").json()["items"]) == (1 if expected == 201 else 0)


@pytest.mark.parametrize("role", ROLES)
def test_read(make_caller: Any, handler: Caller, role: str) -> None:
    complaint = handler.register()
    handler.move(complaint["id"], "investigate", {"store_id": STORE})
    caller = key_of(make_caller, role)
    client = caller.client
    headers = {"Authorization": f"Bearer {caller.key}"}  # reads need no X-Actor
    one = client.get(f"/v1/complaints/{complaint['id']}", headers=headers)
    assert one.status_code == 200, one.text
    assert one.json()["id"] == complaint["id"]
    page = client.get("/v1/complaints", headers=headers)
    assert [item["id"] for item in page.json()["items"]] == [complaint["id"]]
    events = client.get(f"/v1/complaints/{complaint['id']}/events", headers=headers)
    assert [e["move"] for e in events.json()] == ["register", "investigate"]
    assert client.get("/v1/workflow", headers=headers).status_code == 200


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        ("intake", 201),
        ("handler", 201),
        ("supervisor", 201),
        ("manager", 201),
        ("store", 403),
        ("reporter", 403),
        ("admin", 201),
    ],
)
def test_notes(make_caller: Any, handler: Caller, role: str, expected: int) -> None:
    complaint = handler.register()
    handler.move(complaint["id"], "investigate", {"store_id": STORE})
    caller = key_of(make_caller, role)
    assert outcome(caller.post(f"/v1/complaints/{complaint['id']}/notes", json={"text": "客户来电催促"})) == expected
    moves = [e["move"] for e in handler.get(f"/v1/complaints/{complaint['id']}/events").json()]
    assert moves == ["register", "investigate"] + (["note"] if expected == 201 else [])


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        ("intake", 403),
        ("handler", 200),
        ("supervisor", 200),
        ("manager", 200),
        ("store", 403),
        ("reporter", 403),
        ("admin", 200),
    ],
)
def test_moves(make_caller: Any, handler: Caller, role: str, expected: int) -> None:
    complaint = handler.register()
    complaint = handler.move(complaint["id"], "investigate", {"store_id": STORE})
    caller = key_of(make_caller, role)
    assert outcome(caller.post(f"/v1/complaints/{complaint['id']}/propose", json=REFUND)) == expected
    after = handler.get(f"/v1/complaints/{complaint['id']}").json()
    assert after["state"] == ("awaiting_approval" if expected == 200 else "investigating")
    assert after["version"] == complaint["version"] + (1 if expected == 200 else 0)


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        ("intake", 403),
        ("handler", 200),
        ("supervisor", 200),
        ("manager", 200),
        ("store", 200),
        ("reporter", 403),
        ("admin", 200),
    ],
)
def test_store_feedback(make_caller: Any, handler: Caller, role: str, expected: int) -> None:
    complaint = handler.register()
    complaint = handler.move(complaint["id"], "investigate", {"store_id": STORE})
    caller = key_of(make_caller, role)
    assert outcome(caller.post(f"/v1/complaints/{complaint['id']}/store-feedback", json=FEEDBACK)) == expected
    after = handler.get(f"/v1/complaints/{complaint['id']}").json()
    assert after["responsibility"] == ("staff_fault" if expected == 200 else None)


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        ("intake", 403),
        ("handler", 403),
        ("supervisor", 200),
        ("manager", 200),
        ("store", 403),
        ("reporter", 403),
        ("admin", 200),
    ],
)
def test_approve(make_caller: Any, handler: Caller, role: str, expected: int) -> None:
    complaint = handler.register()
    handler.move(complaint["id"], "investigate", {"store_id": STORE})
    handler.move(complaint["id"], "propose", REFUND)
    caller = key_of(make_caller, role, actor=f"approver-{role}")
    assert outcome(caller.post(f"/v1/complaints/{complaint['id']}/approve", json={})) == expected
    after = handler.get(f"/v1/complaints/{complaint['id']}").json()
    assert after["state"] == ("resolved" if expected == 200 else "awaiting_approval")
    assert after["approved_by"] == (f"approver-{role}" if expected == 200 else None)


@pytest.mark.parametrize("role", ROLES)
def test_api_keys_are_for_admins_only(make_caller: Any, admin: Caller, role: str) -> None:
    caller = key_of(make_caller, role)
    target = create_key(admin, name="目标", role="reporter")
    listed = caller.get("/v1/api-keys")
    created = caller.post("/v1/api-keys", json={"name": "新钥匙", "role": "admin"})
    revoked = caller.delete(f"/v1/api-keys/{target['id']}")
    if role == "admin":
        assert (listed.status_code, created.status_code, revoked.status_code) == (200, 201, 200)
        return
    for response in (listed, created, revoked):
        body = problem(response, 403)
        assert body["allowed_roles"] == ["admin"]
    names = {k["name"]: k["revoked_at"] for k in admin.get("/v1/api-keys").json()}
    assert "新钥匙" not in names
    assert names["目标"] is None, "the target key must still work"
    assert Caller(admin.client, target["key"]).get("/v1/complaints").status_code == 200


FORBIDDEN_CASES = [
    ("reporter", "POST", "/v1/complaints", complaint_body()),
    ("store", "POST", "/v1/complaints", complaint_body()),
    ("reporter", "POST", "/v1/complaints/{id}/notes", {"text": "x"}),
    ("intake", "POST", "/v1/complaints/{id}/propose", REFUND),
    ("handler", "POST", "/v1/complaints/{id}/approve", {}),
    ("handler", "GET", "/v1/api-keys", None),
]


@pytest.mark.parametrize(
    ("role", "method", "path", "body"), FORBIDDEN_CASES, ids=[f"{c[0]}-{c[1]} {c[2]}" for c in FORBIDDEN_CASES]
)
def test_a_403_names_the_roles_that_may(
    make_caller: Any, handler: Caller, role: str, method: str, path: str, body: Any
) -> None:
    """docs/integrators.md: a 403 carries ``allowed_roles``."""
    complaint = handler.register()
    handler.move(complaint["id"], "investigate", {"store_id": STORE})
    if path.endswith("approve"):
        handler.move(complaint["id"], "propose", REFUND)
    caller = key_of(make_caller, role)
    response = caller.client.request(method, path.format(id=complaint["id"]), headers=caller.headers(), json=body)
    refused = problem(response, 403)
    assert refused["type"].endswith("/forbidden")
    assert isinstance(refused.get("allowed_roles"), list), refused
    assert refused["allowed_roles"] and role not in refused["allowed_roles"]


# Keys are kept as SHA-256 only, and shown once.


def stored_keys(db: Database) -> list[dict[str, Any]]:
    with db.readers() as session:
        return [dict(row._mapping) for row in session.execute(text("SELECT * FROM api_keys"))]


def test_a_key_is_stored_as_its_sha256_only(admin: Caller, db: Database) -> None:
    created = create_key(admin, name="福田店", role="store", store_id=STORE)
    secret = created["key"]
    assert secret.startswith("tsk_") and len(secret) >= 40
    rows = stored_keys(db)
    (row,) = [r for r in rows if str(r["id"]).replace("-", "") == created["id"].replace("-", "")]
    assert row["secret_hash"] == hashlib.sha256(secret.encode()).hexdigest()
    assert row["prefix"] == created["prefix"] == secret[:12]
    for stored in rows:
        for value in stored.values():
            assert secret not in str(value)
            assert secret[12:] not in str(value), "the secret part beyond the prefix is never stored"


def test_keys_made_by_the_fixtures_are_hashed_too(make_caller: Any, db: Database) -> None:
    secrets = [key_of(make_caller, role).key for role in ROLES]
    dump = repr(stored_keys(db))
    for secret in secrets:
        assert secret not in dump
        assert hashlib.sha256(secret.encode()).hexdigest() in dump


def test_the_key_is_shown_once_and_never_listed(admin: Caller) -> None:
    created = create_key(admin, name="呼叫中心 CRM", role="handler")
    secret = created["key"]
    assert set(created) == {
        "id",
        "name",
        "role",
        "store_id",
        "department",
        "prefix",
        "created_at",
        "created_by",
        "revoked_at",
        "key",
    }
    assert created["created_by"] == "admin-01"
    for params in ({}, {"include_revoked": "true"}):
        listing = admin.get("/v1/api-keys", params=params)
        assert listing.status_code == 200
        assert secret not in listing.text
        assert secret[12:] not in listing.text
        (mine,) = [k for k in listing.json() if k["id"] == created["id"]]
        assert "key" not in mine
        assert mine == {k: v for k, v in created.items() if k != "key"}
    revoked = admin.delete(f"/v1/api-keys/{created['id']}")
    assert secret not in revoked.text and "key" not in revoked.json()
    assert created["id"] not in [k["id"] for k in admin.get("/v1/api-keys").json()]
    assert created["id"] in [k["id"] for k in admin.get("/v1/api-keys", params={"include_revoked": "true"}).json()]


def test_a_created_key_works_with_its_role(admin: Caller) -> None:
    reporter = Caller(admin.client, create_key(admin, name="报表", role="reporter")["key"])
    assert reporter.get("/v1/complaints").status_code == 200
    problem(reporter.post("/v1/complaints", json=complaint_body()), 403)


@pytest.mark.parametrize(
    "body",
    [
        {"name": "门店", "role": "store"},
        {"name": "坐席", "role": "handler", "store_id": STORE},
        {"name": "x", "role": "owner"},
        {"name": "", "role": "handler"},
        {"name": "门店", "role": "store", "store_id": "SZ FT/012"},
        {"name": "x", "role": "handler", "secret_hash": "0" * 64},
    ],
)
def test_a_bad_key_request_is_422_and_issues_nothing(admin: Caller, db: Database, body: dict[str, Any]) -> None:
    before = len(stored_keys(db))
    problem(admin.post("/v1/api-keys", json=body), 422)
    assert len(stored_keys(db)) == before


def test_revoking_an_unknown_key_is_404(admin: Caller) -> None:
    body = problem(admin.delete(f"/v1/api-keys/{uuid.uuid4()}"), 404)
    assert body["type"].endswith("/not-found")


# X-Actor on writes.

WRITES = [
    ("/v1/complaints", "register"),
    ("/v1/complaints/{id}/notes", "notes"),
    ("/v1/complaints/{id}/investigate", "move"),
    ("/v1/api-keys", "api-keys"),
]
WRITE_BODIES = {
    "register": complaint_body(),
    "notes": {"text": "备注"},
    "move": {"store_id": STORE},
    "api-keys": {"name": "新钥匙", "role": "reporter"},
}


def write_state(admin: Caller, complaint_id: str) -> tuple[int, int, int]:
    complaints = admin.get("/v1/complaints").json()["items"]
    events = admin.get(f"/v1/complaints/{complaint_id}/events").json()
    return len(complaints), len(events), len(admin.get("/v1/api-keys").json())


BAD_ACTORS = {
    "missing": None,
    "empty": "",
    "blank": "   ",
    "newline-encoded": "agent%0A0042",
    "nul-encoded": "agent%000042",
    "bell-encoded": "%07",
    "escape-encoded": "agent%1B[31m",
    "invalid-utf8": "%FF%FE",
    "too-long": "a" * 101,
    "too-long-encoded": "%E5%BC%A0" * 101,
}


@pytest.mark.parametrize("actor", BAD_ACTORS.values(), ids=BAD_ACTORS.keys())
@pytest.mark.parametrize(("path", "kind"), WRITES, ids=[w[1] for w in WRITES])
def test_a_write_without_a_proper_actor_is_422(admin: Caller, path: str, kind: str, actor: str | None) -> None:
    complaint = admin.register()
    before = write_state(admin, complaint["id"])
    headers = {"Authorization": f"Bearer {admin.key}"}
    if actor is not None:
        headers["X-Actor"] = actor
    response = admin.client.post(path.format(id=complaint["id"]), headers=headers, json=WRITE_BODIES[kind])
    problem(response, 422)
    assert "X-Actor" in response.text
    if actor:
        assert actor not in response.text or len(actor) < 4
    assert write_state(admin, complaint["id"]) == before


def test_the_delete_of_a_key_needs_an_actor(admin: Caller) -> None:
    created = create_key(admin, name="目标", role="reporter")
    response = admin.client.delete(f"/v1/api-keys/{created['id']}", headers={"Authorization": f"Bearer {admin.key}"})
    problem(response, 422)
    assert Caller(admin.client, created["key"]).get("/v1/complaints").status_code == 200


@pytest.mark.parametrize(
    ("header", "stored"),
    [
        ("a" * 100, "a" * 100),
        ("%E5%BC%A0%E4%B8%89", "张三"),
        ("  agent-0042  ", "agent-0042"),
        ("%E5%BC%A0" * 100, "张" * 100),
        ("agent 0042 (night shift)", "agent 0042 (night shift)"),
    ],
    ids=["100-chars", "percent-encoded", "padded", "100-chinese", "spaces"],
)
def test_a_proper_actor_is_kept_decoded(handler: Caller, header: str, stored: str) -> None:
    response = handler.client.post(
        "/v1/complaints", headers={"Authorization": f"Bearer {handler.key}", "X-Actor": header}, json=complaint_body()
    )
    assert response.status_code == 201, response.text
    assert response.json()["owner"] == stored
    (event,) = handler.get(f"/v1/complaints/{response.json()['id']}/events").json()
    assert event["actor"] == stored


def test_reads_need_no_actor(handler: Caller) -> None:
    complaint = handler.register()
    headers = {"Authorization": f"Bearer {handler.key}"}
    assert handler.client.get("/v1/complaints", headers=headers).status_code == 200
    assert handler.client.get(f"/v1/complaints/{complaint['id']}", headers=headers).status_code == 200
    assert handler.client.get(f"/v1/complaints/{complaint['id']}/events", headers=headers).status_code == 200


# Who did what.


def test_history_keeps_the_actor_and_the_key(admin: Caller) -> None:
    crm = create_key(admin, name="呼叫中心 CRM", role="handler")
    boss = create_key(admin, name="客服主管", role="supervisor")
    shop = create_key(admin, name="福田店", role="store", store_id=STORE)
    agent = Caller(admin.client, crm["key"], "坐席0042")
    other_agent = agent.as_actor("坐席0099")
    supervisor = Caller(admin.client, boss["key"], "主管03")
    store = Caller(admin.client, shop["key"], "店长王五")

    complaint = agent.register()
    other_agent.move(complaint["id"], "investigate", {"store_id": STORE})
    store.move(complaint["id"], "store-feedback", FEEDBACK)
    response = other_agent.post(f"/v1/complaints/{complaint['id']}/notes", json={"text": "已联系门店"})
    assert response.status_code == 201, response.text
    agent.move(complaint["id"], "propose", REFUND)
    supervisor.move(complaint["id"], "approve", {})

    events = admin.get(f"/v1/complaints/{complaint['id']}/events").json()
    assert [(e["move"], e["actor"], e["api_key_id"]) for e in events] == [
        ("register", "坐席0042", crm["id"]),
        ("investigate", "坐席0099", crm["id"]),
        ("store-feedback", "店长王五", shop["id"]),
        ("note", "坐席0099", crm["id"]),
        ("propose", "坐席0042", crm["id"]),
        ("approve", "主管03", boss["id"]),
    ]
    final = admin.get(f"/v1/complaints/{complaint['id']}").json()
    assert final["owner"] == "坐席0042"
    assert final["proposed_by"] == "坐席0042" and final["approved_by"] == "主管03"


def test_history_keeps_the_key_after_it_is_revoked(admin: Caller) -> None:
    crm = create_key(admin, name="呼叫中心 CRM", role="handler")
    agent = Caller(admin.client, crm["key"], "坐席0042")
    complaint = agent.register()
    admin.delete(f"/v1/api-keys/{crm['id']}")
    (event,) = admin.get(f"/v1/complaints/{complaint['id']}/events").json()
    assert (event["actor"], event["api_key_id"]) == ("坐席0042", crm["id"])
