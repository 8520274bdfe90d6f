"""The move table: every move declares all it is, and everything that knows about moves comes from it."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from app.complaints import workflow
from app.complaints.schemas import ReopenBody
from app.config import Settings
from app.main import create_app
from app.sla import effects as clock
from app.sla.effects import ClockEffect, Effect
from app.vocabulary import ClockKind
from app.webhooks import events
from app.webhooks.schemas import EventType, model_of
from tests.conftest import Caller


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return create_app(Settings(database_url="sqlite:///:memory:")).openapi()


def carries_feedback_deadline(event_type: EventType) -> bool:
    data = model_of(event_type).model_fields["data"].annotation
    assert data is not None
    return "store_feedback_due_at" in data.model_fields


def gaps(move: workflow.Move, document: dict[str, Any]) -> list[str]:
    """What the move's declaration leaves undecided, or what was not derived from it."""
    found = []
    operation = document["paths"].get(f"/v1/complaints/{{complaint_id}}/{move.name}", {}).get("post")
    if operation is None:
        found.append("no endpoint")
    else:
        if operation["summary"] != move.summary:
            found.append(f"endpoint summary {operation['summary']!r}")
        if not operation["description"].startswith(move.description + "\n\nFrom: "):
            found.append("endpoint description not the declared one")
        body = operation["requestBody"]["content"]["application/json"]["schema"]
        if move.body.__name__ not in str(body):
            found.append(f"endpoint body {body} is not {move.body.__name__}")
    if move.event not in set(EventType):
        found.append(f"event {move.event!r} is no webhook event type")
    else:
        if events.TYPE_OF_MOVE.get(move.name) != move.event:
            found.append(f"the webhooks send {events.TYPE_OF_MOVE.get(move.name)} for it")
        if move.dispatches and not carries_feedback_deadline(EventType(move.event)):
            found.append(f"the {move.event} webhook does not carry the store's feedback deadline")
    undecided = set(ClockKind) - set(move.clocks)
    if undecided:
        found.append(f"no effect on the clocks {sorted(undecided)}")
    for kind, effect in move.clocks.items():
        if not isinstance(effect, ClockEffect):
            found.append(f"the effect on {kind} is not a ClockEffect")
        elif effect.effect is not Effect.leave and not effect.why.format(move="m", actor="a", unit="store s"):
            found.append(f"the effect on {kind} gives the clock's history no reason")
    return found


@pytest.mark.parametrize("move", workflow.MOVES, ids=lambda move: move.name)
def test_every_move_is_declared_whole(move: workflow.Move, document: dict[str, Any]) -> None:
    assert gaps(move, document) == []


INVESTIGATE_CLOCKS = workflow.MOVES_BY_NAME["investigate"].clocks
BROKEN = [
    pytest.param({"name": "call-the-police"}, "no endpoint", id="no-endpoint"),
    pytest.param({"summary": "Something else"}, "endpoint summary", id="summary"),
    pytest.param({"description": "Something else."}, "endpoint description", id="description"),
    pytest.param({"body": ReopenBody}, "endpoint body", id="body"),
    pytest.param({"event": "complaint.investigated"}, "no webhook event type", id="unknown-event"),
    pytest.param({"event": "complaint.resolved"}, "the webhooks send", id="other-event"),
    pytest.param({"clocks": {ClockKind.store_feedback: clock.DISPATCH}}, "no effect on the clocks", id="clocks"),
    pytest.param({"clocks": {**INVESTIGATE_CLOCKS, ClockKind.follow_up: clock.start("")}}, "no reason", id="no-reason"),
    pytest.param({"event": "complaint.sent_back"}, "feedback deadline", id="dispatch-without-deadline"),
]


@pytest.mark.parametrize(("change", "gap"), BROKEN)
def test_a_declaration_missing_something_is_found(change: dict[str, Any], gap: str, document: dict[str, Any]) -> None:
    investigate = workflow.MOVES_BY_NAME["investigate"]
    assert any(gap in found for found in gaps(dataclasses.replace(investigate, **change), document))


def test_every_transition_of_the_machine_comes_from_the_table() -> None:
    machine = {
        (name, source, transition.dest, tuple(condition.func for condition in transition.conditions))
        for name, event in workflow.MACHINE.events.items()
        for source, transitions in event.transitions.items()
        for transition in transitions
    }
    declared = {
        (move.name, source.value, move.dest.value if move.dest else None, move.guards)
        for move in workflow.MOVES
        for source in move.sources
    }
    assert machine == declared


@pytest.mark.parametrize("event_type", EventType)
def test_the_events_of_moves_that_may_dispatch_and_only_those_carry_the_feedback_deadline(
    event_type: EventType,
) -> None:
    assert carries_feedback_deadline(event_type) == (event_type in events.DISPATCHING_TYPES)


def test_the_workflow_document_shows_every_move_as_declared(handler: Caller) -> None:
    shown = handler.get("/v1/workflow").json()["moves"]
    assert [
        (m["name"], m["path"], m["sources"], m["dest"], m["roles"], [g["name"] for g in m["guards"]]) for m in shown
    ] == [
        (
            move.name,
            f"/v1/complaints/{{id}}/{move.name}",
            list(move.sources),
            move.dest,
            sorted(move.roles),
            [guard.name for guard in move.guards],
        )
        for move in workflow.MOVES
    ]
