"""Every time in every JSON response is local time (TOUSU_TIMEZONE, Asia/Shanghai here): ``+08:00``, never ``Z``.

One lifecycle touches every GET route of the document and most writes: keys, webhook endpoints, deliveries (the
``ping`` among them), a complaint from registration to its follow-up call, its history and clocks, the calendar and
the summary; then every date-time string anywhere in what came back is checked.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest

from app.config import Settings
from app.db import Database
from app.main import create_app
from app.webhooks.dispatcher import Dispatcher
from tests.conftest import Caller
from tests.webhooks.conftest import Receiver, subscribe

MOMENT = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}")


@pytest.fixture
def settings(database_url: str) -> Settings:
    # The receiver listens on loopback.
    return Settings(
        database_url=database_url, sweep_in_serve=False, dispatch_in_serve=False, webhook_allow_private=True
    )


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    yield receiver
    receiver.close()


def moments(node: Any, where: str = "") -> Iterator[tuple[str, str]]:
    """Every date-time string in a JSON value, with where it is."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from moments(value, f"{where}.{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from moments(value, f"{where}[{index}]")
    elif isinstance(node, str) and MOMENT.match(node):
        yield where, node


class Walk:
    """Calls the API and keeps each JSON answer by the route it came from."""

    def __init__(self) -> None:
        self.answers: dict[tuple[str, str], list[Any]] = {}

    def call(self, caller: Caller, method: str, route: str, expect: int, json: Any = None, **ids: str) -> Any:
        path = route.format(**ids)
        response = caller.client.request(method, path, json=json, headers=caller.headers())
        assert response.status_code == expect, (method, path, response.text)
        body = response.json() if "json" in response.headers.get("content-type", "") else None
        self.answers.setdefault((method.lower(), route), []).append(body)
        return body


def test_every_time_in_every_json_response_has_the_local_offset(
    make_caller: Any, db: Database, settings: Settings, receiver: Receiver
) -> None:
    admin, handler = make_caller("admin", actor="admin-01"), make_caller("handler", actor="handler-07")
    intake, supervisor = make_caller("intake"), make_caller("supervisor", actor="supervisor-03")
    reporter = make_caller("reporter", actor="reporter-02")
    walk = Walk()
    dispatcher = Dispatcher(db, settings)
    try:
        endpoint = subscribe(admin, receiver)
        walk.answers[("post", "/v1/webhook-endpoints")] = [endpoint]
        hook = {"endpoint_id": endpoint["id"]}
        walk.call(admin, "POST", "/v1/webhook-endpoints/{endpoint_id}/rotate-secret", 200, **hook)
        walk.call(admin, "PATCH", "/v1/webhook-endpoints/{endpoint_id}", 200, {"description": "CRM"}, **hook)
        walk.call(admin, "POST", "/v1/webhook-endpoints/{endpoint_id}/test", 202, **hook)

        complaint = walk.call(intake, "POST", "/v1/complaints", 201, {**BODY})
        at = {"complaint_id": complaint["id"]}
        for caller, move, body in LIFECYCLE(handler, supervisor):
            walk.call(caller, "POST", f"/v1/complaints/{{complaint_id}}/{move}", 200, body, **at)
        walk.call(handler, "POST", "/v1/complaints/{complaint_id}/notes", 201, {"text": "客户来电致谢"}, **at)
        receipt = ("receipt.pdf", b"%PDF-1.7\n%%EOF\n", "application/pdf")
        uploaded = handler.client.post(
            f"/v1/complaints/{complaint['id']}/attachments", files={"file": receipt}, headers=handler.headers()
        )
        assert uploaded.status_code == 201, uploaded.text
        walk.answers[("post", "/v1/complaints/{complaint_id}/attachments")] = [uploaded.json()]
        attachment = {**at, "attachment_id": uploaded.json()["id"]}
        shown = {"visible_to_unit": True}
        walk.call(
            handler, "PATCH", "/v1/complaints/{complaint_id}/attachments/{attachment_id}", 200, shown, **attachment
        )
        walk.call(handler, "GET", "/v1/complaints/{complaint_id}/attachments", 200, **at)
        walk.call(handler, "GET", "/v1/complaints/{complaint_id}/attachments/{attachment_id}", 200, **attachment)
        dispatcher.once()

        deliveries = walk.call(admin, "GET", "/v1/webhook-endpoints/{endpoint_id}/deliveries", 200, **hook)
        ping = next(d for d in deliveries["items"] if d["event_type"] == "ping")
        assert ping["payload"]["timestamp"].endswith("+08:00")
        walk.call(admin, "POST", "/v1/webhook-deliveries/{delivery_id}/redeliver", 202, delivery_id=ping["id"])
        walk.call(admin, "GET", "/v1/webhook-endpoints", 200)
        walk.call(admin, "GET", "/v1/webhook-endpoints/{endpoint_id}", 200, **hook)

        for route in ("", "/events", "/clocks"):
            walk.call(handler, "GET", "/v1/complaints/{complaint_id}" + route, 200, **at)
        walk.call(handler, "GET", "/v1/complaints", 200)
        walk.call(handler, "GET", "/v1/workflow", 200)

        day = {"day": "2026-12-31"}
        walk.call(handler, "GET", "/v1/calendar/days/{day}", 200, **day)
        walk.call(admin, "PUT", "/v1/calendar/days/{day}", 200, {"working": False, "name": "公司年会"}, **day)
        walk.call(admin, "DELETE", "/v1/calendar/days/{day}", 200, **day)

        store = {"store_id": "SZ-FT-012"}  # in the chain's directory (tests/conftest.py): named here
        walk.call(admin, "PUT", "/v1/stores/{store_id}", 200, {"name": "福田中心店", "region": "华南区"}, **store)
        walk.call(handler, "GET", "/v1/stores/{store_id}", 200, **store)
        walk.call(handler, "GET", "/v1/stores", 200)
        department = {"department": "品管部"}
        walk.call(admin, "PUT", "/v1/departments/{department}", 200, {"name": "品质管理部"}, **department)
        walk.call(handler, "GET", "/v1/departments/{department}", 200, **department)
        walk.call(handler, "GET", "/v1/departments", 200)

        person = {"position": "cs_supervisor", "name": "赵主管", "phone": "139 2233 4455"}
        contact = walk.call(admin, "POST", "/v1/escalation-contacts", 201, person)
        who = {"contact_id": contact["id"]}
        walk.call(admin, "PUT", "/v1/escalation-contacts/{contact_id}", 200, {**person, "name": "孙主管"}, **who)
        walk.call(admin, "GET", "/v1/escalation-contacts/{contact_id}", 200, **who)
        walk.call(admin, "GET", "/v1/escalation-contacts", 200)
        walk.call(handler, "GET", "/v1/escalation-ladder", 200)
        walk.call(admin, "DELETE", "/v1/escalation-contacts/{contact_id}", 204, **who)

        plan = {"store_id": "SZ-FT-012", "cause": "店员态度问题", "action": "全员服务培训", "owner": "王店长"}
        plan |= {"due_on": "2026-12-31", "complaint_ids": [complaint["id"]]}
        action = walk.call(admin, "POST", "/v1/corrective-actions", 201, plan)
        did = {"action_id": action["id"]}
        walk.call(admin, "PATCH", "/v1/corrective-actions/{action_id}", 200, {"owner": "李店长"}, **did)
        walk.call(admin, "POST", "/v1/corrective-actions/{action_id}/done", 200, **did)
        walk.call(admin, "POST", "/v1/corrective-actions/{action_id}/verify", 200, **did)
        dropped = walk.call(admin, "POST", "/v1/corrective-actions", 201, {**plan, "category": "billing"})
        reason = {"reason": "与上一条重复"}
        walk.call(admin, "POST", "/v1/corrective-actions/{action_id}/drop", 200, reason, action_id=dropped["id"])
        walk.call(reporter, "GET", "/v1/corrective-actions/{action_id}", 200, **did)
        walk.call(reporter, "GET", "/v1/corrective-actions", 200)

        key = walk.call(admin, "POST", "/v1/api-keys", 201, {"name": "报表系统", "role": "reporter"})
        walk.call(admin, "DELETE", "/v1/api-keys/{key_id}", 200, key_id=key["id"])
        walk.call(admin, "GET", "/v1/api-keys?include_revoked=true", 200)
        walk.answers[("get", "/v1/api-keys")] = walk.answers.pop(("get", "/v1/api-keys?include_revoked=true"))

        person = {"phone": complaint["complainant"]["phone"]}
        walk.call(admin, "GET", "/v1/data-subjects/{phone}", 200, **person)
        today = date.fromisoformat(complaint["received_at"][:10]).isoformat()
        for route in ("/v1/reports/summary", "/v1/reports/summary.svg"):
            walk.call(reporter, "GET", route + f"?from={today}&to={today}&group_by=store", 200)
            walk.answers[("get", route)] = walk.answers.pop(("get", route + f"?from={today}&to={today}&group_by=store"))
        walk.call(admin, "GET", "/healthz", 200)
        walk.call(admin, "GET", "/readyz", 200)
        walk.call(admin, "DELETE", "/v1/webhook-endpoints/{endpoint_id}", 200, **hook)
    finally:
        dispatcher.stop()

    document = create_app(settings).openapi()
    every_get = {("get", path) for path, item in document["paths"].items() if "get" in item}
    assert every_get - set(walk.answers) == set(), "the walk missed a GET route"

    found = {route: list(moments(answers)) for route, answers in walk.answers.items()}
    not_local = {route: [m for m in found_here if not m[1].endswith("+08:00")] for route, found_here in found.items()}
    assert {route: bad for route, bad in not_local.items() if bad} == {}
    timed = {route for route, found_here in found.items() if found_here}
    for route in [
        ("post", "/v1/api-keys"),
        ("get", "/v1/api-keys"),
        ("delete", "/v1/api-keys/{key_id}"),
        ("post", "/v1/webhook-endpoints"),
        ("get", "/v1/webhook-endpoints"),
        ("post", "/v1/webhook-endpoints/{endpoint_id}/test"),
        ("get", "/v1/webhook-endpoints/{endpoint_id}/deliveries"),
        ("get", "/v1/complaints/{complaint_id}"),
        ("get", "/v1/reports/summary"),
        ("get", "/v1/corrective-actions/{action_id}"),
        ("post", "/v1/corrective-actions/{action_id}/done"),
        ("get", "/v1/data-subjects/{phone}"),
    ]:
        assert route in timed, f"{route} answered no time at all"


BODY = {
    "complainant": {"name": "张三", "phone": "138 1234 8000"},
    "channel": "phone",
    "category": "service_attitude",
    "store_id": "SZ-FT-012",
    "description": "店员态度恶劣，拒绝为我办理退货。",
}


def LIFECYCLE(handler: Caller, supervisor: Caller) -> list[tuple[Caller, str, Any]]:
    return [
        (handler, "investigate", {"store_id": "SZ-FT-012"}),
        (
            handler,
            "store-feedback",
            {"store_id": "SZ-FT-012", "cause": "店员未按流程操作", "responsibility": "staff_fault"},
        ),
        (
            handler,
            "propose",
            {
                "remedy": {"kind": "refund", "amount": "300.00"},
                "reply": "非常抱歉，为您全额退款。",
                "reply_channel": "sms",
            },
        ),
        (supervisor, "approve", None),
        (handler, "fulfil", {"payment_reference": "WX-4200001987"}),
        (handler, "call-attempt", {"outcome": "busy"}),
        (handler, "revisit", {"satisfaction": "satisfied"}),
    ]
