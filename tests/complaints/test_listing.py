"""GET /v1/complaints: filters, order, limits, cursor pagination and who may list."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine

from tests.conftest import Caller

START = datetime(2025, 11, 20, 2, 0, tzinfo=UTC)


def problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    return response.json()


def page(caller: Caller, **params: Any) -> dict[str, Any]:
    response = caller.get("/v1/complaints", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def numbers(caller: Caller, **params: Any) -> list[str]:
    return [item["number"] for item in page(caller, limit=200, **params)["items"]]


def register_at(caller: Caller, moment: datetime, **overrides: Any) -> dict[str, Any]:
    """Registers with the clock at `moment`, so that each complaint is newer than the one before."""
    with time_machine.travel(moment, tick=False):
        return caller.register(**overrides)


def register_many(caller: Caller, count: int, **overrides: Any) -> list[dict[str, Any]]:
    return [register_at(caller, START + timedelta(minutes=i), **overrides) for i in range(count)]


@pytest.fixture
def corpus(handler: Caller) -> dict[str, str]:
    """Five complaints that differ in every filtered field, registered a minute apart; label → number."""
    specs: dict[str, dict[str, Any]] = {
        "a": {
            "complainant": {"name": "张三", "phone": "13812348000"},
            "channel": "phone",
            "category": "service_attitude",
            "store_id": "SZ-FT-012",
            "received_at": "2025-11-20T10:00:00+08:00",
        },
        "b": {
            "complainant": {"name": "李四", "phone": "139 0000 1111"},
            "channel": "email",
            "category": "billing",
            "store_id": "SZ-LH-003",
            "priority": "urgent",
            "received_at": "2025-11-21T10:00:00+08:00",
        },
        "c": {
            "complainant": {"name": "王五", "phone": "+86 138-1234-8000"},
            "channel": "media",
            "category": "product_quality",
            "store_id": "SZ-FT-012",
            "received_at": "2025-11-22T10:00:00+08:00",
        },
        "d": {
            "complainant": {"name": "赵六", "phone": "137-0000-2222"},
            "channel": "web",
            "category": "service_attitude",
            "store_id": None,
            "department": "物业工程部",
            "received_at": "2025-11-23T10:00:00+08:00",
        },
        "e": {
            "complainant": {"name": "钱七", "phone": "13600003333"},
            "channel": "phone",
            "category": "billing",
            "store_id": "SZ-NS-001",
            "received_at": "2025-11-24T10:00:00+08:00",
        },
    }
    ids: dict[str, str] = {}
    labels: dict[str, str] = {}
    for i, (label, spec) in enumerate(specs.items()):
        complaint = register_at(handler, START + timedelta(days=10, minutes=i), **spec)
        ids[label] = complaint["id"]
        labels[label] = complaint["number"]
    handler.move(ids["d"], "investigate", {"department": "物业工程部"})
    handler.move(ids["e"], "reject", {"reason": "misunderstanding", "explanation": "经核实，系计费规则误解。"})
    return labels


def labelled(corpus: dict[str, str], found: list[str]) -> str:
    by_number = {number: label for label, number in corpus.items()}
    return "".join(by_number[number] for number in found)


def test_without_filters_everything_newest_first(handler: Caller, corpus: dict[str, str]) -> None:
    assert labelled(corpus, numbers(handler)) == "edcba"


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"state": "accepted"}, "cba"),
        ({"state": "investigating"}, "d"),
        ({"state": "rejected"}, "e"),
        ({"state": "revisited"}, ""),
        ({"store_id": "SZ-FT-012"}, "ca"),
        ({"store_id": "SZ-LH-003"}, "b"),
        ({"store_id": "SZ-FT-01"}, ""),
        ({"category": "service_attitude"}, "da"),
        ({"category": "billing"}, "eb"),
        ({"category": "delivery"}, ""),
        ({"channel": "phone"}, "ea"),
        ({"channel": "media"}, "c"),
        ({"channel": "letter"}, ""),
        ({"priority": "media"}, "c"),
        ({"priority": "urgent"}, "b"),
        ({"priority": "normal"}, "eda"),
        ({"store_id": "SZ-FT-012", "category": "service_attitude"}, "a"),
        ({"state": "accepted", "channel": "phone"}, "a"),
        ({"store_id": "SZ-FT-012", "priority": "urgent"}, ""),
    ],
)
def test_each_filter_narrows(handler: Caller, corpus: dict[str, str], params: dict[str, str], expected: str) -> None:
    assert labelled(corpus, numbers(handler, **params)) == expected


@pytest.mark.parametrize(
    ("phone", "expected"),
    [
        ("13812348000", "ca"),
        ("138 1234 8000", "ca"),
        ("138-1234-8000", "ca"),
        ("+86 138 1234 8000", "ca"),
        ("+8613812348000", "ca"),
        ("0086-138-1234-8000", "ca"),
        ("139-0000-1111", "b"),
        ("+86 137 0000 2222", "d"),
        ("13812348001", ""),
        ("1381234800", ""),
    ],
)
def test_phone_is_normalised_before_matching(
    handler: Caller, corpus: dict[str, str], phone: str, expected: str
) -> None:
    assert labelled(corpus, numbers(handler, phone=phone)) == expected


def test_a_phone_that_is_no_phone_is_refused(handler: Caller, corpus: dict[str, str]) -> None:
    body = problem(handler.get("/v1/complaints", params={"phone": "not a phone"}), 422)
    assert "not a phone" not in str(body)


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"received_from": "2025-11-21T10:00:00+08:00"}, "edcb"),
        ({"received_from": "2025-11-21T10:00:01+08:00"}, "edc"),
        ({"received_from": "2025-11-21T02:00:00Z"}, "edcb"),
        ({"received_from": "2025-11-20T21:00:00-05:00"}, "edcb"),
        ({"received_to": "2025-11-22T10:00:00+08:00"}, "ba"),
        ({"received_to": "2025-11-22T10:00:00.001+08:00"}, "cba"),
        ({"received_to": "2025-11-22T02:00:00+00:00"}, "ba"),
        ({"received_from": "2025-11-21T00:00:00+08:00", "received_to": "2025-11-23T00:00:00+08:00"}, "cb"),
        ({"received_from": "2025-11-23T00:00:00+08:00", "received_to": "2025-11-21T00:00:00+08:00"}, ""),
        ({"received_from": "2025-11-25T00:00:00+08:00"}, ""),
        ({"received_from": "2025-11-21T00:00:00+08:00", "channel": "media"}, "c"),
    ],
)
def test_received_from_is_inclusive_and_received_to_exclusive(
    handler: Caller, corpus: dict[str, str], params: dict[str, str], expected: str
) -> None:
    assert labelled(corpus, numbers(handler, **params)) == expected


@pytest.mark.parametrize(
    "params",
    [
        {"state": "closed"},
        {"category": "rudeness"},
        {"channel": "fax"},
        {"priority": "high"},
        {"received_from": "2025-11-21T10:00:00"},
        {"received_to": "2025-02-30T10:00:00+08:00"},
        {"received_from": "yesterday"},
        {"store_id": "S" * 65},
        {"store_id": "物业工程部"},  # not a store id: departments are not stores
        {"store_id": "SZ\x00FT"},
        {"sort": "oldest"},
    ],
)
def test_a_bad_query_is_refused(handler: Caller, corpus: dict[str, str], params: dict[str, str]) -> None:
    body = problem(handler.get("/v1/complaints", params=params), 422)
    assert body["errors"], body


def test_newest_first(handler: Caller) -> None:
    registered = [complaint["number"] for complaint in register_many(handler, 5)]
    assert numbers(handler) == list(reversed(registered))


def test_newest_first_by_registration_even_when_received_earlier(handler: Caller) -> None:
    older = register_at(handler, START, received_at="2025-11-19T09:00:00+08:00")
    newer = register_at(handler, START + timedelta(minutes=1), received_at="2025-11-01T09:00:00+08:00")
    assert numbers(handler) == [newer["number"], older["number"]]


def test_newest_first_within_the_same_millisecond(handler: Caller) -> None:
    # A busy call center registers several complaints within one millisecond; the clock is frozen to make that
    # certain. Their numbers say which came first, and the list must still show the newest first.
    with time_machine.travel(START, tick=False):
        registered = [handler.register()["number"] for _ in range(6)]
    assert registered == [f"TS-20251120-{n:04d}" for n in range(1, 7)]
    assert numbers(handler) == list(reversed(registered))


def test_limit_defaults_to_fifty(handler: Caller) -> None:
    register_many(handler, 51)
    first = page(handler)
    assert len(first["items"]) == 50
    assert first["next_cursor"] is not None
    rest = page(handler, cursor=first["next_cursor"])
    assert len(rest["items"]) == 1
    assert rest["next_cursor"] is None
    assert rest["items"][0]["number"] == "TS-20251120-0001"


@pytest.mark.parametrize("limit", ["0", "-1", "201", "1000", "ten", "2.5", ""])
def test_a_limit_out_of_range_is_refused(handler: Caller, limit: str) -> None:
    body = problem(handler.get("/v1/complaints", params={"limit": limit}), 422)
    assert [error["loc"] for error in body["errors"]] == [["query", "limit"]]


@pytest.mark.parametrize(("limit", "expected"), [(1, 1), (200, 3)])
def test_limits_of_one_to_two_hundred_are_accepted(handler: Caller, limit: int, expected: int) -> None:
    register_many(handler, 3)
    assert len(page(handler, limit=limit)["items"]) == expected


def test_a_limit_of_two_hundred_returns_two_hundred(handler: Caller) -> None:
    register_many(handler, 201)
    first = page(handler, limit=200)
    assert len(first["items"]) == 200
    assert first["items"][0]["number"] == "TS-20251120-0201"
    assert first["next_cursor"] is not None


def walk(caller: Caller, **params: Any) -> list[list[str]]:
    pages: list[list[str]] = []
    cursor: str | None = None
    while True:
        answer = page(caller, **params, **({"cursor": cursor} if cursor else {}))
        pages.append([item["number"] for item in answer["items"]])
        cursor = answer["next_cursor"]
        if cursor is None:
            return pages
        assert len(pages) < 20, "the cursor does not advance"


def test_walking_the_cursor_returns_every_complaint_once(handler: Caller) -> None:
    registered = [complaint["number"] for complaint in register_many(handler, 7)]
    pages = walk(handler, limit=3)
    assert [len(p) for p in pages] == [3, 3, 1]
    flat = [number for p in pages for number in p]
    assert flat == list(reversed(registered))
    assert len(set(flat)) == 7


def test_an_exact_number_of_pages_ends_without_an_empty_page(handler: Caller) -> None:
    register_many(handler, 6)
    pages = walk(handler, limit=3)
    assert [len(p) for p in pages] == [3, 3]


def test_the_cursor_keeps_the_filters(handler: Caller) -> None:
    registered = [
        register_at(handler, START + timedelta(minutes=i), channel="media" if i % 2 else "phone")["number"]
        for i in range(9)
    ]
    media = [number for i, number in enumerate(registered) if i % 2]
    pages = walk(handler, limit=3, channel="media")
    assert [len(p) for p in pages] == [3, 1]
    assert [number for p in pages for number in p] == list(reversed(media))


def test_a_complaint_registered_while_walking_does_not_disturb_the_walk(handler: Caller) -> None:
    registered = [complaint["number"] for complaint in register_many(handler, 5)]
    first = page(handler, limit=2)
    register_at(handler, START + timedelta(hours=1))
    rest = walk_from(handler, first["next_cursor"], limit=2)
    assert [item["number"] for item in first["items"]] + rest == list(reversed(registered))


def walk_from(caller: Caller, cursor: str | None, **params: Any) -> list[str]:
    found: list[str] = []
    while cursor is not None:
        answer = page(caller, cursor=cursor, **params)
        found += [item["number"] for item in answer["items"]]
        cursor = answer["next_cursor"]
    return found


@pytest.mark.parametrize(
    "cursor",
    ["not-a-cursor", "!!!!", "AAAA", "é", "A" * 21, "A" * 23, "A" * 65, "%00"],
)
def test_a_malformed_cursor_is_refused(handler: Caller, cursor: str) -> None:
    register_many(handler, 2)
    body = problem(handler.get("/v1/complaints", params={"cursor": cursor}), 422)
    assert body["status"] == 422


def test_a_reporter_may_list(make_caller: Any, handler: Caller) -> None:
    complaint = handler.register()
    reporter = make_caller("reporter", actor="report-01")
    found = page(reporter)
    assert [item["id"] for item in found["items"]] == [complaint["id"]]
    assert found["items"][0]["complainant"]["phone"] == "13812348000"
    assert found["items"][0]["allowed_moves"] == []


def test_a_store_lists_only_what_was_dispatched_to_it_masked(make_caller: Any, handler: Caller) -> None:
    ours = handler.register(store_id="SZ-FT-012")
    handler.move(ours["id"], "investigate", {"store_id": "SZ-FT-012"})
    handler.register(store_id="SZ-FT-012")  # complained about, but not dispatched
    other = handler.register(store_id="SZ-LH-003")
    handler.move(other["id"], "investigate", {"store_id": "SZ-LH-003"})
    store = make_caller("store", store_id="SZ-FT-012", actor="店长王五")
    items = page(store)["items"]
    assert [item["id"] for item in items] == [ours["id"]]
    assert items[0]["complainant"] == {
        "name": "张*",
        "phone": "138****8000",
        "email": None,
        "customer_ref": None,
        "address": None,
    }
    refused = store.get("/v1/complaints", params={"phone": "13812348000"})  # no search on personal data
    assert refused.status_code == 403, refused.text


def test_listing_without_a_key_is_401(client: Any, handler: Caller) -> None:
    handler.register()
    body = problem(client.get("/v1/complaints"), 401)
    assert "items" not in body
    assert client.get("/v1/complaints").headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize("authorization", ["Bearer tsk_unknown", "Basic dXNlcjpwYXNz", "Bearer "])
def test_listing_with_a_bad_key_is_401(client: Any, handler: Caller, authorization: str) -> None:
    handler.register()
    problem(client.get("/v1/complaints", headers={"Authorization": authorization}), 401)
