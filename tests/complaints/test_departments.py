"""Departments are responsible units like stores (品管, logistics...): a department key sees only the complaints
dispatched to its department, masked, and may only give its feedback; a dispatched department owes its feedback
on its own clock; a webhook endpoint bound to a department gets only that department's complaints, masked; the
summary by department shows the departments' feedback clocks.

Attacks first: distinctive people are planted in complaints of department A, of department B, of store B and in
one dispatched nowhere, and every byte a department-A key (or endpoint) receives is searched for them. Over HTTP,
on SQLite and PostgreSQL.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from app.complaints.sweeper import sweep
from app.config import Settings
from app.db import Database, utcnow
from app.webhooks.dispatcher import Dispatcher
from tests.conftest import Caller, complaint_body
from tests.webhooks.conftest import Receiver, dispatcher, make_receiver, patch, receiver, subscribe

__all__ = ["dispatcher", "make_receiver", "receiver"]  # fixtures of the webhook tests, used here too

DEPT_A, DEPT_B = "品管部", "物流部"
STORE_B = "GZ-TH-003"

# Planted on department A's complaint: its key may see these masked, never whole.
MINE = {"name": "欧阳靖宇", "phone": "13987654321", "email": "jingyu.ouyang@example.org"}
# Planted on the others: department A may see nothing of these, masked or not.
OTHERS = {
    "dept-b": ({"name": "上官飞燕", "phone": "18655556666", "email": "feiyan.shangguan@example.net"}, "DEPT-B-5T2W"),
    "store-b": ({"name": "司马光明", "phone": "15811112222", "email": "guangming.sima@example.net"}, "STORE-B-7Q4Z"),
    "nowhere": ({"name": "诸葛明月", "phone": "13700001234", "email": "mingyue.zhuge@example.com"}, "NOWHERE-3K9P"),
}
FEEDBACK = {"cause": "批次抽检合格，包装破损系运输所致", "responsible_person": "赵六", "responsibility": "third_party"}
REFUND = {"remedy": {"kind": "refund", "amount": "300.00"}, "reply": "非常抱歉，全额退款。", "reply_channel": "sms"}
APOLOGY = {"remedy": {"kind": "apology"}, "reply": "非常抱歉给您带来不便。", "reply_channel": "phone"}
# A department's feedback is due after 3 working days here (the policy file below); a store's keeps its default.
POLICY = '[normal.department_feedback]\nunit = "working_days"\ndue = 3\nwarn = 2\n'


@pytest.fixture(scope="session")
def policy_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("units") / "policy.toml"
    path.write_text(POLICY, encoding="utf-8")
    return path


@pytest.fixture
def settings(database_url: str, policy_file: Path) -> Settings:
    # Webhook receivers listen on loopback; the sweeper and the dispatcher are driven by the tests.
    return Settings(
        database_url=database_url,
        sweep_in_serve=False,
        dispatch_in_serve=False,
        webhook_allow_private=True,
        webhook_timeout_seconds=5,
        sla_policy_file=policy_file,
    )


@pytest.fixture
def department(make_caller: Any) -> Caller:
    return make_caller("department", department=DEPT_A, actor="品管主管钱七")


def quoting(person: dict[str, str], mark: str = "") -> str:
    spaced = f"{person['phone'][:3]} {person['phone'][3:7]} {person['phone'][7:]}"
    return f"客户{person['name']}（电话 {spaced}，邮箱 {person['email']}）反映产品有异物。{mark}"


def spellings(person: dict[str, str]) -> list[str]:
    phone = person["phone"]
    return [person["name"], phone, f"{phone[:3]} {phone[3:7]} {phone[7:]}", person["email"], f"CRM-{phone}"]


def registered(handler: Caller, person: dict[str, str], mark: str = "", **fields: Any) -> dict[str, Any]:
    return handler.register(
        complainant={**person, "customer_ref": f"CRM-{person['phone']}"},
        category="product_quality",
        description=quoting(person, mark),
        customer_request=f"请回电 {person['phone']} {mark}",
        **fields,
    )


def noted(handler: Caller, complaint: dict[str, Any], person: dict[str, str], mark: str = "") -> None:
    for visible in (False, True):
        note = {"text": f"客户 {person['name']} 又来电 {person['phone']} {mark}", "visible_to_unit": visible}
        assert handler.post(f"/v1/complaints/{complaint['id']}/notes", json=note).status_code == 201


@pytest.fixture
def planted(handler: Caller) -> dict[str, dict[str, Any]]:
    """Department A's complaint (about store B as well, dispatched to both); department B's; store B's; and one
    dispatched nowhere. Each noted about internally and openly, each dispatched unit's feedback recorded."""
    found: dict[str, dict[str, Any]] = {}
    mine = registered(handler, MINE, store_id=None, department=DEPT_A)
    handler.move(mine["id"], "investigate", {"department": DEPT_A, "note": f"联系 {MINE['name']}"})
    noted(handler, mine, MINE)
    found["mine"] = mine
    for name, unit in (("dept-b", {"department": DEPT_B}), ("store-b", {"store_id": STORE_B})):
        person, mark = OTHERS[name]
        complaint = registered(handler, person, mark, store_id=STORE_B)
        handler.move(complaint["id"], "investigate", {**unit, "note": f"联系 {person['name']} {mark}"})
        noted(handler, complaint, person, mark)
        handler.move(complaint["id"], "store-feedback", {**FEEDBACK, "cause": f"{FEEDBACK['cause']} {mark}"})
        found[name] = complaint
    person, mark = OTHERS["nowhere"]
    found["nowhere"] = registered(handler, person, mark, store_id=None, department=DEPT_A)
    noted(handler, found["nowhere"], person, mark)
    return {name: handler.get(f"/v1/complaints/{c['id']}").json() for name, c in found.items()}


def leaks(data: bytes, planted: dict[str, dict[str, Any]], asked: str = "") -> list[str]:
    """What of the planted data is in ``data``: anything of another unit's complaint or of the undispatched one
    (but an id the request ``asked`` for), or an unmasked value of department A's own. JSON escapes undone."""
    text = data.decode("utf-8", errors="replace")
    with contextlib.suppress(ValueError):
        text += json.dumps(json.loads(text), ensure_ascii=False)
    wanted = spellings(MINE)
    for name, (person, mark) in OTHERS.items():
        wanted += [*spellings(person), mark, planted[name]["id"], planted[name]["number"]]
    return [value for value in wanted if value in text and value not in asked]


def problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    return body


def report_period() -> dict[str, str]:
    today = date.today()
    return {"from": str(today - timedelta(days=2)), "to": str(today + timedelta(days=2))}


# Keys.


def test_a_department_key_is_issued_bound_to_its_department(admin: Caller) -> None:
    created = admin.post("/v1/api-keys", json={"name": "品管系统", "role": "department", "department": DEPT_A})
    assert created.status_code == 201, created.text
    assert (created.json()["role"], created.json()["department"], created.json()["store_id"]) == (
        "department",
        DEPT_A,
        None,
    )


@pytest.mark.parametrize(
    "body",
    [
        {"role": "department"},
        {"role": "department", "store_id": STORE_B},
        {"role": "handler", "department": DEPT_A},
        {"role": "store", "store_id": STORE_B, "department": DEPT_A},
    ],
    ids=["no-department", "a-store-instead", "handler-with-department", "store-with-department"],
)
def test_a_key_bound_wrongly_is_refused(admin: Caller, body: dict[str, Any]) -> None:
    refused = problem(admin.post("/v1/api-keys", json={"name": "x", **body}), 422)
    assert "department" in refused["detail"] or "store" in refused["detail"]
    listed = admin.get("/v1/api-keys").json()
    assert [key["name"] for key in listed if key["name"] == "x"] == []


def test_a_revoked_department_key_is_refused(admin: Caller, handler: Caller, client: Any) -> None:
    created = admin.post("/v1/api-keys", json={"name": "品管系统", "role": "department", "department": DEPT_A}).json()
    key = Caller(client, created["key"], "品管主管钱七")
    complaint = handler.register(store_id=None, department=DEPT_A)
    handler.move(complaint["id"], "investigate", {"department": DEPT_A})
    assert key.get(f"/v1/complaints/{complaint['id']}").status_code == 200
    assert admin.delete(f"/v1/api-keys/{created['id']}").status_code == 200
    for response in (
        key.get("/v1/complaints"),
        key.get(f"/v1/complaints/{complaint['id']}"),
        key.post(f"/v1/complaints/{complaint['id']}/store-feedback", json=FEEDBACK),
    ):
        problem(response, 401)
    assert [e["move"] for e in handler.get(f"/v1/complaints/{complaint['id']}/events").json()] == [
        "register",
        "investigate",
    ]


# What a department key sees.


def test_the_list_holds_only_the_departments_complaints(
    handler: Caller, department: Caller, planted: dict[str, dict[str, Any]]
) -> None:
    assert len(handler.get("/v1/complaints").json()["items"]) == 4
    response = department.get("/v1/complaints", params={"limit": 200})
    assert response.status_code == 200, response.text
    assert [item["id"] for item in response.json()["items"]] == [planted["mine"]["id"]]
    assert leaks(response.content, planted) == []
    for params in (
        {"state": "investigating"},
        {"state": "accepted"},
        {"store_id": STORE_B},
        {"category": "product_quality"},
    ):
        seen = department.get("/v1/complaints", params=params)
        assert {item["id"] for item in seen.json()["items"]} <= {planted["mine"]["id"]}, params


def test_a_department_key_cannot_search_by_phone(department: Caller, planted: dict[str, dict[str, Any]]) -> None:
    right = problem(department.get("/v1/complaints", params={"phone": MINE["phone"]}), 403)
    wrong = problem(department.get("/v1/complaints", params={"phone": "13900000000"}), 403)
    assert right == wrong
    assert "department key" in right["detail"]


@pytest.mark.parametrize("other", list(OTHERS))
@pytest.mark.parametrize("path", ["", "/events", "/clocks"])
def test_another_units_complaint_is_404(
    department: Caller, planted: dict[str, dict[str, Any]], other: str, path: str
) -> None:
    asked = planted[other]["id"]
    response = department.get(f"/v1/complaints/{asked}{path}")
    assert problem(response, 404)["type"].endswith("/not-found")
    assert leaks(response.content, planted, asked=asked) == []


@pytest.mark.parametrize("path", ["", "/events", "/clocks"])
def test_its_own_complaint_is_seen_masked_in_every_byte(
    department: Caller, planted: dict[str, dict[str, Any]], path: str
) -> None:
    response = department.get(f"/v1/complaints/{planted['mine']['id']}{path}")
    assert response.status_code == 200, response.text
    assert leaks(response.content, planted) == []
    if path == "":
        seen = response.json()
        assert seen["complainant"]["phone"] == "139****4321"
        assert seen["complainant"]["customer_ref"] is None
        assert seen["allowed_moves"] == ["store-feedback"]
        assert seen["responsible_department"] == DEPT_A
    if path == "/events":
        moves = [entry["move"] for entry in response.json()]
        assert moves == ["register", "investigate", "note"], "the visible note only, not the internal one"


def test_earlier_complaints_count_only_its_own(handler: Caller, department: Caller) -> None:
    """The same phone complained to department B first: department A is not told of it, not even its number."""
    theirs = registered(handler, MINE, store_id=None, department=DEPT_B)
    handler.move(theirs["id"], "investigate", {"department": DEPT_B})
    mine = registered(handler, MINE, store_id=None, department=DEPT_A)
    handler.move(mine["id"], "investigate", {"department": DEPT_A})
    assert handler.get(f"/v1/complaints/{mine['id']}").json()["earlier_complaints"]["count"] == 1
    response = department.get(f"/v1/complaints/{mine['id']}")
    assert response.json()["earlier_complaints"] == {"count": 0, "last": None}
    assert theirs["id"] not in response.text and theirs["number"] not in response.text


def test_the_summary_and_its_csv_hold_only_its_own(department: Caller, planted: dict[str, dict[str, Any]]) -> None:
    for group_by in ("department", "store", "category"):
        params = {**report_period(), "group_by": group_by}
        summary = department.get("/v1/reports/summary", params=params)
        assert summary.status_code == 200, summary.text
        assert summary.json()["total"]["received"] == 1
        assert leaks(summary.content, planted) == []
        csv = department.get("/v1/reports/summary", params=params, headers={"Accept": "text/csv"})
        assert csv.status_code == 200, csv.text
        assert leaks(csv.content, planted) == []
    by_department = department.get("/v1/reports/summary", params={**report_period(), "group_by": "department"})
    assert [row["group"] for row in by_department.json()["groups"]] == [DEPT_A]


# What a department key may do.


def test_it_gives_its_feedback_and_meets_its_clock(handler: Caller, department: Caller) -> None:
    complaint = registered(handler, MINE, store_id=None, department=DEPT_A)
    dispatched = handler.move(complaint["id"], "investigate", {"department": DEPT_A})
    (clock,) = [c for c in dispatched["clocks"] if c["kind"] == "store_feedback"]
    assert (clock["department"], clock["store_id"]) == (DEPT_A, None)
    assert clock["target"] == "3 working days, warning after 2", "the department's target from the policy file"
    after = department.move(complaint["id"], "store-feedback", FEEDBACK)
    assert after["state"] == "investigating" and after["responsibility"] == "third_party"
    assert after["complainant"]["phone"] == "139****4321", "the answer to its move is masked too"
    (clock,) = [c for c in after["clocks"] if c["kind"] == "store_feedback"]
    assert clock["state"] == "met"
    entry = handler.get(f"/v1/complaints/{complaint['id']}/events").json()[-1]
    assert (entry["move"], entry["actor"], entry["payload"]["department"]) == ("store-feedback", "品管主管钱七", DEPT_A)
    assert "store_id" not in entry["payload"]
    explained = department.get(f"/v1/complaints/{complaint['id']}/clocks").json()
    assert [(c["kind"], c["state"]) for c in explained] == [("written_reply", "running"), ("store_feedback", "met")]


def test_a_stores_target_is_unchanged_by_the_departments(handler: Caller) -> None:
    complaint = handler.register(store_id=STORE_B)
    dispatched = handler.move(complaint["id"], "investigate", {"store_id": STORE_B})
    (clock,) = [c for c in dispatched["clocks"] if c["kind"] == "store_feedback"]
    assert (clock["store_id"], clock["department"], clock["target"]) == (
        STORE_B,
        None,
        "2 working days, warning after 1",
    )


@pytest.mark.parametrize(
    ("unit", "field"),
    [({"department": DEPT_B}, "department"), ({"store_id": STORE_B}, "store_id")],
    ids=["another-department", "a-store"],
)
def test_its_feedback_for_another_unit_is_refused(
    handler: Caller, department: Caller, unit: dict[str, str], field: str
) -> None:
    complaint = handler.register(store_id=STORE_B, department=DEPT_A)
    handler.move(complaint["id"], "investigate", {"store_id": STORE_B, "department": DEPT_A})
    before = handler.get(f"/v1/complaints/{complaint['id']}").json()
    refused = problem(
        department.post(f"/v1/complaints/{complaint['id']}/store-feedback", json={**FEEDBACK, **unit}), 403
    )
    assert refused["type"].endswith("/not-own-unit")
    assert refused["field"] == field
    assert handler.get(f"/v1/complaints/{complaint['id']}").json()["version"] == before["version"]


OTHER_MOVES: list[tuple[str, dict[str, Any], str]] = [
    ("reject", {"reason": "misunderstanding", "explanation": "经实地调查，投诉不成立。"}, "investigating"),
    ("investigate", {"department": DEPT_A}, "accepted"),
    ("propose", REFUND, "investigating"),
    ("resolve", APOLOGY, "investigating"),
    ("approve", {"reply": "已退款"}, "awaiting_approval"),
    ("send-back", {"reason": "请重新协商"}, "awaiting_approval"),
    ("revisit", {"satisfaction": "satisfied"}, "resolved"),
    ("reopen", {"reason": "客户仍不满意", "department": DEPT_A}, "resolved"),
]


@pytest.mark.parametrize(("move", "body", "state"), OTHER_MOVES, ids=[m[0] for m in OTHER_MOVES])
def test_it_may_make_no_other_move(
    handler: Caller, department: Caller, move: str, body: dict[str, Any], state: str
) -> None:
    """On its own complaint, in a state where the move is legal (investigate: dispatched to it, then refused as
    a role before its state is looked at)."""
    complaint = handler.register(store_id=None, department=DEPT_A)
    handler.move(complaint["id"], "investigate", {"department": DEPT_A})
    if state == "awaiting_approval":
        handler.move(complaint["id"], "propose", REFUND)
    if state == "resolved":
        handler.move(complaint["id"], "resolve", APOLOGY)
    before = handler.get(f"/v1/complaints/{complaint['id']}/events").json()
    refused = problem(department.post(f"/v1/complaints/{complaint['id']}/{move}", json=body), 403)
    assert refused["type"].endswith("/forbidden")
    assert "department" not in refused["allowed_roles"] and refused["allowed_roles"]
    assert handler.get(f"/v1/complaints/{complaint['id']}/events").json() == before
    problem(department.post(f"/v1/complaints/{complaint['id']}/notes", json={"text": "部门备注"}), 403)
    refused = problem(department.post("/v1/complaints", json=complaint_body(store_id=None, department=DEPT_A)), 403)
    assert "department" not in refused["allowed_roles"]


# Dispatched to a store and a department at once: each owes its own feedback.


def test_each_unit_of_a_double_dispatch_has_its_own_clock(
    handler: Caller, department: Caller, make_caller: Any
) -> None:
    store = make_caller("store", store_id=STORE_B, actor="店长王五")
    complaint = handler.register(store_id=STORE_B, department=DEPT_A)
    both = handler.move(complaint["id"], "investigate", {"store_id": STORE_B, "department": DEPT_A})
    feedback = sorted(
        (c["store_id"] or "", c["department"] or "") for c in both["clocks"] if c["kind"] == "store_feedback"
    )
    assert feedback == [("", DEPT_A), (STORE_B, "")]

    refused = problem(handler.post(f"/v1/complaints/{complaint['id']}/store-feedback", json=FEEDBACK), 409)
    assert (refused["guard"], refused["detail"]) == (
        "dispatched_store",
        f"the complaint was dispatched to store {STORE_B} and department {DEPT_A}: name the unit",
    )
    problem(
        handler.post(
            f"/v1/complaints/{complaint['id']}/store-feedback",
            json={**FEEDBACK, "store_id": STORE_B, "department": DEPT_A},
        ),
        422,
    )

    store.move(complaint["id"], "store-feedback", FEEDBACK)
    seen = department.get(f"/v1/complaints/{complaint['id']}").json()
    assert [(c["department"], c["state"]) for c in seen["clocks"] if c["kind"] == "store_feedback"] == [
        (DEPT_A, "running")
    ], "the store's feedback meets the store's clock only, and a department sees no store's clock"
    history = department.get(f"/v1/complaints/{complaint['id']}/events").json()
    assert [e["move"] for e in history] == ["register", "investigate"], "no other unit's feedback"

    department.move(complaint["id"], "store-feedback", FEEDBACK)
    everything = handler.get(f"/v1/complaints/{complaint['id']}").json()["clocks"]
    assert sorted(
        (c["store_id"] or c["department"], c["state"]) for c in everything if c["kind"] == "store_feedback"
    ) == [
        (STORE_B, "met"),
        (DEPT_A, "met"),
    ]


def test_a_redispatch_takes_the_complaint_from_the_department(handler: Caller, department: Caller) -> None:
    complaint = handler.register(store_id=None, department=DEPT_A)
    handler.move(complaint["id"], "investigate", {"department": DEPT_A})
    handler.move(complaint["id"], "resolve", APOLOGY)
    handler.move(complaint["id"], "reopen", {"reason": "实为物流责任", "department": DEPT_B})
    problem(department.get(f"/v1/complaints/{complaint['id']}"), 404)
    problem(department.post(f"/v1/complaints/{complaint['id']}/store-feedback", json=FEEDBACK), 404)
    clocks = handler.get(f"/v1/complaints/{complaint['id']}").json()["clocks"]
    feedback = [(c["department"], c["state"]) for c in clocks if c["kind"] == "store_feedback"]
    assert feedback == [(DEPT_A, "cancelled"), (DEPT_B, "running")]


# Webhooks.


def test_a_department_endpoint_gets_only_its_departments_complaints_masked(
    admin: Caller,
    handler: Caller,
    supervisor: Caller,
    make_receiver: Callable[[], Receiver],
    dispatcher: Dispatcher,
    db: Database,
) -> None:
    """A whole life with a breached feedback clock, searched byte by byte for the planted people."""
    mine_system, store_system = make_receiver(), make_receiver()
    endpoint = subscribe(admin, mine_system, department=DEPT_A)
    assert (endpoint["department"], endpoint["store_id"]) == (DEPT_A, None)
    subscribe(admin, store_system, store_id=STORE_B)
    planted = plant_for_webhooks(handler)
    late = registered(handler, MINE, store_id=None, department=DEPT_A)
    handler.move(late["id"], "investigate", {"department": DEPT_A})  # no feedback: its clock is breached
    sweep(db, utcnow() + timedelta(days=30))
    for name in ("mine", "dept-b", "store-b"):
        handler.move(planted[name]["id"], "propose", REFUND)
        supervisor.move(planted[name]["id"], "approve", {"reply": f"{planted[name]['number']} 已退款"})
    dispatcher.once()

    assert {"complaint.dispatched", "complaint.store_feedback_received", "sla.breached", "complaint.resolved"} <= set(
        mine_system.types()
    )
    ids = {message["data"]["complaint"]["id"] for message in (r.json() for r in mine_system.received)}
    assert ids == {planted["mine"]["id"], late["id"]}
    for received in mine_system.received:
        assert leaks(received.body, planted) == [], received.json()["type"]
        shown = received.json()["data"]["complaint"]
        assert shown["complainant"]["phone"] == "139****4321"
        assert all(c["store_id"] is None for c in shown["clocks"])
    breached = [m for m in mine_system.of_type("sla.breached")]
    assert breached and all(m["data"]["detail"]["department"] == DEPT_A for m in breached)
    store_ids = {r.json()["data"]["complaint"]["id"] for r in store_system.received}
    assert store_ids == {planted["store-b"]["id"]}, "a store's endpoint gets nothing of a department's"


def plant_for_webhooks(handler: Caller) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for name, person, mark, unit in (
        ("mine", MINE, "", {"department": DEPT_A}),
        ("dept-b", *OTHERS["dept-b"], {"department": DEPT_B}),
        ("store-b", *OTHERS["store-b"], {"store_id": STORE_B}),
    ):
        complaint = registered(handler, person, mark, store_id=None, department=DEPT_A)
        handler.move(complaint["id"], "investigate", {**unit, "note": f"联系 {person['name']} {mark}"})
        noted(handler, complaint, person, mark)
        handler.move(complaint["id"], "store-feedback", {**FEEDBACK, "cause": f"{FEEDBACK['cause']} {mark}"})
        found[name] = complaint
    person, mark = OTHERS["nowhere"]
    found["nowhere"] = registered(handler, person, mark, store_id=None, department=DEPT_A)
    return found


def test_an_endpoint_bound_to_a_store_and_a_department_is_refused(admin: Caller, receiver: Receiver) -> None:
    body = {"url": receiver.url, "store_id": STORE_B, "department": DEPT_A}
    problem(admin.post("/v1/webhook-endpoints", json=body), 422)
    endpoint = subscribe(admin, receiver, store_id=STORE_B)
    refused = problem(patch(admin, f"/v1/webhook-endpoints/{endpoint['id']}", {"department": DEPT_A}), 422)
    assert refused["field"] == "department"
    moved = patch(admin, f"/v1/webhook-endpoints/{endpoint['id']}", {"store_id": None, "department": DEPT_A})
    assert moved.status_code == 200, moved.text
    assert (moved.json()["store_id"], moved.json()["department"]) == (None, DEPT_A)


# The summary by department.


def test_the_summary_by_department_shows_each_departments_feedback_clock(
    handler: Caller, department: Caller, make_caller: Any, reporter_key: Caller, db: Database
) -> None:
    met = registered(handler, MINE, store_id=None, department=DEPT_A)
    handler.move(met["id"], "investigate", {"department": DEPT_A})
    department.move(met["id"], "store-feedback", FEEDBACK)
    late = handler.register(store_id=None, department=DEPT_B)
    handler.move(late["id"], "investigate", {"department": DEPT_B})
    both = handler.register(store_id=STORE_B)
    handler.move(both["id"], "investigate", {"store_id": STORE_B, "department": DEPT_A})
    make_caller("store", store_id=STORE_B, actor="店长王五").move(both["id"], "store-feedback", FEEDBACK)
    sweep(db, utcnow() + timedelta(days=30))

    params = {**report_period(), "group_by": "department"}
    rows = {row["group"]: row for row in reporter_key.get("/v1/reports/summary", params=params).json()["groups"]}
    feedback = {group: row["clocks"]["store_feedback"] for group, row in rows.items()}
    # Department A: its feedback on time, and the double dispatch's clock breached; the store's met clock on that
    # complaint does not count for the department.
    assert (feedback[DEPT_A]["met"], feedback[DEPT_A]["breached"], feedback[DEPT_A]["running"]) == (1, 1, 0)
    assert (feedback[DEPT_B]["met"], feedback[DEPT_B]["breached"]) == (0, 1)
    by_store = {
        row["group"]: row["clocks"]["store_feedback"]
        for row in reporter_key.get("/v1/reports/summary", params={**report_period(), "group_by": "store"}).json()[
            "groups"
        ]
    }
    assert (by_store[STORE_B]["met"], by_store[STORE_B]["breached"]) == (1, 0), "no department's clock for a store"
    csv = reporter_key.get("/v1/reports/summary", params=params, headers={"Accept": "text/csv"})
    assert DEPT_A in csv.text and "clocks_store_feedback_met" in csv.text


@pytest.fixture
def reporter_key(make_caller: Any) -> Caller:
    return make_caller("reporter", actor="reporter-01")
