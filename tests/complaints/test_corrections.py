"""Corrections (PATCH with If-Match, a JSON merge patch), reassignment of the owner, and a change of priority that
restarts the running clocks; each in the history, in the webhooks, and masked for a store. Over HTTP, on SQLite and
PostgreSQL, with the clocks in frozen time."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from app.config import Settings
from app.db import Database
from app.webhooks.dispatcher import Dispatcher
from tests.conftest import Caller
from tests.planted import OWN
from tests.sla.moments import frozen
from tests.webhooks.conftest import Receiver, subscribe

OLD_ADDRESS, OLD_STREET = "湖北省武汉市江汉区解放大道688号", "江汉区解放大道688号"
NEW_ADDRESS, NEW_STREET = "湖北省武汉市武昌区中北路109号1栋", "武昌区中北路109号1栋"


def patch(caller: Caller, complaint: dict[str, Any], body: Any, *, etag: str | None = None, **headers: str) -> Any:
    """PATCH the complaint with If-Match: its version as last read, unless ``etag`` says otherwise."""
    sent = {"If-Match": etag if etag is not None else f'"{complaint["version"]}"', **headers}
    if etag == "":
        del sent["If-Match"]
    return caller.client.patch(f"/v1/complaints/{complaint['id']}", json=body, headers=caller.headers(sent))


def history(caller: Caller, complaint: dict[str, Any]) -> list[dict[str, Any]]:
    response = caller.get(f"/v1/complaints/{complaint['id']}/events")
    assert response.status_code == 200, response.text
    return response.json()


def corrections(caller: Caller, complaint: dict[str, Any]) -> list[dict[str, Any]]:
    return [entry for entry in history(caller, complaint) if entry["move"] == "complaint.corrected"]


@pytest.fixture
def settings(database_url: str) -> Settings:
    # The webhook receivers listen on loopback (as in tests/webhooks).
    return Settings(
        database_url=database_url,
        sweep_in_serve=False,
        dispatch_in_serve=False,
        webhook_allow_private=True,
        webhook_timeout_seconds=5,
    )


@pytest.fixture
def receivers() -> Iterator[Callable[[], Receiver]]:
    made: list[Receiver] = []

    def make() -> Receiver:
        made.append(Receiver())
        return made[-1]

    yield make
    for receiver in made:
        receiver.close()


@pytest.fixture
def fan_out(db: Database, settings: Settings) -> Iterator[Dispatcher]:
    dispatcher = Dispatcher(db, settings)
    yield dispatcher
    dispatcher.stop()


@pytest.fixture
def store(make_caller: Any) -> Caller:
    return make_caller("store", store_id=OWN, actor="店长王五")


@pytest.fixture
def reporter(make_caller: Any) -> Caller:
    return make_caller("reporter", actor="analyst-01")


# If-Match.


def test_a_correction_without_if_match_is_428_and_changes_nothing(intake: Caller) -> None:
    complaint = intake.register()
    response = patch(intake, complaint, {"order_number": "POS-1"}, etag="")
    assert response.status_code == 428, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["field"] == "If-Match"
    assert intake.get(f"/v1/complaints/{complaint['id']}").json()["order_number"] is None
    assert corrections(intake, complaint) == []


def test_a_correction_of_a_stale_version_is_412(intake: Caller, handler: Caller) -> None:
    complaint = intake.register()
    assert patch(handler, complaint, {"order_number": "POS-1"}).status_code == 200
    response = patch(intake, complaint, {"order_number": "POS-2"})
    assert response.status_code == 412, response.text
    assert response.json()["current_version"] == complaint["version"] + 1
    assert response.headers["ETag"] == f'"{complaint["version"] + 1}"'
    assert intake.get(f"/v1/complaints/{complaint['id']}").json()["order_number"] == "POS-1"


# What a correction changes, and its history entry.


def test_a_correction_changes_the_fields_and_keeps_them_before_and_after(intake: Caller, handler: Caller) -> None:
    complaint = intake.register(
        complainant={"name": "张三", "phone": "138 1234 8000", "address": OLD_ADDRESS},
        product={"name": "牛奶", "batch": "B1"},
        claim={"type": "appeal"},
    )
    body = {
        "complainant": {"phone": "13912345678", "address": NEW_ADDRESS},
        "category": "product_quality",
        "store_id": "SZ-FT-013",
        "product": {"batch": "B2", "production_date": "2026-10-15"},
        "order_number": "POS-012-0088",
        "purchase": {"amount": "59.90"},
        "claim": {"type": "compensation", "amount_claimed": "500"},
        "incident_at": "2026-11-01T20:00:00+08:00",
        "reason": "客户来电更正",
    }
    response = patch(handler, complaint, body)
    assert response.status_code == 200, response.text
    corrected = response.json()
    assert response.headers["ETag"] == f'"{complaint["version"] + 1}"' == f'"{corrected["version"]}"'
    assert corrected["complainant"]["phone"] == "13912345678"
    assert corrected["complainant"]["name"] == "张三"  # left out: unchanged
    assert corrected["complainant"]["address"] == NEW_ADDRESS
    assert corrected["category"] == "product_quality"
    assert corrected["store_id"] == "SZ-FT-013"
    assert corrected["product"] == {
        "name": "牛奶",
        "sku": None,
        "specification": None,
        "batch": "B2",
        "production_date": "2026-10-15",
    }
    assert corrected["purchase"] == {"date": None, "store_id": None, "amount": "59.90"}
    assert corrected["claim"] == {"type": "compensation", "amount_claimed": "500.00"}
    assert corrected["state"] == "accepted"
    assert intake.get(f"/v1/complaints/{complaint['id']}").json() == corrected | {"allowed_moves": []}

    (entry,) = corrections(intake, complaint)
    assert entry["actor"] == "handler-07"
    assert entry["from_state"] == entry["to_state"] == "accepted"
    assert entry["payload"]["reason"] == "客户来电更正"
    before, after = entry["payload"]["before"], entry["payload"]["after"]
    assert (
        set(before)
        == set(after)
        == {
            "complainant.phone",
            "complainant.address",
            "category",
            "store_id",
            "product.batch",
            "product.production_date",
            "order_number",
            "purchase.amount",
            "claim.type",
            "claim.amount_claimed",
            "incident_at",
        }
    )
    assert (before["product.batch"], after["product.batch"]) == ("B1", "B2")
    assert (before["order_number"], after["order_number"]) == (None, "POS-012-0088")
    assert (before["claim.type"], after["claim.type"]) == ("appeal", "compensation")
    assert after["purchase.amount"] == "59.90"
    # The contact is masked in the history for every reader: it is kept on the complaint alone.
    assert (before["complainant.phone"], after["complainant.phone"]) == ("138****8000", "139****5678")
    assert (before["complainant.address"], after["complainant.address"]) == ("湖北省武汉市***", "湖北省武汉市***")
    assert OLD_STREET not in str(history(intake, complaint)) and NEW_STREET not in str(history(intake, complaint))


def test_null_clears_a_field_and_an_object_set_to_null_clears_all_of_it(handler: Caller) -> None:
    complaint = handler.register(
        product={"name": "牛奶", "batch": "B1"}, purchase={"date": "2026-11-20", "amount": "10"}, order_number="P-1"
    )
    first = patch(handler, complaint, {"product": {"batch": None}, "order_number": None})
    assert first.status_code == 200, first.text
    assert first.json()["product"]["name"] == "牛奶" and first.json()["product"]["batch"] is None
    assert first.json()["order_number"] is None
    second = patch(handler, first.json(), {"purchase": None}, **{"Content-Type": "application/merge-patch+json"})
    assert second.status_code == 200, second.text
    assert second.json()["purchase"] is None
    (_, cleared) = corrections(handler, complaint)
    assert cleared["payload"]["before"] == {"purchase.date": "2026-11-20", "purchase.amount": "10.00"}
    assert cleared["payload"]["after"] == {"purchase.date": None, "purchase.amount": None}


def test_a_correction_that_changes_nothing_is_200_and_writes_nothing(handler: Caller) -> None:
    complaint = handler.register(order_number="P-1")
    response = patch(handler, complaint, {"order_number": "P-1", "category": complaint["category"], "product": None})
    assert response.status_code == 200, response.text
    assert response.json()["version"] == complaint["version"]
    assert response.headers["ETag"] == f'"{complaint["version"]}"'
    assert corrections(handler, complaint) == []


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"state": "resolved"}, "state"),
        ({"version": 7}, "version"),
        ({"owner": "someone-else"}, "owner"),
        ({"number": "TS-20260101-0001"}, "number"),
        ({"received_at": "2026-11-01T10:00:00+08:00"}, "received_at"),
        ({"clocks": []}, "clocks"),
        ({"category": None}, "category"),
        ({"complainant": {"name": None}}, "complainant.name"),
        ({"complainant": None}, "complainant"),
        ({"priority": None}, "priority"),
    ],
)
def test_what_a_correction_may_not_change_is_422_naming_it(handler: Caller, body: dict[str, Any], named: str) -> None:
    complaint = handler.register()
    response = patch(handler, complaint, {"order_number": "P-9", **body})
    assert response.status_code == 422, response.text
    (error,) = response.json()["errors"]
    assert error["msg"].startswith(f"Value error, {named} cannot be"), error
    assert handler.get(f"/v1/complaints/{complaint['id']}").json()["version"] == complaint["version"]
    assert corrections(handler, complaint) == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"store_id": None}, "store_id"),  # neither a store nor a department would be left
        ({"claim": {"amount_claimed": "100"}}, "claim.type"),  # an amount without a claim type
        ({"incident_at": "2027-01-01T00:00:00+08:00"}, "incident_at"),
    ],
)
def test_a_correction_that_leaves_the_complaint_wrong_is_422(handler: Caller, body: dict[str, Any], field: str) -> None:
    complaint = handler.register(department=None)
    response = patch(handler, complaint, {"order_number": "P-9", **body})
    assert response.status_code == 422, response.text
    assert response.json()["field"] == field
    assert handler.get(f"/v1/complaints/{complaint['id']}").json()["order_number"] is None


def test_an_unknown_field_or_a_json_number_for_money_is_422(handler: Caller) -> None:
    complaint = handler.register()
    for body, loc in (
        ({"colour": "red"}, ["body", "colour"]),
        ({"purchase": {"amount": 10.5}}, ["body", "purchase", "amount"]),
    ):
        response = patch(handler, complaint, body)
        assert response.status_code == 422, response.text
        assert [error["loc"] for error in response.json()["errors"]] == [loc]


def test_a_body_that_is_not_json_is_415(handler: Caller) -> None:
    complaint = handler.register()
    response = handler.client.patch(
        f"/v1/complaints/{complaint['id']}",
        content=b"order_number=P-1",
        headers=handler.headers({"If-Match": f'"{complaint["version"]}"', "Content-Type": "text/plain"}),
    )
    assert response.status_code == 415, response.text


# Who may correct.


def test_a_store_and_a_reporter_may_not_correct(handler: Caller, store: Caller, reporter: Caller) -> None:
    mine = handler.register()
    handler.move(mine["id"], "investigate", {"store_id": OWN})
    mine = handler.get(f"/v1/complaints/{mine['id']}").json()
    elsewhere = handler.register(store_id="GZ-TH-003")
    assert patch(store, mine, {"order_number": "P-1"}).status_code == 403
    assert patch(store, elsewhere, {"order_number": "P-1"}).status_code == 404  # ids do not leak
    response = patch(reporter, mine, {"order_number": "P-1"})
    assert response.status_code == 403
    assert response.json()["allowed_roles"] == ["admin", "handler", "intake", "manager", "supervisor"]
    assert corrections(handler, mine) == []


# The store's view of a correction: masked in the history and in the webhook.


def test_a_store_never_gets_a_corrected_address_whole(
    admin: Caller,
    handler: Caller,
    store: Caller,
    receivers: Callable[[], Receiver],
    fan_out: Dispatcher,
) -> None:
    own = receivers()
    subscribe(admin, own, store_id=OWN)
    complaint = handler.register(
        complainant={"name": "上官婉儿", "phone": "13655556666", "address": OLD_ADDRESS},
        description=f"客户住址 {OLD_ADDRESS}，商品有异物。",
    )
    complaint = handler.move(complaint["id"], "investigate", {"store_id": OWN})
    response = patch(handler, complaint, {"complainant": {"address": NEW_ADDRESS}, "reason": f"客户搬到 {NEW_ADDRESS}"})
    assert response.status_code == 200, response.text
    fan_out.once()

    assert own.types() == ["complaint.dispatched", "complaint.corrected"]
    corrected = own.of_type("complaint.corrected")[0]["data"]
    assert corrected["detail"]["after"] == {"complainant.address": "湖北省武汉市***"}
    assert corrected["detail"]["reason"] == "客户搬到 湖北省武汉市***"
    assert corrected["complaint"]["complainant"]["address"] == "湖北省武汉市***"
    received = [r.body.decode() for r in own.received]
    seen = [
        store.get(f"/v1/complaints/{complaint['id']}").text,
        store.get(f"/v1/complaints/{complaint['id']}/events").text,
        store.get("/v1/complaints").text,
    ]
    # The old address stays quoted in the description: it is masked there as the address it was.
    for text in received + seen:
        for planted in (OLD_STREET, NEW_STREET, "上官婉儿", "13655556666"):
            assert planted not in text, planted
    assert "湖北省武汉市***" in seen[0]


# Reassignment (首问责任人).


def test_reassign_hands_the_complaint_to_another_owner_with_a_reason(intake: Caller, handler: Caller) -> None:
    complaint = intake.register()
    assert complaint["owner"] == "agent-0042"
    reassigned = handler.move(complaint["id"], "reassign", {"owner": "handler-12", "reason": "原责任人休假"})
    assert reassigned["owner"] == "handler-12"
    assert reassigned["state"] == "accepted"
    assert reassigned["clocks"] == handler.get(f"/v1/complaints/{complaint['id']}").json()["clocks"]
    entry = history(handler, complaint)[-1]
    assert entry["move"] == "reassign"
    assert entry["payload"] == {"owner": "handler-12", "reason": "原责任人休假", "previous_owner": "agent-0042"}
    assert [c["id"] for c in handler.get("/v1/complaints", params={"owner": "handler-12"}).json()["items"]] == [
        complaint["id"]
    ]
    assert handler.get("/v1/complaints", params={"owner": "agent-0042"}).json()["items"] == []


def test_reassign_refuses_the_same_owner_a_missing_reason_a_store_and_a_closed_complaint(
    handler: Caller, store: Caller
) -> None:
    complaint = handler.register(owner="handler-07")
    same = handler.post(f"/v1/complaints/{complaint['id']}/reassign", json={"owner": "HANDLER-07", "reason": "x"})
    assert same.status_code == 409, same.text
    assert same.json()["guard"] == "someone_else"
    assert same.json()["detail"] == "handler-07 already owns the complaint"
    missing = handler.post(f"/v1/complaints/{complaint['id']}/reassign", json={"owner": "handler-12"})
    assert missing.status_code == 422
    handler.move(complaint["id"], "investigate", {"store_id": OWN})
    by_store = store.post(f"/v1/complaints/{complaint['id']}/reassign", json={"owner": "店长王五", "reason": "x"})
    assert by_store.status_code == 403
    handler.move(complaint["id"], "resolve", {"remedy": {"kind": "apology"}, "reply": "抱歉", "reply_channel": "phone"})
    handler.move(complaint["id"], "revisit", {"satisfaction": "satisfied"})
    closed = handler.post(f"/v1/complaints/{complaint['id']}/reassign", json={"owner": "handler-12", "reason": "x"})
    assert closed.status_code == 409
    assert closed.json()["state"] == "revisited"
    assert handler.get(f"/v1/complaints/{complaint['id']}").json()["owner"] == "handler-07"


def test_a_reassignment_is_a_webhook(
    admin: Caller, handler: Caller, receivers: Callable[[], Receiver], fan_out: Dispatcher
) -> None:
    receiver = receivers()
    subscribe(admin, receiver, event_types=["complaint.reassigned"])
    complaint = handler.register()
    handler.move(complaint["id"], "reassign", {"owner": "handler-12", "reason": "转交"})
    fan_out.once()
    (message,) = receiver.of_type("complaint.reassigned")
    assert message["data"]["complaint"]["owner"] == "handler-12"
    assert message["data"]["detail"]["previous_owner"] == "handler-07"


# Priority: who may change it, and the clocks it restarts.


def test_only_a_supervisor_raises_and_only_a_manager_lowers_the_priority_with_a_reason(
    handler: Caller, supervisor: Caller, manager: Caller
) -> None:
    complaint = handler.register()
    refused = patch(handler, complaint, {"priority": "urgent", "reason": "客户情绪激动"})
    assert refused.status_code == 403
    assert refused.json()["allowed_roles"] == ["admin", "manager", "supervisor"]
    no_reason = patch(supervisor, complaint, {"priority": "urgent"})
    assert no_reason.status_code == 422
    assert no_reason.json()["field"] == "reason"
    raised = patch(supervisor, complaint, {"priority": "urgent", "reason": "客户情绪激动"})
    assert raised.status_code == 200, raised.text
    lowered_by_supervisor = patch(supervisor, raised.json(), {"priority": "normal", "reason": "已安抚"})
    assert lowered_by_supervisor.status_code == 403
    assert lowered_by_supervisor.json()["allowed_roles"] == ["admin", "manager"]
    lowered = patch(manager, raised.json(), {"priority": "normal", "reason": "已安抚"})
    assert lowered.status_code == 200, lowered.text
    assert [
        (e["payload"]["before"]["priority"], e["payload"]["after"]["priority"]) for e in corrections(handler, complaint)
    ] == [("normal", "urgent"), ("urgent", "normal")]


def test_a_raised_priority_restarts_the_running_clocks_on_the_new_targets(handler: Caller, supervisor: Caller) -> None:
    with frozen(2026, 11, 23, 10, 0):  # a Monday
        complaint = handler.register(received_at="2026-11-23T10:00:00+08:00")
        complaint = handler.move(complaint["id"], "investigate", {"store_id": OWN})
    (reply,) = [c for c in complaint["clocks"] if c["kind"] == "written_reply"]
    (feedback,) = [c for c in complaint["clocks"] if c["kind"] == "store_feedback"]
    assert reply["due_at"] == "2026-11-30T10:00:00+08:00"  # 7 calendar days
    assert feedback["due_at"] == "2026-11-25T18:00:00+08:00"  # 2 working days
    with frozen(2026, 11, 23, 15, 0):
        response = patch(supervisor, complaint, {"priority": "urgent", "reason": "客户要求媒体曝光"})
    assert response.status_code == 200, response.text
    clocks = response.json()["clocks"]
    by_kind = {
        kind: [(c["state"], c["target"], c["due_at"]) for c in clocks if c["kind"] == kind]
        for kind in ("written_reply", "store_feedback")
    }
    assert by_kind["written_reply"] == [
        ("cancelled", "7 calendar days, warning after 5", "2026-11-30T10:00:00+08:00"),
        ("running", "3 calendar days, warning after 2", "2026-11-26T10:00:00+08:00"),  # from its start, not now
    ]
    assert by_kind["store_feedback"] == [
        ("cancelled", "2 working days, warning after 1", "2026-11-25T18:00:00+08:00"),
        ("running", "24 hours, warning after 12", "2026-11-24T10:00:00+08:00"),
    ]
    restarted = [c for c in clocks if c["state"] == "running"]
    assert {c["store_id"] for c in restarted if c["kind"] == "store_feedback"} == {OWN}

    explained = {c["id"]: c for c in handler.get(f"/v1/complaints/{complaint['id']}/clocks").json()}
    why = "restarted on a priority change from normal to urgent at 2026-11-23T15:00:00+08:00"
    for clock in restarted:
        (started,) = explained[clock["id"]]["history"]
        assert started["kind"] == "started"
        assert started["at"] == "2026-11-23T15:00:00+08:00"
        assert started["detail"]["why"] == why
    for clock in clocks:
        if clock["state"] == "cancelled":
            assert explained[clock["id"]]["history"][-1]["detail"]["why"] == why


def test_a_raised_priority_restarts_each_units_feedback_clock_for_that_unit(
    handler: Caller, supervisor: Caller
) -> None:
    """A complaint dispatched to a store and a department at once runs two feedback clocks: each restarts as its
    own unit's, on that unit's target."""
    with frozen(2026, 11, 23, 10, 0):
        complaint = handler.register(received_at="2026-11-23T10:00:00+08:00")
        complaint = handler.move(complaint["id"], "investigate", {"store_id": OWN, "department": "品管部"})
    with frozen(2026, 11, 23, 15, 0):
        response = patch(supervisor, complaint, {"priority": "urgent", "reason": "客户要求媒体曝光"})
    assert response.status_code == 200, response.text
    running = [c for c in response.json()["clocks"] if c["kind"] == "store_feedback" and c["state"] == "running"]
    assert {(c["store_id"], c["department"], c["target"]) for c in running} == {
        (OWN, None, "24 hours, warning after 12"),
        (None, "品管部", "24 hours, warning after 12"),
    }


def test_a_priority_change_leaves_a_breached_clock_breached(handler: Caller, supervisor: Caller, db: Any) -> None:
    from app.complaints.sweeper import sweep
    from tests.sla.moments import local

    with frozen(2026, 11, 23, 10, 0):
        complaint = handler.register(received_at="2026-11-23T10:00:00+08:00")
        complaint = handler.move(complaint["id"], "investigate", {"store_id": OWN})
    sweep(db, local(2026, 11, 26, 9, 0))  # the store's feedback is late; the written reply is not yet
    with frozen(2026, 11, 26, 9, 30):
        current = handler.get(f"/v1/complaints/{complaint['id']}").json()
        response = patch(supervisor, current, {"priority": "urgent", "reason": "升级"})
    assert response.status_code == 200, response.text
    feedback = [(c["state"], c["target"]) for c in response.json()["clocks"] if c["kind"] == "store_feedback"]
    assert feedback == [("breached", "2 working days, warning after 1")]


def test_a_priority_raised_to_media_escalates_at_once(handler: Caller, manager: Caller) -> None:
    complaint = handler.register()
    response = patch(manager, complaint, {"priority": "media", "reason": "记者来电采访"})
    assert response.status_code == 200, response.text
    entries = history(handler, complaint)[-3:]
    assert [(e["move"], e["actor"]) for e in entries] == [
        ("complaint.corrected", "manager-01"),
        ("complaint.escalated", "tousu"),
        ("complaint.escalated", "tousu"),
    ]
    # The ladder's default for a media complaint: the customer-service supervisor and the general manager.
    assert [(e["payload"]["trigger"], e["payload"]["level"]) for e in entries[1:]] == [
        ("media", "cs_supervisor"),
        ("media", "general_manager"),
    ]
    assert entries[1]["payload"]["reason"] == "priority corrected to media: escalated to 客服主管"
    (reply,) = [c for c in response.json()["clocks"] if c["state"] == "running"]
    assert reply["target"] == "2 calendar days, warning after 1"
