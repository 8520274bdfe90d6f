"""A month of complaints (October 2026, Asia/Shanghai) made through the API at frozen local moments.

Ten complaints, eight of them received in October. A and B are stores; P1..P5 phones. WR is the written-reply
clock, SF the store's feedback, FU the follow-up, FF the fulfilment; "overdue" is still running past its deadline
at REPORT_AT.

- c1  10-12 09:00, A, service_attitude, phone, P1: fed back 15:00 (SF met); compensation 1,000.50 approved
      10-13 10:00 (WR met, 25 h); paid 16:00 (FF met); revisit satisfied (FU met). Revisited.
- c2  10-12 11:00, A, service_attitude, web, P1: refund 300 approved 10-14 12:00 before any feedback (SF
      cancelled; WR met, 49 h); paid 10-15 09:00 (FF met); revisit neutral (FU met). Revisited.
- c3  10-13 09:00, B named, billing, phone, P2: rejected 15:00 without dispatch (WR met, 6 h). Rejected.
- c4  10-14 09:00, B, product_quality, email, P3: fed back 10-20 (SF breached); refund 88.80 approved 10-23
      (WR breached); reopened unsatisfied 10-26 (FU met; FF cancelled; WR again, overdue). Investigating.
- c5  10-20 10:00, A, delivery, phone, P4: dispatched, nothing since (SF and WR overdue). Investigating.
- c6  10-31 23:30, A named, service_attitude, phone, P1: registered only (WR overdue); in by 30 minutes.
- c7  11-01 00:10, A named, P1: out of the period by 10 minutes.
- c8  09-30 23:50, B named, billing, P2: out of the period by 10 minutes.
- c9  10-01 00:05, department 物业工程部, facilities, letter, P5: apology 10-05 10:00 (WR met, 105 h 55 min);
      no follow-up call (FU overdue). Resolved.
- c10 10-16 09:00, B named, billing, media, P2: rejected 10:00 (WR met); reopened 10-17 to B (SF 8 h, cancelled
      at resolution; WR again); apology 10-18 10:00 (WR met, 49 h); revisit satisfied (FU met). Revisited.
"""

from __future__ import annotations

from typing import Any

from tests.conftest import Caller
from tests.sla.moments import frozen

STORE_A = "SZ-FT-012"
STORE_B = "SZ-LH-003"
DEPARTMENT = "物业工程部"
P1, P2, P3, P4, P5 = "13800000001", "13900000002", "13700000003", "13600000004", "13500000005"
REPORT_AT = (2026, 11, 23, 12, 0)
OCTOBER = {"from": "2026-10-01", "to": "2026-10-31"}

FEEDBACK = {"cause": "店员未按流程操作", "responsible_person": "李四", "responsibility": "staff_fault"}
APOLOGY = {"remedy": {"kind": "apology"}, "reply": "非常抱歉给您带来不便。", "reply_channel": "sms"}


def remedy(kind: str, amount: str) -> dict[str, Any]:
    return {"remedy": {"kind": kind, "amount": amount}, "reply": "非常抱歉，我们已按约定处理。", "reply_channel": "sms"}


class Month:
    """Makes the data set; each step at its own frozen local moment."""

    def __init__(self, handler: Caller, supervisor: Caller) -> None:
        self.handler, self.supervisor = handler, supervisor
        self.ids: dict[str, str] = {}

    def register(self, name: str, at: tuple[int, ...], phone: str, **body: Any) -> None:
        with frozen(*at):
            self.ids[name] = self.handler.register(complainant={"name": "张三", "phone": phone}, **body)["id"]

    def move(self, name: str, move: str, at: tuple[int, ...], body: Any = None, *, by: Caller | None = None) -> None:
        with frozen(*at):
            (by or self.handler).move(self.ids[name], move, body)

    def build(self) -> dict[str, str]:
        a, b = {"store_id": STORE_A}, {"store_id": STORE_B}
        self.register("c1", (2026, 10, 12, 9, 0), P1, **a)
        self.move("c1", "investigate", (2026, 10, 12, 10, 0), a)
        self.move("c1", "store-feedback", (2026, 10, 12, 15, 0), {**FEEDBACK, **a})
        self.move("c1", "propose", (2026, 10, 13, 9, 0), remedy("compensation", "1000.50"))
        self.move("c1", "approve", (2026, 10, 13, 10, 0), by=self.supervisor)
        self.move("c1", "fulfil", (2026, 10, 13, 16, 0), {"payment_reference": "WX-4200001001"})
        self.move("c1", "revisit", (2026, 10, 14, 10, 0), {"satisfaction": "satisfied"})

        self.register("c2", (2026, 10, 12, 11, 0), P1, channel="web", **a)
        self.move("c2", "investigate", (2026, 10, 12, 12, 0), a)
        self.move("c2", "propose", (2026, 10, 14, 11, 0), remedy("refund", "300.00"))
        self.move("c2", "approve", (2026, 10, 14, 12, 0), by=self.supervisor)
        self.move("c2", "fulfil", (2026, 10, 15, 9, 0), {"payment_reference": "WX-4200001002"})
        self.move("c2", "revisit", (2026, 10, 15, 10, 0), {"satisfaction": "neutral", "improvement": "退款再快些"})

        self.register("c3", (2026, 10, 13, 9, 0), P2, category="billing", **b)
        self.move("c3", "reject", (2026, 10, 13, 15, 0), {"reason": "misunderstanding", "explanation": "收费无误。"})

        self.register("c4", (2026, 10, 14, 9, 0), P3, category="product_quality", channel="email", **b)
        self.move("c4", "investigate", (2026, 10, 14, 10, 0), b)
        self.move("c4", "store-feedback", (2026, 10, 20, 10, 0), {**FEEDBACK, **b})
        self.move("c4", "propose", (2026, 10, 22, 10, 0), remedy("refund", "88.80"))
        self.move("c4", "approve", (2026, 10, 23, 10, 0), by=self.supervisor)
        self.move("c4", "reopen", (2026, 10, 26, 10, 0), {"reason": "客户回访时表示仍未收到退款"})

        self.register("c5", (2026, 10, 20, 10, 0), P4, category="delivery", **a)
        self.move("c5", "investigate", (2026, 10, 20, 11, 0), a)

        self.register("c6", (2026, 10, 31, 23, 30), P1, **a)
        self.register("c7", (2026, 11, 1, 0, 10), P1, **a)
        self.register("c8", (2026, 9, 30, 23, 50), P2, category="billing", **b)

        self.register("c9", (2026, 10, 1, 0, 5), P5, category="facilities", channel="letter", store_id=None,
                      department=DEPARTMENT)  # fmt: skip
        self.move("c9", "investigate", (2026, 10, 2, 10, 0), {"department": DEPARTMENT})
        self.move("c9", "resolve", (2026, 10, 5, 10, 0), APOLOGY)

        self.register("c10", (2026, 10, 16, 9, 0), P2, category="billing", channel="media", **b)
        self.move("c10", "reject", (2026, 10, 16, 10, 0), {"reason": "other", "explanation": "经核实收费无误。"})
        self.move("c10", "reopen", (2026, 10, 17, 10, 0), {"reason": "媒体再次报道", **b})
        self.move("c10", "resolve", (2026, 10, 18, 10, 0), APOLOGY)
        self.move("c10", "revisit", (2026, 10, 19, 10, 0), {"satisfaction": "satisfied"})
        return self.ids


def report(
    caller: Caller, path: str = "/v1/reports/summary", headers: dict[str, str] | None = None, **params: Any
) -> Any:
    """The report as of REPORT_AT; October unless the parameters say otherwise."""
    with frozen(*REPORT_AT):
        return caller.get(path, params={**OCTOBER, **params}, headers=headers)
