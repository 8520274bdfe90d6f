"""The complaint lifecycle as one ``transitions`` state machine.

The machine is built once, with no model of its own; a move fires its event on the complaint loaded for the
request. Guards are ``conditions`` that refuse with a reason; callbacks change the complaint and record the
history entry, nothing else: no I/O here, so a refused or failed move leaves only the database transaction to
roll back.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, cast

from pydantic import BaseModel
from transitions import EventData, Machine, MachineError, Transition

from app.auth.models import Role
from app.auth.principal import APPROVING_ROLES, HANDLING_ROLES, Principal
from app.complaints import schemas as s
from app.complaints.models import Complaint, ComplaintEvent, Satisfaction, State
from app.sla import effects as clock
from app.sla.effects import ClockEffect, Effect
from app.vocabulary import ClockKind, ResponsibleUnit, UnitKind, dispatched_units, unit_named


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


def _within_own_authority(complaint: Complaint, move: MoveRequest) -> str | None:
    amount = move.body.remedy.amount
    if move.principal.covers(amount):
        return None
    return f"a remedy of {amount} yuan exceeds this key's authority of {move.principal.authority} yuan; propose it"


def _authority_covers_amount(complaint: Complaint, move: MoveRequest) -> str | None:
    amount = complaint.remedy_amount or Decimal(0)
    if move.principal.covers(amount):
        return None
    return f"a remedy of {amount} yuan exceeds the approver's authority of {move.principal.authority} yuan"


def _not_the_proposer(complaint: Complaint, move: MoveRequest) -> str | None:
    if complaint.proposed_by is not None and complaint.proposed_by.casefold() == move.actor.casefold():
        return f"{move.actor} proposed this remedy and may not approve it"
    return None


def _satisfied_or_neutral(complaint: Complaint, move: MoveRequest) -> str | None:
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
    "authority_covers_amount", "the approver's authority covers the remedy amount", _authority_covers_amount
)
NOT_THE_PROPOSER = Guard("not_the_proposer", "the approver is not the person who proposed", _not_the_proposer)
SATISFIED_OR_NEUTRAL = Guard(
    "satisfied_or_neutral", "the customer is satisfied or neutral (unsatisfied: reopen)", _satisfied_or_neutral
)
RESPONSIBLE_UNIT_NAMED = Guard(
    "responsible_unit_named", "a store or department is responsible (known, or named now)", _responsible_unit_named
)


def _someone_else(complaint: Complaint, move: MoveRequest) -> str | None:
    if move.body.owner.casefold() == complaint.owner.casefold():
        return f"{complaint.owner} already owns the complaint"
    return None


SOMEONE_ELSE = Guard("someone_else", "the new owner is not the current one", _someone_else)


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


def _propose(event: EventData) -> None:
    complaint, move = _step(event)
    _set_remedy(complaint, move.body)
    complaint.proposed_by = move.actor
    complaint.approved_by = None


def _resolve(event: EventData) -> None:
    complaint, move = _step(event)
    _set_remedy(complaint, move.body)
    complaint.proposed_by = None
    complaint.approved_by = move.actor


def _approve(event: EventData) -> None:
    complaint, move = _step(event)
    if move.body is not None and move.body.reply:
        complaint.reply_text = move.body.reply
    complaint.approved_by = move.actor


def _send_back(event: EventData) -> None:
    complaint, _ = _step(event)
    complaint.remedy_kind = complaint.remedy_amount = complaint.remedy_description = None
    complaint.reply_text = complaint.proposed_by = None


def _revisit(event: EventData) -> None:
    complaint, move = _step(event)
    complaint.satisfaction = move.body.satisfaction


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

    @property
    def dispatches(self) -> bool:
        """Whether the move may dispatch the complaint to a store or department (and so start its feedback
        clock)."""
        return self.clocks[ClockKind.store_feedback].effect is Effect.dispatch


_ALL_HANDLERS = HANDLING_ROLES
_WRITTEN_REPLY_GIVEN = {
    ClockKind.store_feedback: clock.cancel("{move} before feedback"),
    ClockKind.written_reply: clock.met("{move}: written reply given"),
}
_FOLLOW_UP_DUE = clock.start("resolved: the follow-up call is due")
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
        clocks={**_WRITTEN_REPLY_GIVEN, ClockKind.follow_up: clock.LEAVE},
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
        clocks={
            ClockKind.store_feedback: clock.DISPATCH,
            ClockKind.written_reply: clock.LEAVE,
            ClockKind.follow_up: clock.LEAVE,
        },
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
        clocks={
            ClockKind.store_feedback: clock.met("feedback recorded by {actor}"),
            ClockKind.written_reply: clock.LEAVE,
            ClockKind.follow_up: clock.LEAVE,
        },
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
        "a remedy (kind, amount in yuan) and the written reply draft",
        body=s.ProposeBody,
        summary="Propose a remedy for approval (待审批)",
        description="A remedy and the written reply draft, for someone with enough approval authority.",
        event="complaint.submitted_for_approval",
        clocks={
            ClockKind.store_feedback: clock.LEAVE,
            ClockKind.written_reply: clock.LEAVE,
            ClockKind.follow_up: clock.LEAVE,
        },
        after=_propose,
    ),
    Move(
        "resolve",
        "直接答复",
        (State.investigating,),
        State.resolved,
        _ALL_HANDLERS,
        "a remedy and the written reply",
        body=s.ResolveBody,
        summary="Resolve within own authority (已答复)",
        description="Resolves directly when the remedy is within the acting key's own authority (for a handler: "
        "no money, such as an apology).",
        event="complaint.resolved",
        clocks={**_WRITTEN_REPLY_GIVEN, ClockKind.follow_up: _FOLLOW_UP_DUE},
        guards=(WITHIN_OWN_AUTHORITY,),
        after=_resolve,
    ),
    Move(
        "approve",
        "审批通过",
        (State.awaiting_approval,),
        State.resolved,
        APPROVING_ROLES,
        "optionally the final wording of the reply",
        body=s.ApproveBody,
        summary="Approve the proposed remedy",
        description="The approver's authority must cover the amount, and the approver may not be the proposer.",
        event="complaint.resolved",
        clocks={**_WRITTEN_REPLY_GIVEN, ClockKind.follow_up: _FOLLOW_UP_DUE},
        guards=(AUTHORITY_COVERS_AMOUNT, NOT_THE_PROPOSER),
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
        clocks={
            ClockKind.store_feedback: clock.LEAVE,
            ClockKind.written_reply: clock.LEAVE,
            ClockKind.follow_up: clock.LEAVE,
        },
        after=_send_back,
    ),
    Move(
        "revisit",
        "回访",
        (State.resolved,),
        State.revisited,
        _ALL_HANDLERS,
        "the customer's satisfaction and notes of the follow-up call",
        body=s.RevisitBody,
        summary="Record the follow-up call (回访)",
        description="Closes the complaint when the customer is satisfied or neutral. An unsatisfied customer "
        "reopens it instead.",
        event="complaint.revisited",
        clocks={
            ClockKind.store_feedback: clock.LEAVE,
            ClockKind.written_reply: clock.LEAVE,
            ClockKind.follow_up: clock.met("follow-up call made"),
        },
        guards=(SATISFIED_OR_NEUTRAL,),
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
        clocks={
            ClockKind.store_feedback: clock.LEAVE,
            ClockKind.written_reply: clock.LEAVE,
            ClockKind.follow_up: clock.LEAVE,
        },
        guards=(SOMEONE_ELSE,),
        after=_reassign,
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
        for move in MOVES
        if complaint.state in move.sources
        and principal.role in move.roles
        and (move.offered is None or move.offered(complaint, principal))
    ]


def mermaid(moves: Iterable[Move] = MOVES) -> str:
    lines = ["stateDiagram-v2", "    [*] --> accepted: register"]
    for move in moves:
        for source in move.sources:
            lines.append(f"    {source} --> {move.dest or source}: {move.name}")
    lines.append("    revisited --> [*]")
    return "\n".join(lines)
