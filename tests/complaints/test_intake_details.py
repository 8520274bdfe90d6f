"""Intake that identifies the purchase: the product, the order or receipt number, the purchase, the incident, the
customer's address and the claim; the list searched by reference, number and owner; and what a store key sees of
them (the address down to its province and city, in every byte). Over HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import column as sa_column
from sqlalchemy import create_engine, inspect, select, text
from sqlalchemy import table as sa_table

from app import migrate
from app.complaints.models import Complaint
from app.config import Settings
from tests.conftest import Caller, complaint_body
from tests.planted import OWN

ADDRESS = "江苏省苏州市姑苏区平江路219号梧桐里5幢"
STREET = "姑苏区平江路219号梧桐里5幢"
PURCHASE = {
    "complainant": {"name": "慕容雪", "phone": "13711112233", "address": ADDRESS, "customer_ref": "VIP-88231"},
    "category": "product_quality",
    "product": {
        "name": "全脂纯牛奶 250ml",
        "sku": "6901234567892",
        "specification": "250ml×12盒",
        "batch": "B20261015-03",
        "production_date": "2026-10-15",
    },
    "order_number": "POS-012-20261120-0088",
    "purchase": {"date": "2026-11-20", "store_id": "SZ-FT-013", "amount": "59.90"},
    "incident_at": "2026-11-20T20:30:00+08:00",
    "claim": {"type": "compensation", "amount_claimed": "599"},
    "external_ref": "CRM-2026-889123",
    "received_at": "2026-11-22T10:15:00+08:00",
    "description": f"客户称在门店购买的牛奶变质，送货地址 {ADDRESS}。",
}


@pytest.fixture
def store(make_caller: Any) -> Caller:
    return make_caller("store", store_id=OWN, actor="店长王五")


def test_registration_keeps_what_identifies_the_purchase(intake: Caller) -> None:
    registered = intake.register(**PURCHASE)
    read = intake.get(f"/v1/complaints/{registered['id']}").json()
    for complaint in (registered, read):
        assert complaint["product"] == PURCHASE["product"]
        assert complaint["order_number"] == "POS-012-20261120-0088"
        assert complaint["purchase"] == {"date": "2026-11-20", "store_id": "SZ-FT-013", "amount": "59.90"}
        assert complaint["incident_at"] == "2026-11-20T20:30:00+08:00"
        assert complaint["claim"] == {"type": "compensation", "amount_claimed": "599.00"}
        assert complaint["complainant"]["address"] == ADDRESS
    (entry,) = [e for e in intake.get(f"/v1/complaints/{registered['id']}/events").json() if e["move"] == "register"]
    assert entry["payload"]["order_number"] == "POS-012-20261120-0088"
    assert "complainant" not in entry["payload"]  # the contact, address included, stays on the complaint alone


def test_a_complaint_without_them_shows_them_empty(intake: Caller) -> None:
    complaint = intake.register()
    assert [complaint[name] for name in ("product", "order_number", "purchase", "incident_at", "claim")] == [None] * 5
    assert complaint["complainant"]["address"] is None


def test_a_part_of_the_product_is_enough(intake: Caller) -> None:
    complaint = intake.register(product={"batch": "B1"}, claim={"type": "non_quality"})
    assert complaint["product"] == {
        "name": None,
        "sku": None,
        "specification": None,
        "batch": "B1",
        "production_date": None,
    }
    assert complaint["claim"] == {"type": "non_quality", "amount_claimed": None}


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"purchase": {"amount": 59.9}}, ["body", "purchase", "amount"]),
        ({"claim": {"type": "compensation", "amount_claimed": 599}}, ["body", "claim", "amount_claimed"]),
        ({"claim": {"type": "refund_please"}}, ["body", "claim", "type"]),
        ({"claim": {"amount_claimed": "10.00"}}, ["body", "claim", "type"]),
        ({"product": {"production_date": "15/10/2026"}}, ["body", "product", "production_date"]),
        ({"product": {"colour": "red"}}, ["body", "product", "colour"]),
        ({"order_number": "x" * 65}, ["body", "order_number"]),
    ],
)
def test_bad_intake_details_are_refused_and_nothing_is_registered(
    intake: Caller, change: dict[str, Any], where: list[str]
) -> None:
    response = intake.post("/v1/complaints", json=complaint_body(**{**PURCHASE, **change}))
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert [error["loc"] for error in response.json()["errors"]] == [where]
    assert intake.get("/v1/complaints").json()["items"] == []


def test_an_incident_after_the_complaint_was_received_is_refused(intake: Caller) -> None:
    response = intake.post(
        "/v1/complaints", json=complaint_body(**{**PURCHASE, "incident_at": "2026-11-23T09:00:00+08:00"})
    )
    assert response.status_code == 422, response.text
    assert response.json().get("field") == "incident_at", response.text
    assert intake.get("/v1/complaints").json()["items"] == []


# Search.


def numbers(caller: Caller, **params: str) -> list[str]:
    response = caller.get("/v1/complaints", params=params)
    assert response.status_code == 200, response.text
    return [item["number"] for item in response.json()["items"]]


def test_complaints_are_found_by_order_number_references_number_and_owner(intake: Caller, handler: Caller) -> None:
    first = intake.register(**PURCHASE)
    second = intake.register(order_number="POS-999", external_ref="CRM-2", owner="handler-12")
    third = intake.register(complainant={"name": "李四", "phone": "13811112222", "customer_ref": "VIP-88231"})

    assert numbers(handler, order_number="POS-012-20261120-0088") == [first["number"]]
    assert numbers(handler, external_ref="CRM-2026-889123") == [first["number"]]
    assert numbers(handler, customer_ref="VIP-88231") == [third["number"], first["number"]]
    assert numbers(handler, number=second["number"]) == [second["number"]]
    assert numbers(handler, owner="handler-12") == [second["number"]]
    assert numbers(handler, owner="agent-0042") == [third["number"], first["number"]]
    assert numbers(handler, customer_ref="VIP-88231", order_number="POS-999") == []
    assert numbers(handler, order_number="POS-012") == []  # exact, not a prefix


def test_a_store_finds_its_own_by_order_number_and_number_but_not_by_customer_reference(
    intake: Caller, handler: Caller, store: Caller
) -> None:
    mine = intake.register(**PURCHASE)
    handler.move(mine["id"], "investigate", {"store_id": OWN})
    elsewhere = intake.register(order_number="POS-012-20261120-0088", store_id="GZ-TH-003")
    handler.move(elsewhere["id"], "investigate", {"store_id": "GZ-TH-003"})

    assert numbers(store, order_number="POS-012-20261120-0088") == [mine["number"]]
    assert numbers(store, number=mine["number"]) == [mine["number"]]
    assert numbers(store, number=elsewhere["number"]) == []
    assert numbers(store, external_ref="CRM-2026-889123") == [mine["number"]]
    right = store.get("/v1/complaints", params={"customer_ref": "VIP-88231"})
    wrong = store.get("/v1/complaints", params={"customer_ref": "VIP-00000"})
    assert right.status_code == wrong.status_code == 403
    assert right.json() == wrong.json()
    assert "customer_ref" in right.json()["detail"]


# What a store sees.


def test_a_store_sees_the_purchase_and_the_address_down_to_the_city(
    intake: Caller, handler: Caller, store: Caller
) -> None:
    complaint = intake.register(**PURCHASE)
    handler.move(complaint["id"], "investigate", {"store_id": OWN, "note": f"请联系客户，地址 {ADDRESS}"})
    handler.post(f"/v1/complaints/{complaint['id']}/notes", json={"text": f"上门 {STREET}", "visible_to_unit": True})

    seen = store.get(f"/v1/complaints/{complaint['id']}").json()
    assert seen["complainant"]["address"] == "江苏省苏州市***"
    assert seen["complainant"]["customer_ref"] is None
    assert seen["product"] == PURCHASE["product"]
    assert seen["order_number"] == PURCHASE["order_number"]
    assert seen["purchase"]["amount"] == "59.90"
    assert seen["claim"] == {"type": "compensation", "amount_claimed": "599.00"}
    assert seen["description"] == "客户称在门店购买的牛奶变质，送货地址 江苏省苏州市***。"

    history = store.get(f"/v1/complaints/{complaint['id']}/events").json()
    note = next(e for e in history if e["move"] == "note")
    assert note["payload"]["text"] == "上门 ***"
    responses = [
        store.get(f"/v1/complaints/{complaint['id']}"),
        store.get(f"/v1/complaints/{complaint['id']}/events"),
        store.get(f"/v1/complaints/{complaint['id']}/clocks"),
        store.get("/v1/complaints", params={"order_number": PURCHASE["order_number"]}),
        store.get("/v1/complaints"),
    ]
    for response in responses:
        assert response.status_code == 200, response.text
        for planted in (ADDRESS, STREET, "平江路219号", "VIP-88231", "慕容雪", "13711112233"):
            assert planted not in response.text, (response.url, planted)


# The migration: a database filled by the schema before it goes up, and down again, its complaints kept.


def test_the_migration_keeps_the_complaints_registered_before_it_up_and_down(empty_database: str) -> None:
    settings = Settings(database_url=empty_database)
    migrate.upgrade(settings, "0010")  # the schema before intake details
    table = Complaint.__table__
    complaint_id, now = uuid.uuid4(), datetime(2026, 11, 22, 2, 15, tzinfo=UTC)
    before = {
        "id": complaint_id,
        "number": "TS-20261122-0001",
        "state": "accepted",
        "version": 1,
        "complainant_name": "张三",
        "complainant_phone": "13812348000",
        "customer_ref": "VIP-1",
        "channel": "phone",
        "category": "product_quality",
        "priority": "normal",
        "store_id": OWN,
        "description": "牛奶变质。",
        "external_ref": "CRM-1",
        "received_at": now,
        "owner": "agent-0042",
        "reopen_count": 0,
        "accepted_at": now,
        "updated_at": now,
    }
    engine = create_engine(empty_database)
    try:
        with engine.begin() as connection:
            # Only the columns of the schema before it: the model's later columns (and their defaults) are not there.
            earlier = sa_table("complaints", *(sa_column(name, table.c[name].type) for name in before))
            connection.execute(earlier.insert().values(before))
        migrate.upgrade(settings)
        with engine.begin() as connection:
            row = connection.execute(select(table).where(table.c.id == complaint_id)).one()._mapping
            assert {key: row[key] for key in before} == before
            assert [row[name] for name in ("order_number", "product_name", "claim_type", "former_contacts")] == [
                None
            ] * 4
            connection.execute(
                table.update().where(table.c.id == complaint_id).values(order_number="P-1", claim_amount=599)
            )
            found = select(table.c.id).where(table.c.order_number == "P-1", table.c.owner == "agent-0042")
            assert connection.scalars(found).all() == [complaint_id]
        migrate.downgrade(settings, "0010")
        with engine.begin() as connection:
            kept = connection.execute(text("SELECT number, owner FROM complaints")).all()
            assert [tuple(r) for r in kept] == [("TS-20261122-0001", "agent-0042")]
            assert "order_number" not in {c["name"] for c in inspect(connection).get_columns("complaints")}
        migrate.upgrade(settings)
    finally:
        engine.dispose()
