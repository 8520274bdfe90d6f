"""The state machine itself, without a database: one machine, fired on complaint objects it does not keep."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from app.auth.models import Role
from app.auth.principal import Principal
from app.complaints import workflow
from app.complaints.models import Complaint, State
from app.complaints.schemas import InvestigateBody, RevisitBody

AT = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)
HANDLER = Principal(key_id=uuid.uuid4(), key_name="crm", role=Role.handler, store_id=None, authority=Decimal(0))


def complaint_in(state: State) -> Complaint:
    return Complaint(id=uuid.uuid4(), state=state, reopen_count=0, version=3)


def test_the_machine_keeps_no_model() -> None:
    complaint = complaint_in(State.accepted)
    move = workflow.MoveRequest(actor="handler-07", principal=HANDLER, at=AT, body=InvestigateBody(store_id="S1"))
    workflow.fire(complaint, "investigate", move)
    assert complaint.state == State.investigating
    assert workflow.MACHINE.models == []
    assert not hasattr(complaint, "investigate"), "no trigger methods are bound to complaints"


ILLEGAL = [(state, move.name) for state in State for move in workflow.MOVES if state not in move.sources]


@pytest.mark.parametrize(("state", "move"), ILLEGAL)
def test_a_move_from_a_state_it_does_not_start_from_changes_nothing(state: State, move: str) -> None:
    complaint = complaint_in(state)
    request = workflow.MoveRequest(actor="handler-07", principal=HANDLER, at=AT, body=None)
    with pytest.raises(workflow.NotAllowedNow):
        workflow.fire(complaint, move, request)
    assert complaint.state == state
    assert request.records == []


def test_a_refusing_guard_changes_nothing() -> None:
    complaint = complaint_in(State.resolved)
    request = workflow.MoveRequest(
        actor="handler-07", principal=HANDLER, at=AT, body=RevisitBody(satisfaction="unsatisfied")
    )
    with pytest.raises(workflow.GuardFailed) as refused:
        workflow.fire(complaint, "revisit", request)
    assert refused.value.guard == "satisfied_or_neutral"
    assert complaint.state == State.resolved
    assert complaint.revisited_at is None and complaint.satisfaction is None
    assert request.records == []


def test_each_move_records_one_history_entry_with_before_and_after() -> None:
    complaint = complaint_in(State.accepted)
    request = workflow.MoveRequest(actor="handler-07", principal=HANDLER, at=AT, body=InvestigateBody(store_id="S1"))
    entry = workflow.fire(complaint, "investigate", request)
    assert (entry.move, entry.from_state, entry.to_state) == ("investigate", State.accepted, State.investigating)
    assert entry.payload == {"store_id": "S1"}
    assert complaint.investigating_at == AT and complaint.dispatched_at == AT


def test_legal_moves_follow_the_domain_table() -> None:
    # Escalating and the incident report of a major complaint go in every open state (the report in any state).
    either = ["escalate", "incident-report"]
    assert workflow.legal_moves(State.accepted) == ["reject", "investigate", "reassign", *either]
    investigating = ["reject", "store-feedback", "propose", "resolve", "reassign", *either]
    assert workflow.legal_moves(State.investigating) == investigating
    assert workflow.legal_moves(State.awaiting_approval) == ["approve", "send-back", "reassign", *either]
    resolved = ["fulfil", "call-attempt", "revisit", "reopen", "reassign", *either]
    assert workflow.legal_moves(State.resolved) == resolved
    assert workflow.legal_moves(State.revisited) == ["reopen", "incident-report"]
    assert workflow.legal_moves(State.rejected) == ["reopen", "incident-report"]
