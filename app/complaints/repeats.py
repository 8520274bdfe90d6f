"""Repeat complaints (投诉多少次了): the complaint that must rise by itself.

At registration, before its clocks are computed, a new complaint is a repeat when

- it is the Nth (``TOUSU_REPEAT_COUNT``, 3) from its phone within ``TOUSU_REPEAT_WINDOW_DAYS`` (90) of its receipt:
  the phone is the normalised one every complaint keeps (``contact.normalize_phone``), so ``+86 138 0013 8000``
  and ``138-0013-8000`` are one phone; or
- it names an order or receipt number (trimmed by the API, compared case-insensitively) that an open complaint
  names: one not closed, that is neither rejected (投诉不成立) nor revisited (已回访).

A repeat is registered urgent (a normal complaint; urgent and media stay as they are), linked to the complaints it
repeats (``complaint_links``, one row read from both ends: ``related`` on either complaint), and escalated up the
ladder (trigger ``repeat``; ``detail`` is what its entries say of the repeat).

``find`` is one indexed read before the registration's write (its priority decides the clock's target): two
complaints from one phone registered at the same instant may each miss the other.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import BindParameter, CompoundSelect, Connection, Select, bindparam, func, literal, select, union_all
from sqlalchemy.orm import Session

from app.complaints.models import Complaint, ComplaintLink, LinkReason, State
from app.complaints.schemas import RelatedComplaintOut
from app.config import Settings
from app.visibility import Viewer
from app.vocabulary import Priority, UnitKind

# A closed complaint: a second one on its order is a new matter, not a repeat.
CLOSED = (State.rejected, State.revisited)
# The phone's complaints a repeat is linked to: the most recent of those in the window (a switchboard's number may
# have hundreds).
MOST_LINKS = 20
REASON_ORDER = list(LinkReason)


@dataclass(frozen=True)
class Earlier:
    id: uuid.UUID
    number: str
    reason: LinkReason


@dataclass(frozen=True)
class Repeat:
    """What makes a new complaint a repeat: the complaints it repeats, and why."""

    related: tuple[Earlier, ...]
    from_phone: int  # the complaints from its phone in the window, itself included; 0 if the phone did not count
    window_days: int
    order_number: str | None  # the order it shares with an open complaint

    def priority(self, given: Priority) -> Priority:
        """Raised to urgent; never lowered."""
        return Priority.urgent if given is Priority.normal else given

    def reasons(self) -> list[str]:
        found = []
        if self.from_phone:
            found.append(f"{_ordinal(self.from_phone)} complaint from this phone in {self.window_days} days")
        if self.order_number is not None:
            numbers = ", ".join(e.number for e in self.related if e.reason is LinkReason.same_order_number)
            found.append(f"a second complaint on order {self.order_number} while {numbers} is open")
        return found


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def find(
    connection: Connection, phone: str, order_number: str | None, received_at: datetime, settings: Settings
) -> Repeat | None:
    """The complaints a new one repeats, if it is a repeat: one statement, an index range scan on the phone and
    one on the lower-cased order number."""
    since = received_at - timedelta(days=settings.repeat_window_days)
    params = {"phone": phone, "since": since, "order_number": order_number}
    rows = connection.execute(_earlier(), params).all()
    by_phone = [row for row in rows if row.reason == LinkReason.same_phone]
    from_phone = by_phone[0].n + 1 if by_phone else 0
    if from_phone < settings.repeat_count:
        from_phone, by_phone = 0, []
    by_order = [row for row in rows if row.reason == LinkReason.same_order_number]
    related = tuple(Earlier(row.id, row.number, LinkReason(row.reason)) for row in (*by_phone, *by_order))
    if not related:
        return None
    return Repeat(related, from_phone, settings.repeat_window_days, order_number if by_order else None)


@cache
def _earlier() -> CompoundSelect[Any]:
    """Parameters: ``phone``, ``since`` (the window's start) and ``order_number`` (None: no order to look for)."""
    table = Complaint.__table__
    same_phone = (
        select(
            table.c.id,
            table.c.number,
            literal(LinkReason.same_phone.value).label("reason"),
            func.count().over().label("n"),
        )
        .where(
            table.c.complainant_phone == bindparam("phone", type_=table.c.complainant_phone.type),
            table.c.received_at >= bindparam("since", type_=table.c.received_at.type),
        )
        .order_by(table.c.id.desc())
        .limit(MOST_LINKS)
        .subquery("same_phone")
    )
    same_order = (
        select(
            table.c.id,
            table.c.number,
            literal(LinkReason.same_order_number.value).label("reason"),
            literal(0).label("n"),
        )
        .where(
            func.lower(table.c.order_number) == func.lower(bindparam("order_number", type_=table.c.order_number.type)),
            table.c.state.not_in(CLOSED),
        )
        .order_by(table.c.id.desc())
        .limit(MOST_LINKS)
        .subquery("same_order")
    )
    return union_all(select(same_phone), select(same_order))


def detail(complaint: Complaint, repeat: Repeat, raised_from: Priority) -> dict[str, Any]:
    """What the repeat's escalation (``complaint.escalated``, trigger ``repeat``, up the ladder like any other)
    says of it: the complaints it repeats and why, and the priority it was raised from. A unit's key reads it
    without ``related`` and ``related_why`` (``app.visibility``): they speak of complaints it may not see."""
    payload: dict[str, Any] = {
        "priority": complaint.priority,
        "related": sorted({str(earlier.id) for earlier in repeat.related}),
        "related_why": repeat.reasons(),
    }
    if raised_from is not complaint.priority:
        payload["raised_from"] = raised_from
    return payload


def links(complaint: Complaint, repeat: Repeat) -> list[ComplaintLink]:
    """The new complaint's links to those it repeats, not yet written."""
    return [
        ComplaintLink(complaint_id=complaint.id, related_id=e.id, reason=e.reason, linked_at=complaint.accepted_at)
        for e in repeat.related
    ]


def related(
    session: Session | Connection, ids: Sequence[uuid.UUID], viewer: Viewer, tz: ZoneInfo
) -> dict[uuid.UUID, list[RelatedComplaintOut]]:
    """For each complaint, the complaints linked to it (either end), of those the viewer may read, oldest first."""
    if not ids:
        return {}
    found: dict[uuid.UUID, dict[uuid.UUID, RelatedComplaintOut]] = defaultdict(dict)
    rows = session.execute(_related(viewer.kind), {"ids": ids, **viewer.params})
    for this, other, number, state, received_at, reason in rows:
        shown = found[this].get(other)
        if shown is None:
            shown = found[this][other] = RelatedComplaintOut(
                id=other, number=number, state=state, received_at=received_at.astimezone(tz), reasons=[]
            )
        shown.reasons.append(LinkReason(reason))
        shown.reasons.sort(key=REASON_ORDER.index)
    return {complaint_id: list(found[complaint_id].values()) for complaint_id in ids}


@cache
def _related(viewer: UnitKind | None) -> Select[Any]:
    """The complaints linked to those of the parameter ``ids``, either end, of those a viewer of that kind may read
    (its unit a parameter too). Built once per kind: a union in a subquery costs a read more to build than to run,
    and a statement built once keeps its cache key."""
    link = ComplaintLink.__table__
    wanted: BindParameter[Any] = bindparam("ids", expanding=True)
    ends = union_all(
        select(link.c.complaint_id.label("this"), link.c.related_id.label("other"), link.c.reason).where(
            link.c.complaint_id.in_(wanted)
        ),
        select(link.c.related_id.label("this"), link.c.complaint_id.label("other"), link.c.reason).where(
            link.c.related_id.in_(wanted)
        ),
    ).subquery("ends")
    return Viewer.readable(
        select(ends.c.this, Complaint.id, Complaint.number, Complaint.state, Complaint.received_at, ends.c.reason)
        .join_from(ends, Complaint, Complaint.id == ends.c.other)
        .order_by(ends.c.this, Complaint.id),
        viewer,
    )
