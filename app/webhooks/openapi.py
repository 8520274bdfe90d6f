"""The webhooks tousu sends, described in the OpenAPI document (FastAPI's ``app.webhooks``)."""

# No ``from __future__ import annotations``: each receiver's body annotation is a class chosen at runtime.

from collections.abc import Callable
from typing import Annotated

from fastapi import FastAPI, Header
from pydantic import BaseModel

from app.webhooks.schemas import PING, EventType, model_of

WHAT = {
    EventType.accepted: "A complaint was registered (受理).",
    EventType.rejected: "A complaint was judged unfounded (投诉不成立); the explanation to the customer is the reply.",
    EventType.dispatched: "A complaint was dispatched (派单) to a store or department: the record the store must act "
    "on, with the deadline of its feedback.",
    EventType.store_feedback_received: "The responsible unit's findings were recorded (责任单位反馈).",
    EventType.submitted_for_approval: "A remedy and reply draft wait for approval (待审批).",
    EventType.sent_back: "A proposal was sent back for a new countermeasure.",
    EventType.resolved: "The remedy was approved (已答复): the written reply and remedy, and how and when the "
    "customer was told (`complaint.reply_channel`, `complaint.replied_at`).",
    EventType.fulfilled: "The remedy was carried out (落实): the refund or compensation paid, with its payment "
    "reference; the goods exchanged; the repair done.",
    EventType.call_attempted: "A follow-up call did not get through (no answer, busy, wrong number, or a call-back "
    "at the time the customer named).",
    EventType.revisited: "The follow-up call was made (已回访); the complaint is closed (the customer satisfied, "
    "neutral, or never reached).",
    EventType.reopened: "A complaint was reopened (重新处理); when it is dispatched to a store again, with the "
    "deadline of that store's feedback.",
    EventType.reassigned: "A complaint was handed to another owner (首问责任人); `detail` names both and the reason.",
    EventType.corrected: "Intake details were corrected; `detail` has each changed field before and after (the "
    "complainant's contact masked).",
    EventType.escalated: "A complaint was escalated up the ladder, to one position: `detail` has the `trigger` (a "
    "clock's warning or breach, a second breach, a media, major or repeat complaint), the `level` (the position "
    "reached: store_manager, region_manager, cs_supervisor, general_manager) and the `addressees` (name, position, "
    "phone, e-mail, WeCom and DingTalk ids) to notify; an endpoint bound to a store or department gets the "
    "positions without the people.",
    EventType.priority_raised: "A complaint's priority was raised (`escalate`): `detail` has the new and the "
    "previous priority and the reason; the clocks restarted on the new targets.",
    EventType.incident_reported: "A major complaint's written incident report was recorded.",
    EventType.sla_warning: "A clock reached its warning time.",
    EventType.sla_breached: "A clock passed its deadline.",
    EventType.attachment_added: "Evidence was attached (a photo, a receipt, a recording): `detail` has its name, type, "
    "size, SHA-256 and `download`, the path of its bytes (GET with an API key); never the bytes.",
    EventType.attachment_visibility_changed: "An attachment was shown to the responsible unit or made internal "
    "again (`detail.visible_to_unit`), with the same details.",
}
SIGNED = (
    "\n\nSigned as Standard Webhooks prescribe: verify with the endpoint's secret, e.g. "
    "`standardwebhooks.Webhook(secret).verify(body, headers)`. Answer 2xx within 15 s; anything else is retried "
    "(5 s, 5 min, 30 min, 2 h, 5 h, then every 10 h, about 3 days in all); 410 disables the endpoint. "
    "Deduplicate on `webhook-id`: a delivery may arrive more than once."
)

WebhookId = Annotated[str, Header(alias="webhook-id", description="The delivery's id, the same on every attempt.")]
WebhookTimestamp = Annotated[str, Header(alias="webhook-timestamp", description="Unix seconds of this attempt.")]
WebhookSignature = Annotated[
    str,
    Header(
        alias="webhook-signature",
        description="`v1,<base64 HMAC-SHA256 of id.timestamp.body>`; two, space-separated, for a day after a "
        "secret rotation.",
    ),
]


def _receiver(model: type[BaseModel]) -> Callable[..., None]:
    def receive(
        body: model,  # type: ignore[valid-type]  # a class chosen at run time, read by FastAPI, not the checker
        webhook_id: WebhookId,
        webhook_timestamp: WebhookTimestamp,
        webhook_signature: WebhookSignature,
    ) -> None:
        """Implemented by the receiver."""

    return receive


def operation_id(event_type: str) -> str:
    """``complaint.store_feedback_received`` is ``complaintStoreFeedbackReceivedWebhook``."""
    first, *rest = event_type.replace(".", "_").split("_")
    return first + "".join(word.capitalize() for word in rest) + "Webhook"


def document(app: FastAPI) -> None:
    for event_type, what in WHAT.items():
        app.webhooks.post(
            event_type.value,
            summary=what.split(":")[0].split(" (")[0].rstrip("."),
            description=what + SIGNED,
            operation_id=operation_id(event_type),
        )(_receiver(model_of(event_type)))
    app.webhooks.post(
        PING,
        summary="A test message",
        description="Sent by POST /v1/webhook-endpoints/{id}/test." + SIGNED,
        operation_id=operation_id(PING),
    )(_receiver(model_of(PING)))
