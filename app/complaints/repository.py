"""Reads of complaints that are more than a select: a phone's earlier complaints; and the days' number sequences."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime
from functools import cache
from typing import Any

from sqlalchemy import Connection, Select, bindparam, func, select, text
from sqlalchemy.orm import Session

from app.complaints.models import Complaint
from app.complaints.schemas import Earlier, LastComplaint


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
    session: Session | Connection, ids: Sequence[uuid.UUID], store_id: str | None
) -> dict[uuid.UUID, Earlier]:
    """For each complaint, the earlier complaints from its phone; a store sees only those dispatched to it.

    Two index range scans per complaint on (complainant_phone, id), whatever the size of the table.
    """
    if not ids:
        return {}
    query = earlier_query(store_id is not None)
    rows = session.execute(query, {"ids": list(ids), "store_id": store_id})
    return {row[0]: earlier_of(row[1:]) for row in rows}


@cache
def earlier_query(by_store: bool) -> Select[Any]:
    """Built once: three aliases of a table of 35 columns cost a read more to build than to run. Parameters:
    ``ids`` and, when ``by_store``, ``store_id``."""
    this = Complaint.__table__.alias("this")
    store_id = bindparam("store_id", type_=Complaint.__table__.c.responsible_store_id.type) if by_store else None
    count, last, on = earlier_parts(this.c.complainant_phone, this.c.id, store_id)
    return (
        select(this.c.id, count, last.c.id, last.c.number, last.c.state, last.c.received_at)
        .select_from(this.outerjoin(last, on))
        .where(this.c.id.in_(bindparam("ids", expanding=True)))
    )


def earlier_parts(phone: Any, before: Any, store_id: Any) -> tuple[Any, Any, Any]:
    """The count of earlier complaints (a scalar subquery), the last one (an alias) and how to join it."""
    table = Complaint.__table__
    earlier = table.alias("earlier")
    last = table.alias("last")
    conditions = [earlier.c.complainant_phone == phone, earlier.c.id < before]
    if store_id is not None:
        conditions.append(earlier.c.responsible_store_id == store_id)
    count = select(func.count()).select_from(earlier).where(*conditions).scalar_subquery()
    last_id = select(earlier.c.id).where(*conditions).order_by(earlier.c.id.desc()).limit(1).scalar_subquery()
    return count, last, last.c.id == last_id


def earlier_of(row: Sequence[Any]) -> Earlier:
    count, last_id, number, state, received_at = row
    return Earlier(count, LastComplaint(last_id, number, state, received_at) if last_id is not None else None)
