"""Progress links over HTTP, on both databases, on a controlled clock: issued and revoked by handlers, read by the
customer, gone 90 days after the case closes, and every refusal the same 404."""

from __future__ import annotations

import hashlib
import statistics
import time
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import text

from app.auth.models import Role
from app.db import Database
from tests.conftest import Caller
from tests.progress.cases import (
    APPROVER,
    CONTACT,
    EXPLANATION,
    HIDDEN,
    NOTE,
    STAFF,
    STATES,
    STORE,
    bring_to,
    full_phone,
    issue,
    path_of,
)
from tests.sla.moments import frozen, local
from tests.testclient import TestClient

MONDAY = (2026, 11, 23, 10, 0)
JSON = {"Accept": "application/json"}
SECURITY_HEADERS = ("Cache-Control", "Referrer-Policy", "X-Robots-Tag", "Content-Security-Policy")


@pytest.fixture
def staff(make_caller: Any) -> Caller:
    return make_caller(Role.handler, actor=STAFF)


@pytest.fixture
def store(make_caller: Any) -> Caller:
    return make_caller(Role.store, store_id=STORE, actor="store-hidden-0012")


def page(client: TestClient, path: str, **headers: str) -> Any:
    return client.get(path, headers=headers)


def test_a_handler_issues_a_link_once_and_the_customer_reads_the_page(staff: Caller, client: TestClient) -> None:
    with frozen(*MONDAY):
        complaint = staff.register()
        link = issue(staff, complaint["id"])
    token = path_of(link).removeprefix("/p/")
    assert link["url"] == f"https://tousu.example.com/p/{token}" and len(token) >= 22  # 128 bits of base64url
    assert len(link["url"]) <= 60, "a link short enough for a text message"
    assert link["url"] in link["sms_text"] and complaint["number"] in link["sms_text"]
    assert link["issued_at"] == "2026-11-23T10:00:00+08:00" and link["expires_at"] is None
    shown = page(client, path_of(link))
    assert shown.status_code == 200 and shown.headers["content-type"].startswith("text/html")
    assert complaint["number"] in shown.text and "已受理" in shown.text and "张*" in shown.text
    assert '<meta name="robots" content="noindex">' in shown.text and "<script" not in shown.text
    assert shown.headers["Cache-Control"] == "no-store" and shown.headers["Referrer-Policy"] == "no-referrer"
    assert shown.headers["X-Robots-Tag"] == "noindex"
    policy = dict(d.split(" ", 1) for d in shown.headers["Content-Security-Policy"].split("; "))
    assert policy["default-src"] == "'none'" and policy["style-src"].startswith("'sha256-")
    assert "'unsafe-inline'" not in shown.headers["Content-Security-Policy"]


def test_the_json_form_holds_the_same_data(staff: Caller, client: TestClient) -> None:
    with frozen(*MONDAY):
        complaint = staff.register()
        link = issue(staff, complaint["id"])
    shown = page(client, path_of(link), **JSON)
    assert shown.status_code == 200 and shown.headers["content-type"] == "application/json"
    assert all(name in shown.headers for name in SECURITY_HEADERS)
    (reply_clock,) = [c for c in complaint["clocks"] if c["kind"] == "written_reply"]
    assert shown.json() == {
        "number": complaint["number"],
        "state": "accepted",
        "state_label": "已受理",
        "complainant": {"name": "张*", "phone": "138****8000"},
        "reply_due_at": reply_clock["due_at"],
        "reply": None,
        "remedy": None,
        "timeline": [{"step": "register", "label": "投诉已受理", "at": "2026-11-23T10:00:00+08:00"}],
        "service_phone": "400-000-0000",
    }


def test_only_the_tokens_hash_is_kept(staff: Caller, db: Database) -> None:
    complaint = staff.register()
    token = path_of(issue(staff, complaint["id"])).removeprefix("/p/")
    with db.engine.connect() as connection:
        rows = [tuple(map(str, row)) for row in connection.execute(text("SELECT * FROM progress_links"))]
    assert len(rows) == 1 and not any(token in value for value in rows[0])
    assert hashlib.sha256(token.encode()).hexdigest() in rows[0]


@pytest.mark.parametrize("role", ["store", "department", "intake", "reporter"])
def test_only_handlers_and_above_issue_or_revoke_links(role: str, staff: Caller, make_caller: Any) -> None:
    complaint = staff.register()
    unit = {"store_id": STORE} if role == "store" else {"department": "品管部"} if role == "department" else {}
    other = make_caller(Role(role), **unit)
    for method in (other.post, other.delete):
        refused = method(f"/v1/complaints/{complaint['id']}/progress-link")
        assert refused.status_code == 403, refused.text
        assert refused.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize("role", ["supervisor", "manager", "admin"])
def test_roles_above_a_handler_issue_links(role: str, staff: Caller, make_caller: Any, client: TestClient) -> None:
    complaint = staff.register()
    link = issue(make_caller(Role(role)), complaint["id"])
    assert page(client, path_of(link)).status_code == 200


def test_a_link_to_no_complaint_is_404_and_a_bad_id_422(staff: Caller) -> None:
    missing = staff.post("/v1/complaints/0190a5c2-7d4e-7000-8000-000000000000/progress-link")
    assert missing.status_code == 404 and missing.headers["content-type"] == "application/problem+json"
    assert staff.post("/v1/complaints/not-an-id/progress-link").status_code == 422


def test_a_revoked_link_is_404_and_a_new_one_works(staff: Caller, client: TestClient) -> None:
    complaint = staff.register()
    first = issue(staff, complaint["id"])
    assert staff.delete(f"/v1/complaints/{complaint['id']}/progress-link").status_code == 204
    assert page(client, path_of(first)).status_code == 404
    assert staff.delete(f"/v1/complaints/{complaint['id']}/progress-link").status_code == 204, "idempotent"
    second = issue(staff, complaint["id"])
    assert second["url"] != first["url"]
    assert page(client, path_of(second)).status_code == 200
    assert page(client, path_of(first)).status_code == 404


def test_issuing_again_revokes_the_link_before(staff: Caller, client: TestClient) -> None:
    complaint = staff.register()
    first, second = issue(staff, complaint["id"]), issue(staff, complaint["id"])
    assert page(client, path_of(first)).status_code == 404
    assert page(client, path_of(second)).status_code == 200


@pytest.mark.parametrize("closing", ["rejected", "revisited"])
def test_a_link_expires_90_days_after_the_case_closes(
    closing: str, staff: Caller, supervisor: Caller, store: Caller, client: TestClient
) -> None:
    with frozen(*MONDAY) as closed:
        complaint = bring_to(closing, staff, supervisor, store, 1)
        link = issue(staff, complaint["id"])
    assert link["expires_at"] == "2027-02-21T10:00:00+08:00"
    with frozen(*MONDAY):
        opened_again = issue(staff, complaint["id"]) if closing == "rejected" else link
    for moment, status in ((closed + timedelta(days=90, seconds=-1), 200), (closed + timedelta(days=90), 404)):
        with frozen(*moment.timetuple()[:6]):
            assert page(client, path_of(opened_again)).status_code == status, moment


def test_a_reopened_case_is_open_again_and_its_link_does_not_expire(
    staff: Caller, supervisor: Caller, store: Caller, client: TestClient
) -> None:
    with frozen(*MONDAY):
        complaint = bring_to("rejected", staff, supervisor, store, 1)
        link = issue(staff, complaint["id"])
    with frozen(2027, 2, 1, 10, 0):
        staff.move(complaint["id"], "reopen", {"reason": "顾客补充了新的证据", "store_id": STORE})
        assert issue(staff, complaint["id"])["expires_at"] is None
    with frozen(2027, 6, 1, 10, 0):
        link = issue(staff, complaint["id"])
        shown = page(client, path_of(link), **JSON).json()
    assert shown["state_label"] == "调查中" and [s["step"] for s in shown["timeline"]][-1] == "reopen"


def refusals(staff: Caller, supervisor: Caller, store: Caller) -> dict[str, str]:
    """A path of each kind of refused link (never issued, revoked, expired), read 100 days after MONDAY."""
    with frozen(*MONDAY):
        complaint = staff.register(complainant={"name": "张三", "phone": full_phone(1)})
        revoked = issue(staff, complaint["id"])
        assert staff.delete(f"/v1/complaints/{complaint['id']}/progress-link").status_code == 204
        expired = issue(staff, bring_to("rejected", staff, supervisor, store, 2)["id"])
    unknown = "/p/" + "q8Xr2bLkT0vYcN3wZs5JdA"
    return {"unknown": unknown, "revoked": path_of(revoked), "expired": path_of(expired)}


LATER = (2027, 3, 3, 10, 0)  # 100 days after MONDAY


def test_unknown_revoked_and_expired_links_get_the_same_404(
    staff: Caller, supervisor: Caller, store: Caller, client: TestClient
) -> None:
    paths = refusals(staff, supervisor, store)
    with frozen(*LATER):
        pages = {kind: page(client, path) for kind, path in paths.items()}
        documents = {kind: page(client, path, **JSON) for kind, path in paths.items()}
        odd = {"odd": page(client, "/p/" + "x" * 300), "short": page(client, "/p/a")}
    for answers in (pages, documents):
        assert {answer.status_code for answer in answers.values()} == {404}
        assert len({answer.content for answer in answers.values()}) == 1, "one body for every refusal"
        for answer in answers.values():
            assert all(name in answer.headers for name in SECURITY_HEADERS)
            kept = {k: v for k, v in answer.headers.items() if k not in ("x-request-id", "date")}
            assert kept == {
                k: v for k, v in next(iter(answers.values())).headers.items() if k not in ("x-request-id", "date")
            }
    assert "链接无效或已过期" in pages["unknown"].text and "400-000-0000" in pages["unknown"].text
    assert documents["unknown"].headers["content-type"] == "application/problem+json"
    assert {answer.content for answer in odd.values()} == {pages["unknown"].content}


def test_refusals_take_the_same_time(
    staff: Caller, supervisor: Caller, store: Caller, app: Any, client: TestClient
) -> None:
    """Each kind, asked in turn many times: their medians are close (the database answers each with one lookup of
    the hash). A found page is not one of them: it is no refusal."""
    paths = refusals(staff, supervisor, store)
    app.state.progress_requests.burst = 10_000
    timings: dict[str, list[float]] = {kind: [] for kind in paths}
    with frozen(*LATER):
        for _ in range(3):  # warm the connections and the template
            for path in paths.values():
                page(client, path)
        for _ in range(41):
            for kind, path in paths.items():
                started = time.perf_counter()
                assert page(client, path).status_code == 404
                timings[kind].append(time.perf_counter() - started)
    medians = {kind: statistics.median(times) for kind, times in timings.items()}
    assert max(medians.values()) < 2 * min(medians.values()), medians


def test_the_customer_sees_each_state_in_plain_words_and_nothing_hidden(
    staff: Caller, supervisor: Caller, store: Caller, admin: Caller, client: TestClient, app: Any
) -> None:
    app.state.progress_requests.burst = 10_000
    assert admin.post("/v1/escalation-contacts", json=CONTACT).status_code == 201
    words = {
        "accepted": "已受理",
        "investigating": "调查中",
        "awaiting_approval": "待审批",
        "resolved_owed": "已答复",
        "resolved_fulfilled": "已答复",
        "revisited": "已回访",
        "rejected": "投诉不成立",
        "reopened": "调查中",
    }
    for n, state in enumerate(STATES, start=10):
        with frozen(*MONDAY):
            complaint = bring_to(state, staff, supervisor, store, n)
            link = issue(staff, complaint["id"])
            html, document = page(client, path_of(link)), page(client, path_of(link), **JSON)
        everything = admin.get(f"/v1/complaints/{complaint['id']}/events").text
        planted = [
            NOTE,
            STAFF,
            *([APPROVER] if state in ("resolved_owed", "resolved_fulfilled", "revisited") else []),
        ] + ([CONTACT["name"], "李四秘密员工"] if state not in ("accepted", "rejected", "reopened") else [])
        assert all(value in everything for value in planted), f"{state}: the planted values are not there"
        assert html.status_code == document.status_code == 200
        shown = document.json()
        assert shown["state_label"] == words[state] and f">{words[state]}<" in html.text
        for secret in (*HIDDEN, full_phone(n)):
            assert secret not in html.text and secret not in document.text, f"{state}: {secret} shown"
        assert shown["complainant"] == {"name": "欧***", "phone": full_phone(n)[:3] + "****8000"}
        owed = state in ("accepted", "investigating", "awaiting_approval", "reopened")
        assert (shown["reply_due_at"] is not None) is owed, state
        assert ("前给您书面答复" in html.text) is owed
        if state in ("resolved_owed", "resolved_fulfilled", "revisited"):
            assert shown["reply"]["text"].startswith("欧***女士您好") and "138****8000" in shown["reply"]["text"]
            assert shown["remedy"]["label"] == "退款" and shown["remedy"]["amount"] == "300.00"
            fulfilled = state != "resolved_owed"
            assert (shown["remedy"]["fulfilled_at"] is not None) is fulfilled
            assert ("已落实" in html.text) is fulfilled and ("正在落实中" in html.text) is not fulfilled
        else:
            assert shown["remedy"] is None
        if state == "rejected":
            assert shown["reply"]["text"] == EXPLANATION and EXPLANATION in html.text
        steps = [step["step"] for step in shown["timeline"]]
        assert set(steps) <= {"register", "investigate", "approve", "revisit", "reopen", "reject"}, steps
        assert steps[0] == "register"


def test_the_promised_date_is_the_written_reply_clocks_deadline(staff: Caller, client: TestClient) -> None:
    with frozen(*MONDAY):
        complaint = staff.register()
        shown = page(client, path_of(issue(staff, complaint["id"])), **JSON).json()
    (reply_clock,) = [c for c in complaint["clocks"] if c["kind"] == "written_reply"]
    assert shown["reply_due_at"] == reply_clock["due_at"]
    assert local(2026, 11, 23, 10, 0).isoformat() < shown["reply_due_at"]
