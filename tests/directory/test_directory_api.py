"""The directory over HTTP: GET/PUT /v1/stores and /v1/departments, every role reading, an administrator writing,
a store or department key reading its own unit only."""

from __future__ import annotations

from typing import Any

import pytest

from app.auth.models import Role
from tests.conftest import Caller

STORE = "SZ-FT-012"
OTHER = "GZ-TH-001"
DEPARTMENT = "品管部"
# Planted: a unit key must never get another unit's name or region, in any byte.
SECRET_STORE_NAME = "天河秘密旗舰店"
SECRET_REGION = "华北保密区"
SECRET_DEPARTMENT_NAME = "法务保密部门"


def put(caller: Caller, path: str, body: Any) -> Any:
    return caller.client.put(path, json=body, headers=caller.headers())


@pytest.fixture
def directory(admin: Caller) -> None:
    for store, body in {
        STORE: {"name": "福田中心店", "region": "华南区"},
        OTHER: {"name": SECRET_STORE_NAME, "region": SECRET_REGION, "active": False},
    }.items():
        assert put(admin, f"/v1/stores/{store}", body).status_code == 201
    for department, body in {
        DEPARTMENT: {"name": "品质管理部"},
        "法务部": {"name": SECRET_DEPARTMENT_NAME},
    }.items():
        assert put(admin, f"/v1/departments/{department}", body).status_code == 201


def test_an_admin_creates_then_replaces_a_store(admin: Caller) -> None:
    created = put(admin, f"/v1/stores/{STORE}", {"name": "福田中心店", "region": "华南区"})
    assert created.status_code == 201, created.text
    assert created.json() == {"id": STORE, "name": "福田中心店", "region": "华南区", "active": True}
    replaced = put(admin, f"/v1/stores/{STORE}", {"name": "福田旗舰店", "active": False})
    assert replaced.status_code == 200
    assert replaced.json() == {"id": STORE, "name": "福田旗舰店", "region": None, "active": False}
    assert admin.get(f"/v1/stores/{STORE}").json() == replaced.json()
    assert admin.get("/v1/stores").json() == [replaced.json()]


def test_an_admin_creates_then_replaces_a_department(admin: Caller) -> None:
    created = put(admin, f"/v1/departments/{DEPARTMENT}", {"name": "品质管理部"})
    assert created.status_code == 201
    assert created.json() == {"id": DEPARTMENT, "name": "品质管理部", "active": True}
    assert put(admin, f"/v1/departments/{DEPARTMENT}", {"active": False}).json() == {
        "id": DEPARTMENT,
        "name": None,
        "active": False,
    }
    assert admin.get(f"/v1/departments/{DEPARTMENT}").json()["active"] is False


@pytest.mark.parametrize("role", ["intake", "handler", "supervisor", "manager", "reporter"])
def test_every_company_wide_role_reads(make_caller: Any, directory: None, role: str) -> None:
    caller = make_caller(role)
    assert [store["id"] for store in caller.get("/v1/stores").json()] == sorted([STORE, OTHER])
    assert caller.get(f"/v1/stores/{OTHER}").json()["name"] == SECRET_STORE_NAME
    assert len(caller.get("/v1/departments").json()) == 2
    assert caller.get(f"/v1/departments/{DEPARTMENT}").json()["name"] == "品质管理部"


@pytest.mark.parametrize("role", ["intake", "handler", "supervisor", "manager", "reporter", "store", "department"])
def test_only_an_admin_writes(make_caller: Any, directory: None, role: str) -> None:
    caller = make_caller(
        role, store_id=STORE if role == "store" else None, department=DEPARTMENT if role == "department" else None
    )
    for path in (f"/v1/stores/{STORE}", "/v1/stores/NEW-001", f"/v1/departments/{DEPARTMENT}"):
        response = put(caller, path, {"name": "改名"})
        assert response.status_code == 403, response.text
        assert response.headers["content-type"] == "application/problem+json"
    assert caller.get("/v1/stores/NEW-001").status_code == 404
    assert "改名" not in caller.client.get("/v1/stores", headers=caller.headers()).text


def test_a_store_key_reads_its_own_store_only(make_caller: Any, directory: None) -> None:
    store = make_caller(Role.store, store_id=STORE)
    assert [row["id"] for row in store.get("/v1/stores").json()] == [STORE]
    assert store.get(f"/v1/stores/{STORE}").json()["name"] == "福田中心店"
    for path in (f"/v1/stores/{OTHER}", "/v1/stores/NOPE-404", f"/v1/departments/{DEPARTMENT}"):
        response = store.get(path)
        assert response.status_code == 404, path
        assert response.headers["content-type"] == "application/problem+json"
    assert store.get("/v1/departments").json() == []
    seen = b"".join(
        store.get(path).content
        for path in ("/v1/stores", f"/v1/stores/{OTHER}", "/v1/departments", "/v1/departments/法务部")
    )
    for planted in (
        SECRET_STORE_NAME,
        SECRET_REGION,
        SECRET_DEPARTMENT_NAME,
    ):  # its 404 names the id asked for, nothing more
        assert planted.encode() not in seen


def test_a_department_key_reads_its_own_department_only(make_caller: Any, directory: None) -> None:
    department = make_caller(Role.department, department=DEPARTMENT)
    assert department.get("/v1/departments").json() == [{"id": DEPARTMENT, "name": "品质管理部", "active": True}]
    assert department.get("/v1/departments/法务部").status_code == 404
    assert department.get("/v1/stores").json() == []
    assert department.get(f"/v1/stores/{STORE}").status_code == 404
    seen = b"".join(
        department.get(path).content
        for path in ("/v1/stores", f"/v1/stores/{OTHER}", "/v1/departments", "/v1/departments/法务部")
    )
    for planted in (SECRET_STORE_NAME, SECRET_REGION, SECRET_DEPARTMENT_NAME, "福田中心店"):
        assert planted.encode() not in seen


def test_no_key_no_directory(client: Any) -> None:
    assert client.get("/v1/stores").status_code == 401
    assert client.put(f"/v1/stores/{STORE}", json={}).status_code == 401


@pytest.mark.parametrize(
    "body",
    [
        {"name": "x" * 201},
        {"name": ""},
        {"region": "华南\x00区"},
        {"active": "maybe"},
        {"name": "店", "owner": "someone"},
        [],
        "福田",
    ],
)
def test_a_bad_body_is_refused_and_changes_nothing(admin: Caller, directory: None, body: Any) -> None:
    before = admin.get("/v1/stores").json()
    response = put(admin, f"/v1/stores/{STORE}", body)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert put(admin, f"/v1/departments/{DEPARTMENT}", body).status_code == 422
    assert admin.get("/v1/stores").json() == before


@pytest.mark.parametrize("store_id", ["-bad", "有中文", "a" * 65, "a b"])
def test_a_bad_store_id_is_refused(admin: Caller, store_id: str) -> None:
    response = put(admin, f"/v1/stores/{store_id}", {"name": "店"})
    assert response.status_code == 422, response.text
    assert admin.get("/v1/stores").json() == []
