"""The complaint lifecycle as one ``transitions`` state machine.

The machine is built once, with no model of its own; a move fires its event on the complaint loaded for the
request. Guards are ``conditions`` that refuse with a reason; callbacks change the complaint and record the
history entry, nothing else: no I/O here, so a refused or failed move leaves only the database transaction to
roll back.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from decimal import Decimal
from functools import cache
from typing import Any, cast

from pydantic import BaseModel
from transitions import EventData, Machine, MachineError, Transition

from app.auth.models import Role
from app.auth.principal import APPROVING_ROLES, HANDLING_ROLES, Principal
from app.complaints import schemas as s
from app.complaints.models import PAID_REMEDIES, Complaint, ComplaintEvent, RemedyKind, Satisfaction, State
from app.sla import effects as clock
from app.sla.effects import ClockEffect, Effect
from app.vocabulary import ClockKind, Priority, ResponsibleUnit, Trigger, UnitKind, dispatched_units, unit_named


class GuardFailed(Exception):
    def __init__(self, guard: str, detail: str) -> None:
        super().__init__(detail)
        self.guard = guard
        self.detail = detail


class NotAllowedNow(Exception):
    """The move does not start from the complaint's current state."""


@dataclass
class MoveRequest:
    """One attempt at a move: who, when, with what input. Callbacks append the history entry to ``records``."""

    actor: str
    principal: Principal
    at: datetime
    body: Any = None
    records: list[ComplaintEvent] = field(default_factory=list)
    unit: ResponsibleUnit | None = None  # the responsible unit the move speaks for (a feedback's), set by it
    tz: tzinfo = UTC  # the local time zone: follow-up calls count the local days they were made on
    unreachable_after: int = 3  # unanswered calls on this many days let the customer be closed as unreachable


def _request(event: EventData) -> MoveRequest:
    request: MoveRequest = event.kwargs["move"]
    return request


def _step(event: EventData) -> tuple[Complaint, MoveRequest]:
    """The complaint a move fires on (``transitions`` types its model as ``object``) and the attempt."""
    return cast(Complaint, event.model), _request(event)


def _transition(event: EventData) -> Transition:
    assert event.transition is not None, "callbacks run inside a transition"
    return event.transition


@dataclass(frozen=True)
class Guard:
    """A condition of a move, with the words the workflow document shows for it."""

    name: str
    words: str
    refusal: Callable[[Complaint, MoveRequest], str | None]

    def __call__(self, event: EventData) -> bool:
        detail = self.refusal(*_step(event))
        if detail is not None:
            raise GuardFailed(self.name, detail)
        return True


def feedback_unit(complaint: Complaint, body: Any) -> tuple[ResponsibleUnit | None, str | None]:
    """The unit a feedback is for, or why it cannot be taken: the unit its body names (a store or department key's
    body names its own: Viewer.own_unit), else the one unit the complaint was dispatched to."""
    dispatched = dispatched_units(complaint.responsible_store_id, complaint.responsible_department)
    if not dispatched:
        return None, "the complaint was not dispatched to a store or department"
    named = unit_named(body.store_id, body.department)
    if named is None and len(dispatched) > 1:
        return None, f"the complaint was dispatched to {' and '.join(map(str, dispatched))}: name the unit"
    unit = named or dispatched[0]
    if unit not in dispatched:
        return None, f"feedback for {unit} but the complaint was dispatched to {' and '.join(map(str, dispatched))}"
    return unit, None


def _dispatched_store(complaint: Complaint, move: MoveRequest) -> str | None:
    return feedback_unit(complaint, move.body)[1]


def _worth(kind: RemedyKind | None, amount: Decimal) -> str:
    return f"{'an' if str(kind)[0] in 'aeiou' else 'a'} {kind} worth {amount} yuan"


def _within_own_authority(complaint: Complaint, move: MoveRequest) -> str | None:
    remedy = move.body.remedy
    if move.principal.covers(remedy.amount):
        return None
    worth = _worth(remedy.kind, remedy.amount)
    return f"{worth} exceeds this key's authority of {move.principal.authority} yuan; propose it for approval"


def _authority_covers_amount(complaint: Complaint, move: MoveRequest) -> str | None:
    amount = complaint.remedy_amount or Decimal(0)
    if move.principal.covers(amount):
        return None
    worth = _worth(complaint.remedy_kind, amount)
    return f"{worth} exceeds the approver's authority of {move.principal.authority} yuan"


def _told_after_receipt(complaint: Complaint, move: MoveRequest) -> str | None:
    told = getattr(move.body, "replied_at", None)
    since = max(complaint.received_at, complaint.reopened_at or complaint.received_at)
    if told is None or told >= since:
        return None
    return f"replied_at {told.isoformat()} is before the complaint was received (or reopened), {since.isoformat()}"


def _reply_channel_known(complaint: Complaint, move: MoveRequest) -> str | None:
    if complaint.reply_channel is not None or (move.body is not None and move.body.reply_channel is not None):
        return None
    return "the proposal planned no reply channel: say how the reply was sent (reply_channel)"


def _remedy_owed(complaint: Complaint, move: MoveRequest) -> str | None:
    if complaint.remedy_owed:
        return None
    if complaint.fulfilled_at is not None:
        return f"the remedy was already carried out, by {complaint.fulfilled_by}"
    return f"{'an apology' if complaint.remedy_kind is RemedyKind.apology else 'this remedy'} has no value to carry out"


def _fulfilment(move: MoveRequest) -> s.FulfilBody:
    """What was sent with ``fulfil``: its body is optional (goods exchanged, now, by the X-Actor)."""
    return cast(s.FulfilBody, move.body) if move.body is not None else s.FulfilBody()


def _payment_referenced(complaint: Complaint, move: MoveRequest) -> str | None:
    if complaint.remedy_kind not in PAID_REMEDIES or _fulfilment(move).payment_reference:
        return None
    return f"a {complaint.remedy_kind} is paid: give the payment's reference (payment_reference)"


def _fulfilled_after_receipt(complaint: Complaint, move: MoveRequest) -> str | None:
    done = _fulfilment(move).fulfilled_at
    if done is None or done >= complaint.received_at:
        return None
    return f"fulfilled_at {done.isoformat()} is before the complaint was received"


def _remedy_not_owed(complaint: Complaint, move: MoveRequest) -> str | None:
    if not complaint.remedy_owed:
        return None
    worth = _worth(complaint.remedy_kind, complaint.remedy_amount or Decimal(0))
    return f"the remedy is still owed: {worth} has not been carried out; record it with fulfil before closing"


def _tried_enough(complaint: Complaint, move: MoveRequest) -> str | None:
    if move.body.satisfaction is not Satisfaction.unreachable:
        return None
    days, needed = complaint.call_attempt_days, move.unreachable_after
    if days >= needed:
        return None
    return (
        f"unreachable only after unanswered calls on {needed} different days: "
        f"{complaint.call_attempts} recorded on {days} (call-attempt)"
    )


def _not_the_proposer(complaint: Complaint, move: MoveRequest) -> str | None:
    if complaint.proposed_by is not None and complaint.proposed_by.casefold() == move.actor.casefold():
        return f"{move.actor} proposed this remedy and may not approve it"
    return None


def _satisfied_or_neutral(complaint: Complaint, move: MoveRequest) -> str | None:  # or unreachable
    if move.body.satisfaction is Satisfaction.unsatisfied:
        return "an unsatisfied customer does not close the complaint: reopen it with the reason"
    return None


def _responsible_unit_named(complaint: Complaint, move: MoveRequest) -> str | None:
    if complaint.responsible_store_id or complaint.responsible_department or move.body.store_id or move.body.department:
        return None
    return "name the store or department responsible (store_id or department)"


# Named for stores, as it always was: clients match the name. It guards a department's feedback the same way.
DISPATCHED_STORE = Guard(
    "dispatched_store",
    "only the store or department the complaint was dispatched to, or a handler on its behalf",
    _dispatched_store,
)
WITHIN_OWN_AUTHORITY = Guard(
    "within_own_authority", "the remedy amount is within the acting key's own authority", _within_own_authority
)
AUTHORITY_COVERS_AMOUNT = Guard(
    "authority_covers_amount", "the approver's authority covers the remedy's value", _authority_covers_amount
)
TOLD_AFTER_RECEIPT = Guard(
    "told_after_receipt", "the reply was sent after the complaint was received (or reopened)", _told_after_receipt
)
REPLY_CHANNEL_KNOWN = Guard(
    "reply_channel_known", "the reply's channel is known (planned at the proposal, or given now)", _reply_channel_known
)
REMEDY_OWED = Guard("remedy_owed", "the remedy has a value and is not yet carried out", _remedy_owed)
PAYMENT_REFERENCED = Guard(
    "payment_referenced",
    "money paid (refund, price reduction, compensation) has its payment reference",
    _payment_referenced,
)
FULFILLED_AFTER_RECEIPT = Guard(
    "fulfilled_after_receipt", "carried out after the complaint was received", _fulfilled_after_receipt
)
REMEDY_NOT_OWED = Guard(
    "remedy_not_owed", "no remedy is still owed: one with a value has been carried out (fulfil)", _remedy_not_owed
)
TRIED_ENOUGH = Guard(
    "tried_enough",
    "unreachable only after unanswered calls on enough different days (TOUSU_FOLLOW_UP_UNREACHABLE_AFTER_DAYS)",
    _tried_enough,
)
NOT_THE_PROPOSER = Guard("not_the_proposer", "the approver is not the person who proposed", _not_the_proposer)
SATISFIED_OR_NEUTRAL = Guard(
    "satisfied_or_neutral",
    "the customer is satisfied, neutral or unreachable (unsatisfied: reopen)",
    _satisfied_or_neutral,
)
RESPONSIBLE_UNIT_NAMED = Guard(
    "responsible_unit_named", "a store or department is responsible (known, or named now)", _responsible_unit_named
)


def _someone_else(complaint: Complaint, move: MoveRequest) -> str | None:
    if move.body.owner.casefold() == complaint.owner.casefold():
        return f"{complaint.owner} already owns the complaint"
    return None


SOMEONE_ELSE = Guard("someone_else", "the new owner is not the current one", _someone_else)


def _raises_priority(complaint: Complaint, move: MoveRequest) -> str | None:
    if move.body.priority.rank > complaint.priority.rank:
        return None
    return (
        f"the complaint is already {complaint.priority}: escalate raises the priority "
        "(lowering it is a correction by a manager, with a reason)"
    )


def _incident_report_due(complaint: Complaint, move: MoveRequest) -> str | None:
    if complaint.incident_report_due:
        return None
    if complaint.incident_reported_at is not None:
        return f"the incident report was recorded at {complaint.incident_reported_at.isoformat()}"
    return "only a major complaint owes a written incident report"


def _reported_after_receipt(complaint: Complaint, move: MoveRequest) -> str | None:
    reported = move.body.reported_at
    if reported is None or reported >= complaint.received_at:
        return None
    return f"reported_at {reported.isoformat()} is before the complaint was received"


RAISES_PRIORITY = Guard("raises_priority", "the new priority is higher than the complaint's", _raises_priority)
INCIDENT_REPORT_DUE = Guard(
    "incident_report_due", "a major complaint whose written incident report is not yet recorded", _incident_report_due
)
REPORTED_AFTER_RECEIPT = Guard(
    "reported_after_receipt", "the report was submitted after the complaint was received", _reported_after_receipt
)


# Callbacks: each applies its move's input to the complaint.


def _reject(event: EventData) -> None:
    complaint, move = _step(event)
    complaint.rejection_reason = move.body.reason
    complaint.reply_text = move.body.explanation


def _dispatch(complaint: Complaint, move: MoveRequest) -> None:
    complaint.responsible_store_id = move.body.store_id
    complaint.responsible_department = move.body.department
    complaint.dispatched_at = move.at if move.body.store_id or move.body.department else None


def _investigate(event: EventData) -> None:
    _dispatch(*_step(event))


def _store_feedback(event: EventData) -> None:
    complaint, move = _step(event)
    complaint.responsibility = move.body.responsibility
    unit, _ = feedback_unit(complaint, move.body)  # the guard has let it through: there is one
    assert unit is not None
    move.unit = unit
    # The history entry names the unit the feedback is for, also when a handler records it on its behalf.
    named = {"store_id": unit.id} if unit.kind is UnitKind.store else {"department": unit.id}
    move.body = move.body.model_copy(update={"store_id": None, "department": None, **named})


def _set_remedy(complaint: Complaint, body: Any) -> None:
    complaint.remedy_kind = body.remedy.kind
    complaint.remedy_amount = body.remedy.amount
    complaint.remedy_description = body.remedy.description
    complaint.reply_text = body.reply
    complaint.reply_channel = body.reply_channel  # planned at a proposal, as sent at a resolution
    complaint.replied_at = None


def _replied(complaint: Complaint, move: MoveRequest) -> None:
    """The reply sent: the remedy is now to be carried out and the customer called back, afresh."""
    complaint.replied_at = getattr(move.body, "replied_at", None) or move.at
    complaint.fulfilled_at = complaint.fulfilled_by = complaint.payment_reference = None
    complaint.call_attempts = complaint.call_attempt_days = 0
    complaint.last_call_at = complaint.last_call_outcome = complaint.call_back_at = None
    complaint.improvement = None


def _propose(event: EventData) -> None:
    complaint, move = _step(event)
    _set_remedy(complaint, move.body)
    complaint.proposed_by = move.actor
    complaint.approved_by = None


def _resolve(event: EventData) -> None:
    complaint, move = _step(event)
    _set_remedy(complaint, move.body)
    _replied(complaint, move)
    complaint.proposed_by = None
    complaint.approved_by = move.actor


def _approve(event: EventData) -> None:
    complaint, move = _step(event)
    if move.body is not None and move.body.reply:
        complaint.reply_text = move.body.reply
    if move.body is not None and move.body.reply_channel:
        complaint.reply_channel = move.body.reply_channel
    _replied(complaint, move)
    complaint.approved_by = move.actor


def _send_back(event: EventData) -> None:
    complaint, _ = _step(event)
    complaint.remedy_kind = complaint.remedy_amount = complaint.remedy_description = None
    complaint.reply_text = complaint.proposed_by = complaint.reply_channel = None


def _fulfil(event: EventData) -> None:
    complaint, move = _step(event)
    body = _fulfilment(move)
    complaint.fulfilled_at = body.fulfilled_at or move.at
    complaint.fulfilled_by = move.actor
    complaint.payment_reference = body.payment_reference


def _call_attempt(event: EventData) -> None:
    complaint, move = _step(event)
    last = complaint.last_call_at
    if last is None or last.astimezone(move.tz).date() != move.at.astimezone(move.tz).date():
        complaint.call_attempt_days += 1  # calls are recorded as they happen: a new day is a later day
    complaint.call_attempts += 1
    complaint.last_call_at = move.at
    complaint.last_call_outcome = move.body.outcome
    complaint.call_back_at = move.body.call_back_at


def _revisit(event: EventData) -> None:
    complaint, move = _step(event)
    complaint.satisfaction = move.body.satisfaction
    complaint.improvement = move.body.improvement


def _reopen(event: EventData) -> None:
    complaint, move = _step(event)
    if move.body.store_id or move.body.department:
        _dispatch(complaint, move)
    if _transition(event).source == State.resolved:
        complaint.satisfaction = Satisfaction.unsatisfied
    complaint.reopen_count += 1
    complaint.reopened_at = move.at
    complaint.rejection_reason = None


def _reassign(event: EventData) -> None:
    complaint, move = _step(event)
    # The history entry names the owner before: the body names the new one.
    move.body = s.ReassignEntry(previous_owner=complaint.owner, **move.body.model_dump())
    complaint.owner = move.body.owner


def _escalate(event: EventData) -> None:
    complaint, move = _step(event)
    # The history entry names the priority before: the body names the new one.
    move.body = s.EscalateEntry(previous_priority=complaint.priority, **move.body.model_dump())
    complaint.priority = move.body.priority


def _incident_report(event: EventData) -> None:
    complaint, move = _step(event)
    complaint.incident_reported_at = move.body.reported_at or move.at
    complaint.incident_report = move.body.report


def _record(event: EventData) -> None:
    """After every move: stamp the state's time and keep the history entry."""
    complaint, move = _step(event)
    transition = _transition(event)
    before = State(transition.source)  # event.state is already the destination here
    if transition.dest is not None:
        setattr(complaint, f"{complaint.state}_at", move.at)
    complaint.updated_at = move.at
    move.records.append(history_entry(complaint, move, event.event.name, before))


def history_entry(complaint: Complaint, move: MoveRequest, name: str, before: State | None) -> ComplaintEvent:
    payload = move.body.model_dump(mode="json", exclude_none=True) if isinstance(move.body, BaseModel) else {}
    return ComplaintEvent(
        complaint_id=complaint.id,
        move=name,
        from_state=before,
        to_state=complaint.state,
        actor=move.actor,
        api_key_id=move.principal.key_id,
        at=move.at,
        payload=payload,
    )


STATE_LABELS = {
    State.accepted: "受理",
    State.rejected: "投诉不成立",
    State.investigating: "调查中",
    State.awaiting_approval: "待审批",
    State.resolved: "已答复",
    State.revisited: "已回访",
}


def _unit_may_feed_back(complaint: Complaint, principal: Principal) -> bool:
    dispatched = dispatched_units(complaint.responsible_store_id, complaint.responsible_department)
    return bool(dispatched) and (principal.unit is None or principal.unit in dispatched)


@dataclass(frozen=True)
class Move:
    """Everything a move is, declared once: the machine's transition, the endpoint and its OpenAPI text, the
    workflow document, the webhook it emits and what it does to each kind of clock."""

    name: str
    label: str
    sources: tuple[State, ...]
    dest: State | None  # None: the state stays
    roles: frozenset[Role]
    requires: str
    body: type[BaseModel]  # the endpoint's input
    summary: str
    description: str  # the endpoint's; the states and roles are added to it
    event: str  # the webhook event type it emits (a value of app.webhooks.schemas.EventType)
    # One effect for every kind of clock, each decided here (no default), applied after the move.
    clocks: Mapping[ClockKind, ClockEffect]
    guards: tuple[Guard, ...] = ()
    after: Callable[[EventData], None] | None = None
    offered: Callable[[Complaint, Principal], bool] | None = None  # beyond state and role, for ``allowed_moves``
    # The escalation the move makes (the trigger of the ladder it fires, if any, as the move leaves the complaint).
    escalates: Callable[[Complaint], Trigger | None] | None = None

    @property
    def dispatches(self) -> bool:
        """Whether the move may dispatch the complaint to a store or department (and so start its feedback
        clock)."""
        return self.clocks[ClockKind.store_feedback].effect is Effect.dispatch


_ALL_HANDLERS = HANDLING_ROLES
_NO_CLOCK = {kind: clock.LEAVE for kind in ClockKind}
_WRITTEN_REPLY_GIVEN = {
    ClockKind.store_feedback: clock.cancel("{move} before feedback"),
    ClockKind.written_reply: clock.met("{move}: written reply given"),
}
_FOLLOW_UP_DUE = clock.start("resolved: the follow-up call is due")
# Resolving and approving send the reply: the written-reply clock is met when the customer was told (replied_at),
# and a remedy with a value is now to be carried out.
_REPLY_SENT = {
    **_NO_CLOCK,
    ClockKind.store_feedback: clock.cancel("{move} before feedback"),
    ClockKind.written_reply: clock.met("{move}: written reply sent", at="replied_at"),
    ClockKind.follow_up: _FOLLOW_UP_DUE,
    ClockKind.fulfilment: clock.start("resolved: the remedy is to be carried out", only_if="remedy_owed"),
}
_OPEN = (State.accepted, State.investigating, State.awaiting_approval, State.resolved)

MOVES: tuple[Move, ...] = (
    Move(
        "reject",
        "驳回（投诉不成立）",
        (State.accepted, State.investigating),
        State.rejected,
        _ALL_HANDLERS,
        "an explanation to the customer, in writing, and a reason code",
        body=s.RejectBody,
        summary="Reject as unfounded (投诉不成立)",
        description="Judges the complaint unfounded, at once or verified after investigation (经实地调查); the "
        "explanation is the written reply to the customer. A responsible unit's feedback still owed is no longer "
        "waited for.",
        event="complaint.rejected",
        clocks={**_NO_CLOCK, **_WRITTEN_REPLY_GIVEN},
        after=_reject,
    ),
    Move(
        "investigate",
        "派单调查",
        (State.accepted,),
        State.investigating,
        _ALL_HANDLERS,
        "the responsible store or department; each is dispatched the complaint",
        body=s.InvestigateBody,
        summary="Dispatch and investigate (调查)",
        description="Names the responsible store or department (or both). Each is dispatched the complaint record "
        "and owes its feedback.",
        event="complaint.dispatched",
        clocks={**_NO_CLOCK, ClockKind.store_feedback: clock.DISPATCH},
        after=_investigate,
    ),
    Move(
        "store-feedback",
        "责任单位反馈",
        (State.investigating,),
        None,
        _ALL_HANDLERS | {Role.store, Role.department},
        "cause, responsible person and responsibility finding",
        body=s.StoreFeedbackBody,
        summary="Record the responsible unit's feedback (门店/部门反馈)",
        description="The findings of the store or department the complaint was dispatched to: cause, responsible "
        "person, responsibility. Only that unit's key, or a handler on its behalf (naming `store_id` or "
        "`department` when the complaint was dispatched to both). The state does not change; the unit's "
        "feedback clock is met.",
        event="complaint.store_feedback_received",
        clocks={**_NO_CLOCK, ClockKind.store_feedback: clock.met("feedback recorded by {actor}")},
        guards=(DISPATCHED_STORE,),
        after=_store_feedback,
        offered=_unit_may_feed_back,
    ),
    Move(
        "propose",
        "提交审批",
        (State.investigating,),
        State.awaiting_approval,
        _ALL_HANDLERS,
        "a remedy (kind, value in yuan), the written reply draft and the channel it will go by",
        body=s.ProposeBody,
        summary="Propose a remedy for approval (待审批)",
        description="A remedy with its value, the written reply draft and the planned reply channel, for someone "
        "whose approval authority covers the value.",
        event="complaint.submitted_for_approval",
        clocks=_NO_CLOCK,
        after=_propose,
    ),
    Move(
        "resolve",
        "直接答复",
        (State.investigating,),
        State.resolved,
        _ALL_HANDLERS,
        "a remedy with its value, the written reply, and how and when it was sent",
        body=s.ResolveBody,
        summary="Resolve within own authority (已答复)",
        description="Resolves directly when the remedy's value is within the acting key's own authority (for a "
        "handler: none, such as an apology; an exchange or a free repair has the value of the goods or service). "
        "Records the reply as sent: its channel and when the customer was told (the written-reply clock is met "
        "then). A remedy with a value starts the fulfilment clock.",
        event="complaint.resolved",
        clocks=_REPLY_SENT,
        guards=(WITHIN_OWN_AUTHORITY, TOLD_AFTER_RECEIPT),
        after=_resolve,
    ),
    Move(
        "approve",
        "审批通过",
        (State.awaiting_approval,),
        State.resolved,
        APPROVING_ROLES,
        "optionally the final wording of the reply, its channel if not the planned one, and when it was sent",
        body=s.ApproveBody,
        summary="Approve the proposed remedy",
        description="The approver's authority must cover the remedy's value, and the approver may not be the "
        "proposer. Records the reply as sent, by the channel planned at the proposal unless `reply_channel` "
        "says otherwise, at `replied_at` (default: now); the written-reply clock is met then. A remedy with a "
        "value starts the fulfilment clock.",
        event="complaint.resolved",
        clocks=_REPLY_SENT,
        guards=(AUTHORITY_COVERS_AMOUNT, NOT_THE_PROPOSER, REPLY_CHANNEL_KNOWN, TOLD_AFTER_RECEIPT),
        after=_approve,
    ),
    Move(
        "send-back",
        "退回重拟",
        (State.awaiting_approval,),
        State.investigating,
        _ALL_HANDLERS,
        "a reason: what the new proposal must change",
        body=s.SendBackBody,
        summary="Send a proposal back",
        description="Asks for a new countermeasure; the complaint returns to investigation.",
        event="complaint.sent_back",
        clocks=_NO_CLOCK,
        after=_send_back,
    ),
    Move(
        "fulfil",
        "落实处理结果",
        (State.resolved,),
        None,
        _ALL_HANDLERS,
        "for money paid, the payment's reference; when it was carried out",
        body=s.FulfilBody,
        summary="Record the remedy carried out (落实)",
        description="The refund or compensation paid (with its payment reference), the goods exchanged, the "
        "repair done: who (X-Actor) and when (`fulfilled_at`, default now). Meets the fulfilment clock. The state "
        "does not change.",
        event="complaint.fulfilled",
        clocks={**_NO_CLOCK, ClockKind.fulfilment: clock.met("remedy carried out by {actor}", at="fulfilled_at")},
        guards=(REMEDY_OWED, PAYMENT_REFERENCED, FULFILLED_AFTER_RECEIPT),
        after=_fulfil,
        offered=lambda complaint, _: complaint.remedy_owed,
    ),
    Move(
        "call-attempt",
        "回访未接通",
        (State.resolved,),
        None,
        _ALL_HANDLERS,
        "the outcome of a follow-up call that did not get through (and the time the customer named)",
        body=s.CallAttemptBody,
        summary="Record a follow-up call that did not get through",
        description="No answer, busy, wrong number, or a call-back at the time the customer named. The "
        "follow-up clock's `next_call_slot` moves to that time, or else to the customer's good hours on a later "
        "day. The state does not change.",
        event="complaint.call_attempted",
        clocks=_NO_CLOCK,
        after=_call_attempt,
    ),
    Move(
        "revisit",
        "回访",
        (State.resolved,),
        State.revisited,
        _ALL_HANDLERS,
        "the customer's satisfaction (with what to improve, when neutral) and notes of the follow-up call",
        body=s.RevisitBody,
        summary="Record the follow-up call (回访)",
        description="Closes the complaint when the customer is satisfied or neutral (saying what to improve), or "
        "as unreachable after unanswered calls on enough different days. An unsatisfied customer reopens it "
        "instead. Refused while the remedy is still owed (not yet carried out: fulfil).",
        event="complaint.revisited",
        clocks={**_NO_CLOCK, ClockKind.follow_up: clock.met("follow-up call made")},
        guards=(SATISFIED_OR_NEUTRAL, REMEDY_NOT_OWED, TRIED_ENOUGH),
        after=_revisit,
    ),
    Move(
        "reopen",
        "重新处理",
        (State.resolved, State.revisited, State.rejected),
        State.investigating,
        _ALL_HANDLERS,
        "a reason; the reopen count rises",
        body=s.ReopenBody,
        summary="Reopen (重新处理)",
        description="From resolved, revisited or rejected, back to investigation; the reopen count rises.",
        event="complaint.reopened",
        clocks={
            ClockKind.store_feedback: clock.DISPATCH,
            ClockKind.written_reply: clock.start("reopened: a new written reply is due"),
            ClockKind.follow_up: clock.met("reopened after the follow-up"),
            ClockKind.fulfilment: clock.cancel("reopened: the remedy is decided again"),
            ClockKind.incident_report: clock.LEAVE,
        },
        guards=(RESPONSIBLE_UNIT_NAMED,),
        after=_reopen,
    ),
    Move(
        "reassign",
        "转交首问责任人",
        (State.accepted, State.investigating, State.awaiting_approval, State.resolved),
        None,
        _ALL_HANDLERS,
        "the new owner and the reason",
        body=s.ReassignBody,
        summary="Hand the complaint to another owner (首问责任人)",
        description="The new owner follows the complaint and replies from now on; the reason is kept in the "
        "history. The state and the clocks do not change.",
        event="complaint.reassigned",
        clocks=_NO_CLOCK,
        guards=(SOMEONE_ELSE,),
        after=_reassign,
    ),
    Move(
        "escalate",
        "升级",
        _OPEN,
        None,
        _ALL_HANDLERS,
        "a higher priority and the reason",
        body=s.EscalateBody,
        summary="Raise the priority and escalate (升级)",
        description="Raises the priority (normal < urgent < media < major; 重大: injury, food safety, many customers, "
        "a regulator) with a reason, never lowers it. The running clocks restart on the new priority's targets, "
        "counted from when they started; a major complaint's written incident report falls due (24 hours); and "
        "the new priority escalates up the ladder (`complaint.escalated`, naming whom to tell). The state does "
        "not change.",
        event="complaint.priority_raised",
        clocks={
            **{kind: clock.RESTART for kind in ClockKind},
            ClockKind.incident_report: clock.start(
                "raised to major: the written incident report is due", only_if="incident_report_due"
            ),
        },
        guards=(RAISES_PRIORITY,),
        after=_escalate,
        offered=lambda complaint, _: complaint.priority is not Priority.major,
        escalates=lambda complaint: Trigger.of_priority(complaint.priority),
    ),
    Move(
        "incident-report",
        "重大事件书面报告",
        (*_OPEN, State.revisited, State.rejected),
        None,
        _ALL_HANDLERS,
        "the written incident report of a major complaint",
        body=s.IncidentReportBody,
        summary="Record a major complaint's written incident report (书面报告)",
        description="A major complaint owes its written report within 24 hours of its receipt (or of its raise to "
        "major): what happened, to whom, what was done. Meets the incident-report clock at `reported_at` "
        "(default: now). The state does not change.",
        event="complaint.incident_reported",
        clocks={
            **_NO_CLOCK,
            ClockKind.incident_report: clock.met("incident report recorded by {actor}", at="incident_reported_at"),
        },
        guards=(INCIDENT_REPORT_DUE, REPORTED_AFTER_RECEIPT),
        after=_incident_report,
        offered=lambda complaint, _: complaint.incident_report_due,
    ),
)
MOVES_BY_NAME = {move.name: move for move in MOVES}

MACHINE = Machine(
    model=None,
    states=[state.value for state in State],
    initial=State.accepted.value,
    transitions=[
        {
            "trigger": move.name,
            "source": [s.value for s in move.sources],
            "dest": move.dest.value if move.dest else None,
            "conditions": list(move.guards),
            "after": [move.after] if move.after else [],
        }
        for move in MOVES
    ],
    auto_transitions=False,
    send_event=True,
    after_state_change=[_record],
    model_attribute="state",
)


def fire(complaint: Complaint, name: str, move: MoveRequest) -> ComplaintEvent:
    """Apply a move to the complaint. Raises NotAllowedNow or GuardFailed; on success returns its history entry."""
    try:
        MACHINE.events[name].trigger(complaint, move=move)
    except MachineError as exc:
        raise NotAllowedNow(str(exc)) from exc
    (entry,) = move.records
    return entry


def legal_moves(state: State) -> list[str]:
    return [move.name for move in MOVES if state in move.sources]


def moves_for(complaint: Complaint, principal: Principal) -> list[str]:
    """The moves this key could make now (guards that depend on the input are checked when it is sent)."""
    return [
        move.name
        for move in _moves_of(complaint.state, principal.role)
        if move.offered is None or move.offered(complaint, principal)
    ]


@cache
def _moves_of(state: State, role: Role) -> tuple[Move, ...]:
    """The moves a role may make from a state, in their order: worked out once, not for every complaint shown."""
    return tuple(move for move in MOVES if state in move.sources and role in move.roles)


def mermaid(moves: Iterable[Move] = MOVES) -> str:
    lines = ["stateDiagram-v2", "    [*] --> accepted: register"]
    for move in moves:
        for source in move.sources:
            lines.append(f"    {source} --> {move.dest or source}: {move.name}")
    lines.append("    revisited --> [*]")
    return "\n".join(lines)
