"""What the tests of remedies, fulfilment and follow-up calls share: bodies, and a complaint brought to a state at a
frozen local moment (Asia/Shanghai)."""

from __future__ import annotations

from typing import Any

from tests.conftest import Caller
from tests.sla.moments import STORE, frozen

REPLY = "非常抱歉给您带来不便，处理结果如下。"


def remedy(
    kind: str, amount: str | None = None, channel: str = "sms", description: str | None = None
) -> dict[str, Any]:
    given: dict[str, Any] = {"kind": kind}
    if amount is not None:
        given["amount"] = amount
    if description is not None:
        given["description"] = description
    return {"remedy": given, "reply": REPLY, "reply_channel": channel}


APOLOGY = remedy("apology")
REFUND = remedy("refund", "300.00")


def problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    return body


def investigating(handler: Caller, *at: int) -> dict[str, Any]:
    with frozen(*at):
        complaint = handler.register()
        return handler.move(complaint["id"], "investigate", {"store_id": STORE})


def resolved_by(caller: Caller, body: dict[str, Any], *at: int, handler: Caller) -> dict[str, Any]:
    """Registered and dispatched by ``handler``, resolved by ``caller`` with ``body``, all at this local moment."""
    complaint = investigating(handler, *at)
    with frozen(*at):
        return caller.move(complaint["id"], "resolve", body)


def approved(handler: Caller, approver: Caller, body: dict[str, Any], *at: int) -> dict[str, Any]:
    """Proposed by ``handler`` and approved by ``approver`` (no body), at this local moment."""
    complaint = investigating(handler, *at)
    with frozen(*at):
        handler.move(complaint["id"], "propose", body)
        return approver.move(complaint["id"], "approve")


def read(caller: Caller, complaint_id: str) -> dict[str, Any]:
    response = caller.get(f"/v1/complaints/{complaint_id}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def events(caller: Caller, complaint_id: str) -> list[dict[str, Any]]:
    response = caller.get(f"/v1/complaints/{complaint_id}/events")
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()
    return found


def clocks(complaint: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [clock for clock in complaint["clocks"] if clock["kind"] == kind]


def guards_of(caller: Caller, move: str) -> list[str]:
    (described,) = [m for m in caller.get("/v1/workflow").json()["moves"] if m["name"] == move]
    return [guard["name"] for guard in described["guards"]]


def summary(caller: Caller, day: str) -> dict[str, Any]:
    response = caller.get("/v1/reports/summary", params={"from": day, "to": day})
    assert response.status_code == 200, response.text
    total: dict[str, Any] = response.json()["total"]
    return total
