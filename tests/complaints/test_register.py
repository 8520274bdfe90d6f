"""POST /v1/complaints: numbering per local day, priority, phones, times, refusals and exact round trips."""

from __future__ import annotations

import json
import re
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from threading import Barrier
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine

from app.db import Database
from tests.conftest import Caller, LiveServer, complaint_body

NUMBER = re.compile(r"^TS-\d{8}-\d{4}$")


def problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    return response.json()


def listed(caller: Caller) -> list[dict[str, Any]]:
    response = caller.get("/v1/complaints", params={"limit": 200})
    assert response.status_code == 200, response.text
    return response.json()["items"]


def test_register_answers_201_with_id_number_and_location(handler: Caller) -> None:
    response = handler.post("/v1/complaints", json=complaint_body())
    assert response.status_code == 201, response.text
    complaint = response.json()
    assert NUMBER.match(complaint["number"]), complaint["number"]
    assert response.headers["location"] == f"/v1/complaints/{complaint['id']}"
    assert response.headers["etag"] == '"1"'
    read = handler.get(f"/v1/complaints/{complaint['id']}").json()
    assert read["number"] == complaint["number"]
    assert read["state"] == "accepted"


def test_register_takes_todays_local_number(handler: Caller) -> None:
    with time_machine.travel(datetime(2026, 7, 1, 4, 0, tzinfo=UTC), tick=False):
        complaint = handler.register()
    assert complaint["number"] == "TS-20260701-0001"
    assert complaint["received_at"] == "2026-07-01T12:00:00+08:00"
    assert complaint["times"]["accepted_at"] == "2026-07-01T12:00:00+08:00"


def test_half_past_eleven_utc_is_already_the_next_local_day(handler: Caller) -> None:
    with time_machine.travel(datetime(2026, 3, 9, 23, 30, tzinfo=UTC), tick=False):
        complaint = handler.register()
    assert complaint["number"] == "TS-20260310-0001", "23:30 UTC is 07:30 the next day in Asia/Shanghai"
    assert complaint["received_at"] == "2026-03-10T07:30:00+08:00"


def test_numbers_increment_within_a_local_day_and_restart_the_next(handler: Caller) -> None:
    numbers = []
    # 2026-03-09 16:00 UTC is midnight in Shanghai: the first three are 2026-03-10 local, the last two 2026-03-11.
    for moment in (
        datetime(2026, 3, 9, 16, 0, tzinfo=UTC),  # 00:00 local
        datetime(2026, 3, 10, 3, 0, tzinfo=UTC),  # 11:00 local
        datetime(2026, 3, 10, 15, 59, 59, tzinfo=UTC),  # 23:59:59 local
        datetime(2026, 3, 10, 16, 0, tzinfo=UTC),  # 00:00 local, next day
        datetime(2026, 3, 10, 23, 30, tzinfo=UTC),  # 07:30 local
    ):
        with time_machine.travel(moment, tick=False):
            numbers.append(handler.register()["number"])
    assert numbers == [
        "TS-20260310-0001",
        "TS-20260310-0002",
        "TS-20260310-0003",
        "TS-20260311-0001",
        "TS-20260311-0002",
    ]


def test_the_number_counts_the_registration_day_not_the_received_day(handler: Caller) -> None:
    with time_machine.travel(datetime(2026, 3, 10, 2, 0, tzinfo=UTC), tick=False):
        first = handler.register(received_at="2026-03-01T09:00:00+08:00")
        second = handler.register()
    assert first["number"] == "TS-20260310-0001"
    assert first["received_at"] == "2026-03-01T09:00:00+08:00"
    assert second["number"] == "TS-20260310-0002"


def test_numbers_are_unique_among_many_registrations(handler: Caller) -> None:
    with time_machine.travel(datetime(2026, 3, 10, 2, 0, tzinfo=UTC), tick=False):
        numbers = [handler.register()["number"] for _ in range(12)]
    assert numbers == [f"TS-20260310-{n:04d}" for n in range(1, 13)]


@pytest.mark.parametrize("priority", [None, "normal", "urgent"])
def test_a_media_complaint_always_gets_priority_media(handler: Caller, priority: str | None) -> None:
    overrides: dict[str, Any] = {"channel": "media"}
    if priority is not None:
        overrides["priority"] = priority
    complaint = handler.register(**overrides)
    assert complaint["channel"] == "media"
    assert complaint["priority"] == "media"
    assert handler.get(f"/v1/complaints/{complaint['id']}").json()["priority"] == "media"


def test_other_channels_keep_the_priority_given_or_normal(handler: Caller) -> None:
    assert handler.register(channel="phone")["priority"] == "normal"
    assert handler.register(channel="web", priority="urgent")["priority"] == "urgent"


@pytest.mark.parametrize(
    "phone",
    [
        "13812348000",
        "138 1234 8000",
        "138-1234-8000",
        " 138 - 1234 - 8000 ",
        "+86 138 1234 8000",
        "+86-138-1234-8000",
        "+8613812348000",
        "0086 138 1234 8000",
    ],
)
def test_phones_are_normalised_to_eleven_digits(handler: Caller, phone: str) -> None:
    complaint = handler.register(complainant={"name": "张三", "phone": phone})
    assert complaint["complainant"]["phone"] == "13812348000"
    assert handler.get(f"/v1/complaints/{complaint['id']}").json()["complainant"]["phone"] == "13812348000"


@pytest.mark.parametrize("phone", ["138-1234-800O", "call me back", "+86 abc", "1234", "138#1234#8000", ""])
def test_a_bad_phone_is_refused(handler: Caller, phone: str) -> None:
    response = handler.post("/v1/complaints", json=complaint_body(complainant={"name": "张三", "phone": phone}))
    body = problem(response, 422)
    assert any(error["loc"][-2:] == ["complainant", "phone"] for error in body["errors"]), body
    assert phone.strip() == "" or phone not in json.dumps(body, ensure_ascii=False), "the input is not echoed"
    assert listed(handler) == []


def test_received_at_with_an_offset_is_kept_and_shown_in_local_time(handler: Caller) -> None:
    complaint = handler.register(received_at="2025-11-20T21:15:30-05:00")
    assert complaint["received_at"] == "2025-11-21T10:15:30+08:00"
    read = handler.get(f"/v1/complaints/{complaint['id']}").json()
    assert read["received_at"] == "2025-11-21T10:15:30+08:00"
    assert datetime.fromisoformat(read["received_at"]) == datetime(2025, 11, 21, 2, 15, 30, tzinfo=UTC)


def test_received_at_in_utc_is_shown_in_local_time(handler: Caller) -> None:
    complaint = handler.register(received_at="2025-11-21T17:45:00Z")
    assert handler.get(f"/v1/complaints/{complaint['id']}").json()["received_at"] == "2025-11-22T01:45:00+08:00"


def test_received_at_defaults_to_now(handler: Caller) -> None:
    with time_machine.travel(datetime(2026, 5, 1, 1, 2, 3, tzinfo=UTC), tick=False):
        complaint = handler.register()
    assert complaint["received_at"] == "2026-05-01T09:02:03+08:00"


def test_received_at_may_be_up_to_five_minutes_ahead_for_clock_skew(handler: Caller) -> None:
    now = datetime(2026, 5, 1, 2, 0, tzinfo=UTC)
    with time_machine.travel(now, tick=False):
        complaint = handler.register(received_at=(now + timedelta(minutes=5)).isoformat())
    assert complaint["received_at"] == "2026-05-01T10:05:00+08:00"


@pytest.mark.parametrize("ahead", [timedelta(minutes=5, seconds=1), timedelta(hours=1), timedelta(days=365)])
def test_received_at_in_the_future_is_refused(handler: Caller, ahead: timedelta) -> None:
    now = datetime(2026, 5, 1, 2, 0, tzinfo=UTC)
    with time_machine.travel(now, tick=False):
        response = handler.post("/v1/complaints", json=complaint_body(received_at=(now + ahead).isoformat()))
        body = problem(response, 422)
        assert body["field"] == "received_at"
        assert listed(handler) == []
        assert handler.register()["number"] == "TS-20260501-0001", "the refused one took no number"


def test_received_at_in_the_future_in_another_offset_is_refused(handler: Caller) -> None:
    # 10:30 at -05:00 is 15:30 UTC: in the future although its wall-clock reading is earlier than now's.
    with time_machine.travel(datetime(2026, 5, 1, 15, 0, tzinfo=UTC), tick=False):
        problem(handler.post("/v1/complaints", json=complaint_body(received_at="2026-05-01T10:30:00-05:00")), 422)


def test_a_naive_received_at_is_refused(handler: Caller) -> None:
    body = problem(handler.post("/v1/complaints", json=complaint_body(received_at="2025-11-21T10:15:00")), 422)
    assert [error["loc"] for error in body["errors"]] == [["body", "received_at"]]
    assert body["errors"][0]["type"] == "timezone_aware"
    assert listed(handler) == []


@pytest.mark.parametrize(
    "received_at", ["2026-02-30T10:00:00+08:00", "2025-13-01T10:00:00+08:00", "2025-11-21T24:30:00+08:00", "昨天"]
)
def test_an_impossible_received_at_is_refused(handler: Caller, received_at: str) -> None:
    body = problem(handler.post("/v1/complaints", json=complaint_body(received_at=received_at)), 422)
    assert [error["loc"] for error in body["errors"]] == [["body", "received_at"]]
    assert listed(handler) == []


@pytest.mark.parametrize(
    "unit",
    [
        {"store_id": None},
        {"store_id": None, "department": None},
        {"store_id": ""},
        {"store_id": "   "},
        {"store_id": None, "department": ""},
    ],
)
def test_neither_store_nor_department_is_refused(handler: Caller, unit: dict[str, Any]) -> None:
    problem(handler.post("/v1/complaints", json=complaint_body(**unit)), 422)
    assert listed(handler) == []


def test_a_department_alone_is_enough(handler: Caller) -> None:
    complaint = handler.register(store_id=None, department="物业工程部")
    assert complaint["store_id"] is None
    assert complaint["department"] == "物业工程部"


@pytest.mark.parametrize(
    "extra",
    [
        {"state": "resolved"},
        {"version": 7},
        {"store_binding": "SZ-FT-012"},
        {"id": "0190f2c6-0000-7000-8000-000000000000"},
        {"number": "TS-20200101-9999"},
        {"reopen_count": 3},
        {"approved_by": "boss"},
        {"remedy": {"kind": "refund", "amount": "100.00"}},
    ],
)
def test_unknown_fields_are_refused_and_nothing_is_stored(handler: Caller, extra: dict[str, Any]) -> None:
    body = problem(handler.post("/v1/complaints", json=complaint_body(**extra)), 422)
    (field,) = extra
    assert ["body", field] in [error["loc"] for error in body["errors"]]
    assert listed(handler) == []
    assert handler.register()["number"].endswith("-0001"), "the refused request took no number"


def test_an_unknown_field_of_the_complainant_is_refused(handler: Caller) -> None:
    complainant = {"name": "张三", "phone": "13812348000", "vip": True}
    body = problem(handler.post("/v1/complaints", json=complaint_body(complainant=complainant)), 422)
    assert ["body", "complainant", "vip"] in [error["loc"] for error in body["errors"]]
    assert listed(handler) == []


def test_owner_is_a_known_field_and_names_who_follows_the_complaint(handler: Caller) -> None:
    # `owner` is part of the registration schema (首问责任人), so it is not refused like an unknown field.
    assert handler.register(owner="agent-0099")["owner"] == "agent-0099"
    assert handler.register()["owner"] == "handler-07"


@pytest.mark.parametrize(
    "overrides",
    [
        {"description": "店员\x00态度恶劣"},
        {"customer_request": "\x00"},
        {"complainant": {"name": "张\x00三", "phone": "13812348000"}},
        {"description": "bell \x07 in the text"},
    ],
)
def test_control_characters_are_refused(handler: Caller, overrides: dict[str, Any]) -> None:
    problem(handler.post("/v1/complaints", json=complaint_body(**overrides)), 422)
    assert listed(handler) == []


def test_tabs_and_line_breaks_are_text(handler: Caller) -> None:
    description = "第一行\n第二行\r\n\t缩进的第三行"
    complaint = handler.register(description=description)
    assert handler.get(f"/v1/complaints/{complaint['id']}").json()["description"] == description


NAMES = [
    "欧阳娜娜",
    "Zoë 😀 李👍🏽",
    "\u200fمحمد\u200e 王",  # right-to-left and left-to-right marks
    "👨‍👩‍👧‍👦" * 14 + "张",  # 14 family emoji of 7 code points each, and one character: 99 code points
    "𠀀𪚥" * 50,  # 100 characters outside the Basic Multilingual Plane: the maximum length
    "龘" * 100,
]


@pytest.mark.parametrize("name", NAMES)
def test_names_round_trip_exactly(handler: Caller, name: str) -> None:
    assert len(name) <= 100
    complaint = handler.register(complainant={"name": name, "phone": "13812348000"})
    assert complaint["complainant"]["name"] == name
    assert handler.get(f"/v1/complaints/{complaint['id']}").json()["complainant"]["name"] == name
    (item,) = listed(handler)
    assert item["complainant"]["name"] == name


def test_a_name_over_the_maximum_length_is_refused(handler: Caller) -> None:
    complainant = {"name": "龘" * 101, "phone": "13812348000"}
    response = handler.post("/v1/complaints", json=complaint_body(complainant=complainant))
    problem(response, 422)
    assert listed(handler) == []


def test_texts_round_trip_exactly(handler: Caller) -> None:
    description = ("店员态度恶劣 😡 \u202eRTL override\u202c ، العربية\u200f;" * 400)[:10_000]
    assert description == description.strip()
    request = "要求道歉🙏 and a refund of ¥300 — 谢谢"
    complaint = handler.register(description=description, customer_request=request, external_ref="CRM-语音-😀")
    read = handler.get(f"/v1/complaints/{complaint['id']}").json()
    assert len(read["description"]) == 10_000
    assert read["description"] == description
    assert read["customer_request"] == request
    assert read["external_ref"] == "CRM-语音-😀"


def test_a_description_over_the_maximum_length_is_refused(handler: Caller) -> None:
    problem(handler.post("/v1/complaints", json=complaint_body(description="投" * 10_001)), 422)
    assert listed(handler) == []


def test_the_register_event_keeps_no_contact_details(handler: Caller) -> None:
    complainant = {
        "name": "欧阳娜娜",
        "phone": "+86 139-0000-1234",
        "email": "ouyang@example.com",
        "customer_ref": "CRM-CUST-778899",
    }
    complaint = handler.register(complainant=complainant, received_at="2025-11-21T10:15:00+08:00")
    events = handler.get(f"/v1/complaints/{complaint['id']}/events").json()
    assert [event["move"] for event in events] == ["register"]
    (event,) = events
    assert event["actor"] == "handler-07"
    assert event["to_state"] == "accepted" and event["from_state"] is None
    assert event["payload"]["store_id"] == "SZ-FT-012", "the rest of the registration is kept"
    text = json.dumps(events, ensure_ascii=False)
    for secret in ("欧阳娜娜", "13900001234", "139-0000-1234", "ouyang", "CRM-CUST-778899"):
        assert secret not in text, f"{secret!r} is in the register event"
    assert "complainant" not in event["payload"]


def test_registering_needs_a_key_and_an_actor(client: Any, handler: Caller) -> None:
    problem(client.post("/v1/complaints", json=complaint_body()), 401)
    response = client.post("/v1/complaints", json=complaint_body(), headers={"Authorization": f"Bearer {handler.key}"})
    assert response.status_code == 422, response.text
    assert listed(handler) == []


@pytest.mark.parametrize("role", ["intake", "handler", "supervisor", "manager", "admin"])
def test_roles_that_may_register(make_caller: Any, role: str) -> None:
    assert make_caller(role).register()["state"] == "accepted"


@pytest.mark.parametrize("role", ["reporter", "store"])
def test_roles_that_may_not_register(make_caller: Any, handler: Caller, role: str) -> None:
    caller = make_caller(role, store_id="SZ-FT-012" if role == "store" else None)
    problem(caller.post("/v1/complaints", json=complaint_body()), 403)
    assert listed(handler) == []


def test_the_first_registrations_of_a_day_arriving_together_get_a_number_each(live_server: LiveServer) -> None:
    """On PostgreSQL the first of them makes the day's sequence while the others wait for it or make it too."""
    intake = live_server.caller("intake")
    barrier = Barrier(20)

    def send(_: int) -> Any:
        barrier.wait()
        return intake.post("/v1/complaints", json=complaint_body())

    # Noon in Shanghai, the clock running: the burst and the reading of the day after it fall on one local day.
    with time_machine.travel(datetime(2026, 7, 1, 4, 0, tzinfo=UTC), tick=True), ThreadPoolExecutor(20) as pool:
        responses = list(pool.map(send, range(20)))
        day = datetime.now(ZoneInfo(live_server.settings.timezone)).strftime("%Y%m%d")
    assert [r.status_code for r in responses] == [201] * 20, [r.text for r in responses if r.status_code != 201]
    numbers = sorted(r.json()["number"] for r in responses)
    assert numbers == [f"TS-{day}-{n:04d}" for n in range(1, 21)]


@pytest.mark.postgresql_only
def test_a_day_numbered_before_the_sequences_continues_from_its_counter(handler: Caller, db: Database) -> None:
    with time_machine.travel(datetime(2026, 7, 1, 2, 0, tzinfo=UTC), tick=False):
        with db.engine.begin() as connection:
            connection.exec_driver_sql("INSERT INTO complaint_number_counters (day, last) VALUES ('2026-07-01', 41)")
        assert [handler.register()["number"] for _ in range(2)] == ["TS-20260701-0042", "TS-20260701-0043"]
