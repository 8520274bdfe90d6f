"""The ladder as a company configures it: ``[ladder]`` in the SLA policy file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pydantic
import pytest

from app.complaints.sweeper import sweep
from app.config import Settings
from app.db import Database
from app.sla.policy import load_policy
from tests.complaints.test_escalation import PEOPLE, STORE, clock, dispatched, escalations
from tests.conftest import Caller
from tests.sla.moments import instant

POLICY = """
[ladder]
feedback_warning = []
feedback_breach = ["region_manager", "cs_supervisor"]
urgent = ["cs_supervisor"]
"""


@pytest.fixture(scope="module")
def policy_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ladder") / "policy.toml"
    path.write_text(POLICY, encoding="utf-8")
    return path


@pytest.fixture
def settings(database_url: str, policy_file: Path) -> Settings:
    return Settings(
        database_url=database_url, sweep_in_serve=False, dispatch_in_serve=False, sla_policy_file=policy_file
    )


def test_the_configured_ladder_decides_who_is_reached(
    admin: Caller, handler: Caller, manager: Caller, db: Database
) -> None:
    admin.client.put(f"/v1/stores/{STORE}", json={"region": "华南区"}, headers=admin.headers())
    for key in ("store", "region", "supervisor"):
        assert admin.post("/v1/escalation-contacts", json=PEOPLE[key]).status_code == 201

    urgent = handler.register(priority="urgent")
    assert escalations(manager, urgent["id"]) == [("urgent", "cs_supervisor", ["赵主管戊"])]

    complaint = dispatched(handler)
    feedback = clock(complaint, "store_feedback")
    sweep(db, instant(feedback["warn_at"]))
    assert escalations(manager, complaint["id"]) == [], "warnings reach no one here"
    sweep(db, instant(feedback["due_at"]))
    assert escalations(manager, complaint["id"]) == [
        ("feedback_breach", "region_manager", ["李区域丙"]),
        ("feedback_breach", "cs_supervisor", ["赵主管戊"]),
    ]
    rungs: dict[str, Any] = handler.get("/v1/escalation-ladder").json()["rungs"]
    assert rungs["feedback_warning"] == [] and rungs["urgent"] == ["cs_supervisor"]
    assert rungs["reply_breach"] == ["cs_supervisor"], "what the file leaves out keeps its default"


def test_a_ladder_naming_an_unknown_position_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_text('[ladder]\nmajor = ["chairman"]\n', encoding="utf-8")
    with pytest.raises(pydantic.ValidationError, match="chairman"):
        load_policy(path)
