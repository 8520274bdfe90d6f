"""Reading and writing the directory of stores and departments, and importing stores from a CSV file."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from pathlib import Path

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.directory.schemas import DepartmentIn, StoreIn, StoreRow
from app.errors import InvalidInput, NotFound
from app.sla.escalation import Addressbook
from app.units import Department, Store
from app.visibility import Viewer
from app.vocabulary import UnitKind

TRUE = ("true", "1", "yes", "y", "是")
FALSE = ("false", "0", "no", "n", "否")


def list_stores(session: Session, viewer: Viewer) -> Sequence[Store]:
    return session.scalars(viewer.units(UnitKind.store, select(Store), Store.id).order_by(Store.id)).all()


def read_store(session: Session, viewer: Viewer, store_id: str) -> Store:
    found = session.scalar(viewer.units(UnitKind.store, select(Store), Store.id).where(Store.id == store_id))
    if found is None:
        raise NotFound(f"no store {store_id}")
    return found


def put_store(session: Session, store_id: str, body: StoreIn) -> tuple[Store, bool]:
    """Create or replace a store; also says whether it was created."""
    store = session.get(Store, store_id)
    created = store is None
    if store is None:
        store = Store(id=store_id)
        session.add(store)
    store.name, store.region, store.active = body.name, body.region, body.active
    session.flush()
    Addressbook.forget(session)  # a region changed: whom its escalations reach too
    return store, created


def list_departments(session: Session, viewer: Viewer) -> Sequence[Department]:
    query = viewer.units(UnitKind.department, select(Department), Department.id)
    return session.scalars(query.order_by(Department.id)).all()


def read_department(session: Session, viewer: Viewer, department: str) -> Department:
    query = viewer.units(UnitKind.department, select(Department), Department.id)
    found = session.scalar(query.where(Department.id == department))
    if found is None:
        raise NotFound(f"no department {department}")
    return found


def put_department(session: Session, department: str, body: DepartmentIn) -> tuple[Department, bool]:
    """Create or replace a department; also says whether it was created."""
    row = session.get(Department, department)
    created = row is None
    if row is None:
        row = Department(id=department)
        session.add(row)
    row.name, row.active = body.name, body.active
    session.flush()
    return row, created


def names(session: Session, kind: UnitKind) -> dict[str, str | None]:
    """Every known unit's name by its id."""
    model = Store if kind is UnitKind.store else Department
    return {id_: name for id_, name in session.execute(select(model.id, model.name))}


class BadRows(InvalidInput):
    """A file with bad lines: each one is named, by its line number."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(f"{len(problems)} bad line(s), nothing imported", problems=problems)
        self.problems = problems


def read_stores(path: Path) -> list[StoreRow]:
    """A CSV file (UTF-8, with or without a BOM) with the header ``id,name,region[,active]``; every bad line is
    reported (``BadRows``), not only the first."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as file:
            reader = csv.DictReader(file)
            header = set(reader.fieldnames or ())
            lines = [(reader.line_num, line) for line in reader]
    except UnicodeDecodeError:
        raise InvalidInput("the file is not UTF-8: save it as CSV UTF-8", field="file") from None
    except csv.Error as exc:
        raise InvalidInput(f"the file is not CSV: {exc}", field="file") from None
    if not {"id", "name", "region"} <= header:
        raise InvalidInput("the file needs the header id,name,region[,active]", field="file")
    unknown = header - {"id", "name", "region", "active"}
    if unknown:
        raise InvalidInput(f"unknown column(s): {', '.join(sorted(unknown))}", field="file")
    rows: list[StoreRow] = []
    problems: list[str] = []
    seen: dict[str, int] = {}
    for number, line in lines:
        problem = _row(line, rows)
        if problem is None and rows[-1].id in seen:
            problem = f"store {rows[-1].id} is already on line {seen[rows[-1].id]}"
        if problem is not None:
            problems.append(f"line {number}: {problem}")
        else:
            seen[rows[-1].id] = number
    if problems:
        raise BadRows(problems)
    if not rows:
        raise InvalidInput("the file lists no stores (header id,name,region[,active], then one per line)", field="file")
    return rows


def _row(line: dict[str | None, object], rows: list[StoreRow]) -> str | None:
    if None in line:
        return "more fields than the header names"
    active = str(line.get("active") or "").strip().lower()
    if active and active not in TRUE + FALSE:
        return f"active must be true or false, not {active!r}"
    try:
        row = StoreRow(
            id=str(line.get("id") or "").strip(),
            name=str(line.get("name") or "").strip() or None,
            region=str(line.get("region") or "").strip() or None,
            active=active not in FALSE,
        )
    except ValidationError as exc:
        return "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
    rows.append(row)
    return None


def import_stores(session: Session, rows: Iterable[StoreRow]) -> int:
    """Every row created or replaced, in the caller's transaction."""
    count = 0
    known = {store.id: store for store in session.scalars(select(Store))}
    for row in rows:
        store = known.get(row.id)
        if store is None:
            store = known[row.id] = Store(id=row.id)
            session.add(store)
        store.name, store.region, store.active = row.name, row.region, row.active
        count += 1
    session.flush()
    return count
