"""A customer's complaints across channels and stores, and on every complaint the ones the same phone made before."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import text

from app.complaints import repository
from app.db import Database
from tests.conftest import Caller

PHONE = "13812348000"
SPELLINGS = ("138 1234 8000", "+86 138-1234-8000", "0086 13812348000", "138-1234-8000")


def test_a_customer_is_found_by_any_spelling_across_channels_and_stores(handler: Caller) -> None:
    first = handler.register(complainant={"name": "张三", "phone": SPELLINGS[0]}, channel="phone", store_id="SZ-FT-012")
    second = handler.register(complainant={"name": "张三", "phone": SPELLINGS[1]}, channel="web", store_id="GZ-TH-007")
    handler.register(complainant={"name": "李四", "phone": "139 0000 1111"})
    third = handler.register(
        complainant={"name": "张三", "phone": SPELLINGS[2]}, channel="media", store_id=None, department="售后服务部"
    )

    for spelling in SPELLINGS:
        found = handler.get("/v1/complaints", params={"phone": spelling}).json()["items"]
        assert [c["id"] for c in found] == [third["id"], second["id"], first["id"]]
        assert {c["complainant"]["phone"] for c in found} == {PHONE}


def test_every_complaint_counts_the_earlier_ones_of_its_phone_and_names_the_last(handler: Caller) -> None:
    first = handler.register(complainant={"name": "张三", "phone": SPELLINGS[0]})
    other = handler.register(complainant={"name": "李四", "phone": "139 0000 1111"})
    second = handler.register(complainant={"name": "张三", "phone": SPELLINGS[1]}, channel="email")
    third = handler.register(complainant={"name": "张三", "phone": SPELLINGS[3]}, category="billing")

    # At registration: what the agent sees while the customer is still on the line.
    assert first["earlier_complaints"] == {"count": 0, "last": None}
    assert other["earlier_complaints"] == {"count": 0, "last": None}
    assert second["earlier_complaints"]["count"] == 1
    assert _last(second) == (first["id"], first["number"], "accepted", first["received_at"])
    assert third["earlier_complaints"]["count"] == 2
    assert _last(third)[:2] == (second["id"], second["number"])

    # On every read, with the last one's state as it is now.
    handler.move(second["id"], "reject", {"reason": "misunderstanding", "explanation": "误会，已向顾客说明。"})
    read = handler.get(f"/v1/complaints/{third['id']}").json()
    assert read["earlier_complaints"]["count"] == 2
    assert _last(read)[2] == "rejected"
    listed = {c["id"]: c for c in handler.get("/v1/complaints", params={"phone": PHONE}).json()["items"]}
    assert [listed[c["id"]]["earlier_complaints"]["count"] for c in (first, second, third)] == [0, 1, 2]
    assert _last(listed[first["id"]]) is None
    assert _last(listed[third["id"]])[0] == second["id"]
    # A later complaint does not count as an earlier one.
    assert handler.get(f"/v1/complaints/{first['id']}").json()["earlier_complaints"] == {"count": 0, "last": None}


def test_the_history_after_a_move_is_in_the_move_response(handler: Caller) -> None:
    first = handler.register()
    second = handler.register()
    moved = handler.move(second["id"], "investigate", {"store_id": "SZ-FT-012"})
    assert moved["earlier_complaints"]["count"] == 1
    assert _last(moved)[0] == first["id"]


def test_a_store_counts_only_the_earlier_complaints_dispatched_to_it(handler: Caller, make_caller: Any) -> None:
    store = make_caller("store", store_id="SZ-FT-012")
    elsewhere = handler.register(store_id="GZ-TH-007")
    handler.move(elsewhere["id"], "investigate", {"store_id": "GZ-TH-007"})
    earlier_here = handler.register()
    handler.move(earlier_here["id"], "investigate", {"store_id": "SZ-FT-012"})
    undispatched = handler.register()
    latest = handler.register()
    handler.move(latest["id"], "investigate", {"store_id": "SZ-FT-012"})

    assert handler.get(f"/v1/complaints/{latest['id']}").json()["earlier_complaints"]["count"] == 3
    seen = store.get(f"/v1/complaints/{latest['id']}").json()["earlier_complaints"]
    assert seen["count"] == 1
    assert seen["last"]["id"] == earlier_here["id"]
    assert undispatched["id"] != seen["last"]["id"]


@pytest.mark.parametrize("phone", ["12", "call me", "138 1234 8000 ext 5"])
def test_a_phone_that_is_not_one_is_refused(handler: Caller, phone: str) -> None:
    handler.register()
    response = handler.get("/v1/complaints", params={"phone": phone})
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")


@pytest.mark.postgresql_only
def test_the_lookups_read_the_phone_index_not_the_table(handler: Caller, db: Database) -> None:
    """With 20,000 complaints from 5,000 phones, finding one phone's complaints and counting the earlier ones
    are index scans on (complainant_phone, id)."""
    first = handler.register()
    with db.writers.begin() as session:
        session.execute(
            text(
                "INSERT INTO complaints (id, number, state, version, complainant_name, complainant_phone, channel, "
                "category, priority, description, received_at, owner, reopen_count, accepted_at, updated_at) "
                "SELECT gen_random_uuid(), 'TS-SEED-' || n, 'accepted', 1, '王五', "
                "'139' || lpad((n % 5000)::text, 8, '0'), 'phone', 'billing', 'normal', '多扣费', now(), 'seed', 0, "
                "now(), now() FROM generate_series(1, 20000) AS n"
            )
        )
        session.execute(text("ANALYZE complaints"))
    with db.readers() as session:
        earlier = repository.earlier_complaints(session, [uuid.UUID(first["id"])], None)
        assert earlier[uuid.UUID(first["id"])].count == 0
        plan = _plan(session, f"SELECT id FROM complaints WHERE complainant_phone = '{PHONE}' ORDER BY id DESC")
        assert "ix_complaints_complainant_phone_id" in plan
        assert "Seq Scan" not in plan
        query = repository.earlier_query(False).params(ids=[uuid.UUID(first["id"])])
        compiled = query.compile(session.get_bind(), compile_kwargs={"literal_binds": True})
        plan = _plan(session, str(compiled))
        assert "ix_complaints_complainant_phone_id" in plan
        assert "Seq Scan on complaints earlier" not in plan


def _plan(session: Any, sql: str) -> str:
    return "\n".join(row[0] for row in session.execute(text(f"EXPLAIN {sql}")))


def _last(complaint: dict[str, Any]) -> tuple[str, str, str, str] | None:
    last = complaint["earlier_complaints"]["last"]
    return None if last is None else (last["id"], last["number"], last["state"], last["received_at"])
