"""HTTP for the directory: stores and departments with their names (every role reads, an administrator writes)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Response

from app import errors
from app.auth.dependencies import CurrentPrincipal, require_role
from app.auth.models import Role
from app.complaints.schemas import Department, StoreId
from app.dependencies import ReadSession, WriteSession
from app.directory import service
from app.directory.schemas import DepartmentIn, DepartmentOut, StoreIn, StoreOut
from app.errors import Forbidden, InvalidInput, NotFound, Unauthorized
from app.visibility import Viewer

router = APIRouter(prefix="/v1", tags=["directory"])

StorePath = Annotated[StoreId, Path(description="The store id.", examples=["SZ-FT-012"])]
DepartmentPath = Annotated[Department, Path(description="The department, as dispatched.", examples=["品管部"])]
READ_ERRORS = errors.responses(Unauthorized, NotFound, InvalidInput, 503)
WRITE_ERRORS = errors.responses(Unauthorized, Forbidden, 413, InvalidInput, 503)


def _store(row: object) -> StoreOut:
    return StoreOut.model_validate(row, from_attributes=True)


def _department(row: object) -> DepartmentOut:
    return DepartmentOut.model_validate(row, from_attributes=True)


@router.get(
    "/stores",
    operation_id="listStores",
    summary="List stores",
    description="Every store with its name, region and whether it is active; a store key sees its own store "
    "only, a department key none.",
    responses=errors.responses(Unauthorized, 503),
)
def list_stores(principal: CurrentPrincipal, session: ReadSession) -> list[StoreOut]:
    return [_store(row) for row in service.list_stores(session, Viewer.of(principal))]


@router.get(
    "/stores/{store_id}",
    operation_id="getStore",
    summary="Read a store",
    description="A store's name, region and whether it is active. A store key reads its own store only.",
    responses=READ_ERRORS,
)
def get_store(store_id: StorePath, principal: CurrentPrincipal, session: ReadSession) -> StoreOut:
    return _store(service.read_store(session, Viewer.of(principal), store_id))


@router.put(
    "/stores/{store_id}",
    operation_id="putStore",
    summary="Create or replace a store (admin)",
    description="Sets a store's name, region and whether it is active (201 when the store is new). The "
    "complaints, keys and clocks that name it are unchanged.",
    responses={201: {"description": "Created", "model": StoreOut}, **WRITE_ERRORS},
    dependencies=[Depends(require_role(Role.admin))],
)
def put_store(store_id: StorePath, body: StoreIn, session: WriteSession, response: Response) -> StoreOut:
    row, created = service.put_store(session, store_id, body)
    if created:
        response.status_code = 201
    return _store(row)


@router.get(
    "/departments",
    operation_id="listDepartments",
    summary="List departments",
    description="Every department with its name and whether it is active; a department key sees its own "
    "department only, a store key none.",
    responses=errors.responses(Unauthorized, 503),
)
def list_departments(principal: CurrentPrincipal, session: ReadSession) -> list[DepartmentOut]:
    return [_department(row) for row in service.list_departments(session, Viewer.of(principal))]


@router.get(
    "/departments/{department}",
    operation_id="getDepartment",
    summary="Read a department",
    description="A department's name and whether it is active. A department key reads its own department only.",
    responses=READ_ERRORS,
)
def get_department(department: DepartmentPath, principal: CurrentPrincipal, session: ReadSession) -> DepartmentOut:
    return _department(service.read_department(session, Viewer.of(principal), department))


@router.put(
    "/departments/{department}",
    operation_id="putDepartment",
    summary="Create or replace a department (admin)",
    description="Sets a department's name and whether it is active (201 when the department is new).",
    responses={201: {"description": "Created", "model": DepartmentOut}, **WRITE_ERRORS},
    dependencies=[Depends(require_role(Role.admin))],
)
def put_department(
    department: DepartmentPath, body: DepartmentIn, session: WriteSession, response: Response
) -> DepartmentOut:
    row, created = service.put_department(session, department, body)
    if created:
        response.status_code = 201
    return _department(row)
