"""Corrective actions through the API: a body, and the calls the tests make."""

from __future__ import annotations

from typing import Any

from tests.conftest import Caller

PATH = "/v1/corrective-actions"


def action_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "store_id": "SZ-FT-012",
        "category": "billing",
        "cause": "收银员多收费，一个月内三起",
        "action": "收银员重新培训找零与退款流程",
        "owner": "王店长",
        "due_on": "2026-11-15",
    }
    body.update(overrides)
    return body


def create(caller: Caller, **overrides: Any) -> dict[str, Any]:
    response = caller.post(PATH, json=action_body(**overrides))
    assert response.status_code == 201, response.text
    return response.json()


def patch(caller: Caller, action_id: str, body: Any, headers: dict[str, str] | None = None) -> Any:
    return caller.client.patch(f"{PATH}/{action_id}", json=body, headers=caller.headers(headers))


def read(caller: Caller, action_id: str) -> dict[str, Any]:
    response = caller.get(f"{PATH}/{action_id}")
    assert response.status_code == 200, response.text
    return response.json()
