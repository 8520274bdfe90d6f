"""Schemathesis against the committed OpenAPI document and the live app: no 5xx, no response off the schema.

A bounded run (examples per operation below), with every check schemathesis has, over real HTTP to a real
uvicorn, on SQLite and PostgreSQL. The key is an admin's, so every operation is reachable; a few complaints exist
so that not every id is unknown.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.core.parameters import ParameterLocation

from tests.conftest import ROOT, LiveServer, complaint_body

EXAMPLES = 15


schema = schemathesis.openapi.from_dict(json.loads((ROOT / "openapi" / "openapi.json").read_text(encoding="utf-8")))


@pytest.fixture
def target(live_server: LiveServer) -> tuple[str, dict[str, str]]:
    admin = live_server.caller("admin", actor="admin-01")
    for _ in range(3):
        assert admin.post("/v1/complaints", json=complaint_body()).status_code == 201
    return live_server.url, {"Authorization": f"Bearer {admin.key}"}


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_api_conforms(case: Any, target: tuple[str, dict[str, str]]) -> None:
    url, auth = target
    # The admin key goes with every request, except where schemathesis sends broken headers on purpose: a missing
    # or mangled Authorization must then stay missing or mangled.
    header_info = case.meta.components.get(ParameterLocation.HEADER) if case.meta else None
    broken_headers = header_info is not None and header_info.mode.is_negative
    headers = {} if broken_headers or (case.headers and "Authorization" in case.headers) else dict(auth)
    response = case.call(base_url=url, headers=headers, timeout=30)
    case.validate_response(response, headers=headers)  # every check enabled by default: all of them
