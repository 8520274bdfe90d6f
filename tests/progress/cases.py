"""Complaints brought to each state the customer may find them in, with hidden data planted along the way, and the
progress page read through their links."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from tests.conftest import Caller, another_customer

STORE = "SZ-FT-012"
# What a progress page must never show: an internal note, a staff member (the handler acting, the person the
# store's feedback blames, the escalation contact), the store's feedback cause, the customer's full name and phone.
NOTE = "内部备注：顾客疑似职业索赔人ZX9"
STAFF = "handler-hidden-7731"
APPROVER = "supervisor-hidden-5520"
CAUSE = "店员操作失误机密QY7"
BLAMED = "李四秘密员工"
CONTACT = {"position": "cs_supervisor", "name": "王主管甲秘", "phone": "139 0000 1111"}
NAME = "欧阳娜娜"
REPLY = "欧阳娜娜女士您好，经核实，我们将为您全额退款300元，如有疑问请联系13812348000。"
EXPLANATION = "经实地调查，商品在售出时完好，投诉不成立。"
HIDDEN = (NOTE, STAFF, APPROVER, CAUSE, BLAMED, CONTACT["name"], "13900001111", NAME, "娜娜", "13812348000")
STATES = (
    "accepted",
    "investigating",
    "awaiting_approval",
    "resolved_owed",
    "resolved_fulfilled",
    "revisited",
    "rejected",
    "reopened",
)
REFUND = {
    "remedy": {"kind": "refund", "amount": "300.00", "description": "退还货款"},
    "reply": REPLY,
    "reply_channel": "sms",
}
PAID = {"payment_reference": "WX-REFUND-4200001987"}
FEEDBACK = {"cause": CAUSE, "responsible_person": BLAMED, "responsibility": "staff_fault"}


def complainant(n: int) -> dict[str, str]:
    return {**another_customer(n), "name": NAME}


def full_phone(n: int) -> str:
    return another_customer(n)["phone"]


def bring_to(state: str, handler: Caller, supervisor: Caller, store: Caller, n: int) -> dict[str, Any]:
    """A complaint (of customer ``n``) in ``state``, with a note, the store's feedback and an escalation behind it."""
    complaint = handler.register(complainant=complainant(n))
    at = complaint["id"]
    assert handler.post(f"/v1/complaints/{at}/notes", json={"text": NOTE}).status_code == 201
    if state == "accepted":
        return complaint
    if state in ("rejected", "reopened"):
        done = handler.move(at, "reject", {"reason": "misunderstanding", "explanation": EXPLANATION})
        return (
            handler.move(at, "reopen", {"reason": "顾客补充了新的证据", "store_id": STORE})
            if state == "reopened"
            else done
        )
    done = handler.move(at, "investigate", {"store_id": STORE})
    store.move(at, "store-feedback", FEEDBACK)
    handler.move(at, "escalate", {"priority": "major", "reason": "顾客情绪激动"})
    if state == "investigating":
        return handler.get(f"/v1/complaints/{at}").json()  # type: ignore[no-any-return]
    done = handler.move(at, "propose", REFUND)
    if state == "awaiting_approval":
        return done
    done = supervisor.move(at, "approve")
    if state == "resolved_owed":
        return done
    done = handler.move(at, "fulfil", PAID)
    if state == "resolved_fulfilled":
        return done
    return handler.move(at, "revisit", {"satisfaction": "satisfied"})


def issue(handler: Caller, complaint_id: str, expect: int = 201) -> dict[str, Any]:
    response = handler.post(f"/v1/complaints/{complaint_id}/progress-link")
    assert response.status_code == expect, response.text
    return response.json()  # type: ignore[no-any-return]


def path_of(link: dict[str, Any]) -> str:
    return urlsplit(link["url"]).path
