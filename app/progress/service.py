"""Progress links: issue, revoke, and read a complaint through one. Tokens are shown once and kept as SHA-256."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.auth.principal import Actor
from app.complaints import service as complaints
from app.complaints.models import Complaint, ComplaintEvent, RemedyKind, State
from app.config import Settings
from app.progress.models import ProgressLink
from app.progress.schemas import Complainant, ProgressLinkOut, ProgressOut, Remedy, Reply, Step
from app.sla.models import Clock, ClockState
from app.visibility import Customer
from app.vocabulary import ClockKind

# 16 random bytes (128 bits) in 22 characters of base64url: with the host, a link fits a text message.
TOKEN_BYTES = 16
KEPT_AFTER_CLOSE = timedelta(days=90)
PAGE_PATH = "/p/"

STATE_WORDS = {
    State.accepted: "已受理",
    State.investigating: "调查中",
    State.awaiting_approval: "待审批",
    State.resolved: "已答复",
    State.revisited: "已回访",
    State.rejected: "投诉不成立",
}
STEP_WORDS = {
    "register": "投诉已受理",
    "investigate": "已转交调查",
    "resolve": "已书面答复",
    "approve": "已书面答复",
    "revisit": "已回访",
    "reopen": "重新处理",
    "reject": "投诉不成立，已书面说明",
}
REMEDY_WORDS = {
    RemedyKind.apology: "致歉",
    RemedyKind.refund: "退款",
    RemedyKind.exchange: "换货",
    RemedyKind.price_reduction: "折价",
    RemedyKind.free_repair: "免费维修",
    RemedyKind.compensation: "赔偿",
    RemedyKind.other: "其他",
}
REPLIED = (State.resolved, State.revisited)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def closed_at(complaint: Complaint) -> datetime | None:
    """When the case closed: rejected, or revisited after the reply; None while it is open (a reopened case too)."""
    if complaint.state is State.rejected:
        return complaint.rejected_at
    if complaint.state is State.revisited:
        return complaint.revisited_at
    return None


def expires_at(complaint: Complaint) -> datetime | None:
    closed = closed_at(complaint)
    return None if closed is None else closed + KEPT_AFTER_CLOSE


def issue(
    session: Session, complaint_id: uuid.UUID, actor: Actor, now: datetime, settings: Settings
) -> ProgressLinkOut:
    """A new link to the complaint; the one it had before, if any, stops working."""
    complaint = complaints.get(session, complaint_id, actor.principal, for_update=True)
    _revoke_all(session, complaint.id, actor.name, now)
    token = secrets.token_urlsafe(TOKEN_BYTES)
    session.add(ProgressLink(complaint_id=complaint.id, token_hash=_hash(token), issued_at=now, issued_by=actor.name))
    session.flush()
    url = settings.public_base_url + PAGE_PATH + token
    sms = f"【投诉进度】您的投诉 {complaint.number} 处理进度请查看：{url} 客服电话 {settings.service_phone}"
    return ProgressLinkOut(url=url, sms_text=sms, issued_at=now, expires_at=expires_at(complaint))


def revoke(session: Session, complaint_id: uuid.UUID, actor: Actor, now: datetime) -> None:
    """The complaint's link stops working (nothing to do when it has none)."""
    complaint = complaints.get(session, complaint_id, actor.principal, for_update=True)
    _revoke_all(session, complaint.id, actor.name, now)


def _revoke_all(session: Session, complaint_id: uuid.UUID, actor: str, now: datetime) -> None:
    session.execute(
        update(ProgressLink)
        .where(ProgressLink.complaint_id == complaint_id, ProgressLink.revoked_at.is_(None))
        .values(revoked_at=now, revoked_by=actor)
    )


def read(session: Session, token: str, now: datetime, settings: Settings) -> ProgressOut | None:
    """The complaint a token links to, as its customer sees it; None for a token unknown, revoked or expired alike.

    Every token is hashed and looked up the same way, whatever it looks like: no answer comes sooner for a token
    that could not be one, so the time of a refusal tells nothing of why."""
    query = (
        select(Complaint)
        .join(ProgressLink, ProgressLink.complaint_id == Complaint.id)
        .where(ProgressLink.token_hash == _hash(token), ProgressLink.revoked_at.is_(None))
    )
    complaint = session.scalar(query)
    expiry = None if complaint is None else expires_at(complaint)
    if complaint is None or (expiry is not None and now >= expiry):
        return None
    return _progress(session, complaint, settings)


def _progress(session: Session, complaint: Complaint, settings: Settings) -> ProgressOut:
    customer = Customer.of(complaint)
    entries = session.scalars(
        select(ComplaintEvent).where(ComplaintEvent.complaint_id == complaint.id).order_by(ComplaintEvent.id)
    )
    timeline = [Step(step=e.move, label=STEP_WORDS[e.move], at=e.at) for e in entries if customer.sees_entry(e)]
    return ProgressOut(
        number=complaint.number,
        state=complaint.state,
        state_label=STATE_WORDS[complaint.state],
        complainant=Complainant(name=customer.name, phone=customer.phone),
        reply_due_at=_reply_due(session, complaint),
        reply=_reply(complaint, customer),
        remedy=_remedy(complaint, customer),
        timeline=timeline,
        service_phone=settings.service_phone,
    )


def _reply_due(session: Session, complaint: Complaint) -> datetime | None:
    """The written reply's deadline while it is owed: the running written-reply clock's (a reopen starts another)."""
    query = select(Clock.due_at).where(
        Clock.complaint_id == complaint.id,
        Clock.kind == ClockKind.written_reply,
        Clock.state.in_((ClockState.running, ClockState.breached)),
    )
    return session.scalars(query.order_by(Clock.started_at.desc())).first()


def _reply(complaint: Complaint, customer: Customer) -> Reply | None:
    if complaint.state is State.rejected and complaint.rejected_at is not None:
        return Reply(text=customer.text(complaint.reply_text), sent_at=complaint.rejected_at)
    if complaint.state in REPLIED and complaint.replied_at is not None:
        return Reply(text=customer.text(complaint.reply_text), sent_at=complaint.replied_at)
    return None


def _remedy(complaint: Complaint, customer: Customer) -> Remedy | None:
    if complaint.state not in REPLIED or complaint.remedy_kind is None:
        return None
    return Remedy(
        kind=complaint.remedy_kind,
        label=REMEDY_WORDS[complaint.remedy_kind],
        amount=complaint.remedy_amount,
        description=customer.text(complaint.remedy_description),
        to_be_carried_out=complaint.remedy_valued,
        fulfilled_at=complaint.fulfilled_at,
    )
