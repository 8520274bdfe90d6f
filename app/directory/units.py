"""The directory as complaints consult it: whether a unit may be dispatched a complaint.

Public to the complaints domain below (pyproject.toml names this one import in the layers contract): it reads the
directory's rows and nothing above them.
"""

from __future__ import annotations

from typing import NoReturn

from sqlalchemy.orm import Session

from app.directory.models import Department, Store
from app.errors import InvalidInput


def require_dispatchable(session: Session, store_id: str | None, department: str | None) -> None:
    """A complaint is dispatched only to units the directory knows and that are active: InvalidInput (422)
    otherwise. The store complained about at registration need not be known: the check bites at dispatch."""
    if store_id is not None:
        store = session.get(Store, store_id)
        if store is None:
            _refuse("store_id", f"no store {store_id} in the directory")
        if not store.active:
            _refuse("store_id", f"store {store_id} is closed")
    if department is not None:
        row = session.get(Department, department)
        if row is None:
            _refuse("department", f"no department {department} in the directory")
        if not row.active:
            _refuse("department", f"department {department} is closed")


def _refuse(field: str, detail: str) -> NoReturn:
    errors = [{"loc": ["body", field], "msg": detail, "type": "not_dispatchable"}]
    raise InvalidInput(detail, field=field, errors=errors)
