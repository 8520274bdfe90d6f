"""Escalation that reaches people: the ladder's triggers, the contacts they name, raising the priority, the major
complaint's incident report. Over HTTP, on both databases, on a controlled clock."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from app.complaints.sweeper import sweep
from app.db import Database
from tests.conftest import Caller
from tests.sla.moments import frozen, instant, local

STORE, OTHER_STORE = "SZ-FT-012", "GZ-TH-003"
# Distinctive people, to look for in every byte a key that may not read contacts gets.
PEOPLE = {
    "store": {"position": "store_manager", "store_id": STORE, "name": "王店长甲", "phone": "139 0000 1111"},
    "other_store": {"position": "store_manager", "store_id": OTHER_STORE, "name": "别店长乙", "phone": "139 0000 2222"},
    "region": {"position": "region_manager", "region": "华南区", "name": "李区域丙", "wecom_id": "LiQuYu"},
    "other_region": {"position": "region_manager", "region": "华北区", "name": "别区域丁", "phone": "139 0000 4444"},
    "supervisor": {
        "position": "cs_supervisor",
        "name": "赵主管戊",
        "phone": "139 0000 5555",
        "email": "zhao@example.cn",
    },
    "general": {"position": "general_manager", "name": "钱总己", "dingtalk_id": "qian-gm"},
}
SECRETS = ("王店长甲", "13900001111", "李区域丙", "LiQuYu", "赵主管戊", "13900005555", "zhao@example.cn", "钱总己")
FEEDBACK = {"cause": "店员未按流程操作", "responsible_person": "李四", "responsibility": "staff_fault"}


@pytest.fixture
def ladder(admin: Caller) -> dict[str, dict[str, Any]]:
    """The chain: two stores in two regions, and a person at every position (and decoys that must not be named)."""
    for store, region in ((STORE, "华南区"), (OTHER_STORE, "华北区")):
        response = admin.client.put(f"/v1/stores/{store}", json={"region": region}, headers=admin.headers())
        assert response.status_code in (200, 201), response.text
    added = {}
    for key, person in PEOPLE.items():
        response = admin.post("/v1/escalation-contacts", json=person)
        assert response.status_code == 201, response.text
        added[key] = response.json()
    return added


def history(caller: Caller, complaint_id: str) -> list[dict[str, Any]]:
    response = caller.get(f"/v1/complaints/{complaint_id}/events")
    assert response.status_code == 200, response.text
    return list(response.json())


def escalations(caller: Caller, complaint_id: str) -> list[tuple[str, str, list[str]]]:
    """Each escalation as (trigger, level, names of the addressees)."""
    return [
        (e["payload"]["trigger"], e["payload"]["level"], [a.get("name") for a in e["payload"]["addressees"]])
        for e in history(caller, complaint_id)
        if e["move"] == "complaint.escalated"
    ]


def dispatched(handler: Caller) -> dict[str, Any]:
    with frozen(2026, 11, 16, 10, 0):  # Monday
        complaint = handler.register(received_at="2026-11-16T10:00:00+08:00")
        return handler.move(complaint["id"], "investigate", {"store_id": STORE})


def clock(complaint: dict[str, Any], kind: str) -> dict[str, Any]:
    (found,) = [c for c in complaint["clocks"] if c["kind"] == kind and c["stopped_at"] is None]
    return found


def test_each_clock_trigger_of_the_default_ladder_reaches_its_people_once(
    ladder: Any, handler: Caller, manager: Caller, db: Database
) -> None:
    complaint = dispatched(handler)
    feedback, reply = clock(complaint, "store_feedback"), clock(complaint, "written_reply")

    sweep(db, instant(feedback["warn_at"]))
    assert escalations(manager, complaint["id"]) == [("feedback_warning", "store_manager", ["王店长甲"])]
    sweep(db, instant(feedback["due_at"]))
    sweep(db, instant(feedback["due_at"]) + timedelta(hours=1))  # again: nothing more
    assert escalations(manager, complaint["id"])[1:] == [("feedback_breach", "region_manager", ["李区域丙"])]

    sweep(db, instant(reply["due_at"]))  # the written reply is late too: the complaint's second breach
    assert escalations(manager, complaint["id"])[2:] == [
        ("reply_breach", "cs_supervisor", ["赵主管戊"]),
        ("second_breach", "cs_supervisor", ["赵主管戊"]),
    ]
    sweep(db, instant(reply["due_at"]) + timedelta(days=3))
    assert len(escalations(manager, complaint["id"])) == 4, "no trigger escalates twice to the same level"

    (to_region,) = [e for e in history(manager, complaint["id"]) if e["payload"].get("trigger") == "feedback_breach"]
    assert to_region["payload"]["addressees"] == [
        {
            "name": "李区域丙",
            "position": "region_manager",
            "phone": None,
            "email": None,
            "wecom_id": "LiQuYu",
            "dingtalk_id": None,
        }
    ]
    assert to_region["payload"]["clock"] == "store_feedback" and to_region["payload"]["store_id"] == STORE
    assert to_region["payload"]["reason"] == "store_feedback breached: escalated to 区域经理"


def test_a_media_complaint_reaches_the_supervisor_and_the_general_manager_at_registration(
    ladder: Any, intake: Caller, manager: Caller
) -> None:
    complaint = intake.register(channel="media")
    assert escalations(manager, complaint["id"]) == [
        ("media", "cs_supervisor", ["赵主管戊"]),
        ("media", "general_manager", ["钱总己"]),
    ]


def test_a_position_nobody_holds_is_still_escalated_with_no_addressees(handler: Caller, manager: Caller) -> None:
    complaint = handler.register(channel="media")
    assert escalations(manager, complaint["id"]) == [
        ("media", "cs_supervisor", []),
        ("media", "general_manager", []),
    ]


def test_escalate_raises_the_priority_restarts_the_clocks_and_a_major_complaint_owes_its_report(
    ladder: Any, handler: Caller, manager: Caller, db: Database
) -> None:
    complaint = dispatched(handler)
    with frozen(2026, 11, 16, 11, 0):
        raised = handler.move(complaint["id"], "escalate", {"priority": "major", "reason": "顾客食用后就医"})
    assert raised["priority"] == "major" and raised["state"] == "investigating"
    assert raised["version"] == complaint["version"] + 1
    assert clock(raised, "store_feedback")["target"] == "4 hours, warning after 2"
    assert instant(clock(raised, "store_feedback")["due_at"]) == local(2026, 11, 16, 14, 0), "counted from dispatch"
    report = clock(raised, "incident_report")
    assert report["target"] == "24 hours, warning after 12"
    assert instant(report["due_at"]) == local(2026, 11, 17, 11, 0)
    assert "incident-report" in raised["allowed_moves"] and "escalate" not in raised["allowed_moves"]
    entry = next(e for e in history(manager, complaint["id"]) if e["move"] == "escalate")
    assert entry["payload"] == {"priority": "major", "previous_priority": "normal", "reason": "顾客食用后就医"}
    assert escalations(manager, complaint["id"]) == [
        ("major", "cs_supervisor", ["赵主管戊"]),
        ("major", "general_manager", ["钱总己"]),
    ]

    with frozen(2026, 11, 16, 11, 5):
        again = handler.post(f"/v1/complaints/{complaint['id']}/escalate", json={"priority": "urgent", "reason": "x"})
    assert again.status_code == 409 and again.json()["guard"] == "raises_priority"

    with frozen(2026, 11, 17, 9, 30):
        reported = handler.move(complaint["id"], "incident-report", {"report": "已下架同批次产品并送检。"})
    assert instant(reported["incident_reported_at"]) == local(2026, 11, 17, 9, 30)
    (met,) = [c for c in reported["clocks"] if c["kind"] == "incident_report"]
    assert met["state"] == "met"
    with frozen(2026, 11, 17, 9, 35):
        twice = handler.post(f"/v1/complaints/{complaint['id']}/incident-report", json={"report": "补充"})
    assert twice.status_code == 409 and twice.json()["guard"] == "incident_report_due"


def test_a_late_incident_report_escalates(ladder: Any, handler: Caller, manager: Caller, db: Database) -> None:
    with frozen(2026, 11, 16, 10, 0):
        complaint = handler.register(priority="major", category="incident")
    report = clock(complaint, "incident_report")
    assert instant(report["due_at"]) == local(2026, 11, 17, 10, 0)
    sweep(db, instant(report["due_at"]))
    assert ("incident_report_breach", "general_manager", ["钱总己"]) in escalations(manager, complaint["id"])


def test_a_normal_complaint_owes_no_incident_report(handler: Caller) -> None:
    complaint = handler.register()
    refused = handler.post(f"/v1/complaints/{complaint['id']}/incident-report", json={"report": "无"})
    assert refused.status_code == 409 and refused.json()["guard"] == "incident_report_due"
    assert [c["kind"] for c in complaint["clocks"]] == ["written_reply"]


def test_lowered_and_raised_again_the_same_trigger_does_not_escalate_twice(
    ladder: Any, handler: Caller, manager: Caller
) -> None:
    complaint = handler.register(channel="phone", priority="media")
    current = handler.get(f"/v1/complaints/{complaint['id']}").json()
    lowered = manager.client.patch(
        f"/v1/complaints/{complaint['id']}",
        json={"priority": "normal", "reason": "并非媒体"},
        headers=manager.headers({"If-Match": f'"{current["version"]}"'}),
    )
    assert lowered.status_code == 200, lowered.text
    handler.move(complaint["id"], "escalate", {"priority": "media", "reason": "记者再次来电"})
    assert [t for t, _, _ in escalations(manager, complaint["id"])] == ["media", "media"], "once per position"


def test_escalate_refuses_bad_input_and_changes_nothing(handler: Caller) -> None:
    complaint = handler.register()
    path = f"/v1/complaints/{complaint['id']}/escalate"
    for body in (
        {},
        {"priority": "major"},
        {"priority": "highest", "reason": "x"},
        {"priority": "major", "reason": " "},
    ):
        response = handler.post(path, json=body)
        assert response.status_code == 422, (body, response.text)
        assert response.headers["content-type"] == "application/problem+json"
    same = handler.get(f"/v1/complaints/{complaint['id']}").json()
    assert (same["version"], same["priority"]) == (complaint["version"], "normal")


def test_only_admin_and_manager_keys_read_the_people(
    ladder: Any, handler: Caller, manager: Caller, make_caller: Any, db: Database
) -> None:
    complaint = dispatched(handler)
    sweep(db, instant(clock(complaint, "store_feedback")["due_at"]))
    handler.move(complaint["id"], "escalate", {"priority": "major", "reason": "顾客食用后就医"})
    store = make_caller("store", STORE)
    reporter = make_caller("reporter")

    for caller in (handler, store, reporter):
        for path in ("", "/events", "/clocks"):
            response = caller.get(f"/v1/complaints/{complaint['id']}{path}")
            assert response.status_code in (200, 403), response.text
            assert not [s for s in SECRETS if s in response.text], (path, response.text)
        listed = caller.get("/v1/escalation-contacts")
        assert listed.status_code == 403
        assert not [s for s in SECRETS if s in listed.text]
    positions = [a for e in history(handler, complaint["id"]) for a in e["payload"].get("addressees", [])]
    assert positions and all(set(a) == {"position"} for a in positions)
    assert any(s in manager.get(f"/v1/complaints/{complaint['id']}/events").text for s in SECRETS)
    assert len(manager.get("/v1/escalation-contacts").json()) == len(PEOPLE)


def test_contacts_are_checked_and_an_admin_keeps_them(ladder: Any, admin: Caller, manager: Caller) -> None:
    bad = [
        {"position": "store_manager", "name": "甲", "phone": "13900000000"},  # which store?
        {"position": "region_manager", "store_id": STORE, "name": "乙", "phone": "13900000000"},
        {"position": "general_manager", "region": "华南区", "name": "丙", "phone": "13900000000"},
        {"position": "cs_supervisor", "name": "丁"},  # no way to reach
        {"position": "cs_supervisor", "name": "戊", "phone": "not a phone"},
        {"position": "chairman", "name": "己", "phone": "13900000000"},
    ]
    for body in bad:
        response = admin.post("/v1/escalation-contacts", json=body)
        assert response.status_code == 422, (body, response.text)
    assert len(admin.get("/v1/escalation-contacts").json()) == len(PEOPLE)
    assert manager.post("/v1/escalation-contacts", json=PEOPLE["general"]).status_code == 403

    supervisor = ladder["supervisor"]
    changed = {**PEOPLE["supervisor"], "name": "孙主管", "phone": "139 0000 6666"}
    response = admin.client.put(f"/v1/escalation-contacts/{supervisor['id']}", json=changed, headers=admin.headers())
    assert response.status_code == 200 and response.json()["name"] == "孙主管"
    assert admin.delete(f"/v1/escalation-contacts/{supervisor['id']}").status_code == 204
    assert admin.get(f"/v1/escalation-contacts/{supervisor['id']}").status_code == 404
    only = admin.get("/v1/escalation-contacts", params={"position": "general_manager"}).json()
    assert [c["name"] for c in only] == ["钱总己"]


def test_the_ladder_is_readable_and_configurable(ladder: Any, handler: Caller, make_caller: Any) -> None:
    response = handler.get("/v1/escalation-ladder")
    assert response.status_code == 200
    rungs = response.json()["rungs"]
    assert rungs["feedback_warning"] == ["store_manager"]
    assert rungs["major"] == ["cs_supervisor", "general_manager"]
    assert response.json()["positions"]["region_manager"] == "区域经理"
    assert make_caller("store", STORE).get("/v1/escalation-ladder").status_code == 403
