"""The history is the outbox: no change without its event, no event without its change."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session

from app.complaints.models import ComplaintEvent
from app.config import Settings
from app.db import Database, utcnow
from app.sla import clocks
from app.webhooks import events, outbox
from app.webhooks.dispatcher import Dispatcher
from tests.conftest import Caller, another_customer, investigate_in
from tests.webhooks.conftest import Receiver, subscribe


def test_a_move_whose_transaction_fails_sends_nothing(
    admin: Caller, handler: Caller, receiver: Receiver, dispatcher: Dispatcher, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The history entry was written; then the transaction failed: the entry goes with the change."""
    subscribe(admin, receiver)
    complaint = handler.register()

    def fail(*_: Any, **__: Any) -> None:
        raise RuntimeError("the disk is full")

    with monkeypatch.context() as patched:
        patched.setattr(clocks, "after_move", fail)
        response = handler.post(f"/v1/complaints/{complaint['id']}/investigate", json={"store_id": "SZ-FT-012"})
    assert response.status_code == 500
    dispatcher.once()

    assert receiver.types() == ["complaint.accepted"]
    assert handler.get(f"/v1/complaints/{complaint['id']}").json()["state"] == "accepted"
    assert [e["move"] for e in handler.get(f"/v1/complaints/{complaint['id']}/events").json()] == ["register"]


def test_a_fan_out_that_fails_is_done_again_in_full(
    admin: Caller, handler: Caller, receiver: Receiver, dispatcher: Dispatcher, monkeypatch: pytest.MonkeyPatch
) -> None:
    subscribe(admin, receiver)
    for i in range(3):
        complaint = handler.register(complainant=another_customer(i))
        handler.move(complaint["id"], "investigate", {"store_id": "SZ-FT-012"})
    built = events.body
    calls: list[int] = []

    def fail_on_the_fourth(*args: Any, **kwargs: Any) -> str:
        calls.append(1)
        if len(calls) == 4:
            raise RuntimeError("killed in the middle of the fan-out")
        return built(*args, **kwargs)

    with monkeypatch.context() as patched:
        patched.setattr(events, "body", fail_on_the_fourth)
        with pytest.raises(RuntimeError):
            dispatcher.fan_out()
    assert dispatcher.claim(100) == []  # the three bodies built before the failure were rolled back with it

    assert dispatcher.once().delivered == 6
    assert sorted(receiver.types()) == ["complaint.accepted"] * 3 + ["complaint.dispatched"] * 3
    assert dispatcher.once().fanned_out == 0


def test_a_move_not_yet_committed_is_not_sent_and_not_lost(
    admin: Caller, handler: Caller, receiver: Receiver, dispatcher: Dispatcher, db: Database, settings: Settings
) -> None:
    subscribe(admin, receiver)
    complaint = handler.register()
    dispatcher.once()
    with db.writers() as session:
        investigate_in(session, settings, handler.key, complaint["id"])

        assert dispatcher.once().fanned_out == 0  # written, flushed, not committed: not there for anyone else
        session.commit()

    assert dispatcher.once().delivered == 1
    assert receiver.types() == ["complaint.accepted", "complaint.dispatched"]


def test_what_happened_before_an_endpoint_existed_is_not_sent_to_it(
    admin: Caller, handler: Caller, receiver: Receiver, dispatcher: Dispatcher
) -> None:
    """With nobody subscribed, the fan-out marks the entries in batches without building anything."""
    earlier = [handler.register(complainant=another_customer(i)) for i in range(5)]
    fanned = [outbox.fan_out(session, utcnow(), dispatcher.settings, batch=2) for session in _sessions(dispatcher, 4)]
    assert fanned == [2, 2, 1, 0]

    subscribe(admin, receiver)
    later = handler.register()
    handler.move(earlier[0]["id"], "investigate", {"store_id": "SZ-FT-012"})
    assert dispatcher.once().delivered == 2
    assert sorted((m["type"], m["data"]["complaint"]["id"]) for m in (r.json() for r in receiver.received)) == [
        ("complaint.accepted", later["id"]),
        ("complaint.dispatched", earlier[0]["id"]),
    ]


def _sessions(dispatcher: Dispatcher, count: int) -> Iterator[Session]:
    """One committed transaction after another."""
    for _ in range(count):
        with dispatcher.db.writers.begin() as session:
            yield session


def test_an_entry_older_than_its_snapshot_column_goes_out_with_the_complaint_as_it_is_now(
    admin: Caller, handler: Caller, receiver: Receiver, dispatcher: Dispatcher, db: Database
) -> None:
    """Entries written before migration 0009 keep no snapshot: the fan-out loads those complaints with their clocks
    (they are loaded only when asked for) and shows them as they are now."""
    subscribe(admin, receiver)
    complaint = handler.register()
    handler.move(complaint["id"], "investigate", {"store_id": "SZ-FT-012"})
    with db.writers.begin() as session:
        session.execute(update(ComplaintEvent).values(snapshot=None))

    assert dispatcher.once().delivered == 2
    assert receiver.types() == ["complaint.accepted", "complaint.dispatched"]
    for message in (r.json() for r in receiver.received):
        shown = message["data"]["complaint"]
        assert shown["state"] == "investigating"  # as it is now, not as the entry left it
        assert sorted(clock["kind"] for clock in shown["clocks"]) == ["store_feedback", "written_reply"]
