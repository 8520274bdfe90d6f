"""Reads of complaints that are more than a select: a phone's earlier complaints; and the days' number sequences."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime
from functools import cache
from typing import Any

from sqlalchemy import ColumnElement, Connection, Select, bindparam, exists, func, or_, select, text
from sqlalchemy.orm import Session

from app.complaints.models import DISPATCHED_TO, Complaint, ComplaintLink
from app.complaints.schemas import Earlier, LastComplaint
from app.visibility import VIEWER_UNIT
from app.vocabulary import ResponsibleUnit, UnitKind


def drop_number_sequences(session: Session, before: date) -> int:
    """Drop the PostgreSQL sequences of the days before ``before`` (no registration draws from them any more);
    returns how many went. Their numbers stay on their complaints."""
    if session.get_bind().dialect.name != "postgresql":
        return 0
    names = session.scalars(
        text("SELECT relname FROM pg_class WHERE relkind = 'S' AND relname ~ '^complaint_numbers_[0-9]{8}$'")
    )
    old = [name for name in names if datetime.strptime(name[-8:], "%Y%m%d").date() < before]
    for name in old:
        session.execute(text(f'DROP SEQUENCE IF EXISTS "{name}"'))
    return len(old)


def earlier_complaints(
    session: Session | Connection, ids: Sequence[uuid.UUID], unit: ResponsibleUnit | None
) -> dict[uuid.UUID, Earlier]:
    """For each complaint, the earlier complaints from its phone; a unit (store or department) sees only those
    dispatched to it.

    Two index range scans per complaint on (complainant_phone, id), whatever the size of the table.
    """
    if not ids:
        return {}
    query = earlier_query(unit.kind if unit is not None else None)
    rows = session.execute(query, {"ids": list(ids), "unit": unit.id if unit is not None else None})
    return {row[0]: earlier_of(row[1:]) for row in rows}


@cache
def earlier_query(by_unit: UnitKind | None) -> Select[Any]:
    """Built once: three aliases of a table of 35 columns cost a read more to build than to run. Parameters:
    ``ids`` and, when ``by_unit``, ``unit`` (the store's id or the department's name)."""
    this = Complaint.__table__.alias("this")
    unit = None
    if by_unit:
        column = DISPATCHED_TO[by_unit]
        unit = (column, bindparam("unit", type_=Complaint.__table__.c[column].type))
    count, last, on = earlier_parts(this.c.complainant_phone, this.c.id, unit)
    return (
        select(this.c.id, count, last.c.id, last.c.number, last.c.state, last.c.received_at, linked(this.c.id))
        .select_from(this.outerjoin(last, on))
        .where(this.c.id.in_(bindparam("ids", expanding=True)))
    )


def with_earlier(query: Select[Any], kind: UnitKind | None) -> Select[Any]:
    """``query`` (over complaints) with each complaint's earlier complaints as six more columns (``earlier_of``
    reads them), of those a viewer of ``kind`` may read (its unit the parameter ``VIEWER_UNIT``, as in
    ``Viewer.readable``): a complaint shown and its earlier complaints in one statement, not two."""
    table = Complaint.__table__
    unit = None
    if kind is not None:
        column = DISPATCHED_TO[kind]
        unit = (column, bindparam(VIEWER_UNIT, type_=table.c[column].type))
    count, last, on = earlier_parts(table.c.complainant_phone, table.c.id, unit)
    columns = (count, last.c.id, last.c.number, last.c.state, last.c.received_at, linked(table.c.id))
    return query.add_columns(*columns).outerjoin(last, on)


def earlier_parts(phone: Any, before: Any, unit: tuple[str, Any] | None) -> tuple[Any, Any, Any]:
    """The count of earlier complaints (a scalar subquery), the last one (an alias) and how to join it; with
    ``unit`` (a column's name and its value), only the complaints dispatched to that unit."""
    table = Complaint.__table__
    earlier = table.alias("earlier")
    last = table.alias("last")
    conditions = [earlier.c.complainant_phone == phone, earlier.c.id < before]
    if unit is not None:
        column, value = unit
        conditions.append(earlier.c[column] == value)
    count = select(func.count()).select_from(earlier).where(*conditions).scalar_subquery()
    last_id = select(earlier.c.id).where(*conditions).order_by(earlier.c.id.desc()).limit(1).scalar_subquery()
    return count, last, last.c.id == last_id


def linked(complaint_id: Any) -> ColumnElement[bool]:
    """Whether any complaint is linked to the complaint of ``complaint_id`` (a column), either end: two index probes
    beside the earlier complaints, where most complaints shown, linked to none, took a statement of their own
    (``repeats.related``) that found nothing."""
    link = ComplaintLink.__table__
    return or_(exists().where(link.c.complaint_id == complaint_id), exists().where(link.c.related_id == complaint_id))


def earlier_of(row: Sequence[Any]) -> Earlier:
    """The earlier complaints from the columns of ``with_earlier`` and ``earlier_query`` (six), or from the first
    five of them (registration's: whether the complaint is linked is left unknown)."""
    count, last_id, number, state, received_at, *linked = row
    last = LastComplaint(last_id, number, state, received_at) if last_id is not None else None
    return Earlier(count, last, bool(linked[0]) if linked else None)
