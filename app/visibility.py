"""Who sees what: the one visibility model of tousu.

Every caller is a viewer. Company-wide keys (intake, handler, supervisor, manager, reporter, admin) read every
complaint as it is. A key bound to a responsible unit (a store) is a bound viewer, and this module alone decides
what it gets:

- the complaints it may read: those dispatched to its unit now (``complaints`` narrows any query to them);
- the filters it may use: none on personal data (``refuse_personal_filters``), or a search would be an oracle;
- the history entries and clocks it may read (``sees_entry``, ``sees_clock``): no internal note, nothing that
  belongs to another unit (its feedback, its clocks and their warnings);
- how it sees them (``complaint``, ``entry``): the complainant masked, and in every free text the complainant's
  name, phone and e-mail (and any other mobile number or e-mail address) replaced by their masks.

JSON responses, CSV rows, webhook payloads and every later page are built through a ``Viewer``; no route masks on
its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Select

from app.auth.principal import Principal
from app.complaints.contact import Contact, mask_email, mask_name, mask_phone
from app.complaints.models import Complaint, ComplaintEvent
from app.complaints.schemas import ComplainantOut, ComplaintOut, EventOut
from app.errors import Forbidden, NotOwnUnit
from app.sla.models import Clock

T = TypeVar("T", bound=Any)

PERSONAL_FILTERS = ("phone",)
# History entries that belong to one unit: their payload names it (``store_id``).
UNIT_ENTRIES = frozenset({"store-feedback", "sla.warning", "sla.breached", "complaint.escalated"})
NOTE = "note"


def contact_of(complaint: Complaint) -> Contact:
    return Contact(complaint.complainant_name, complaint.complainant_phone, complaint.complainant_email)


@dataclass(frozen=True)
class Viewer:
    """A caller as the visibility model knows it: company-wide (``store_id`` None) or bound to one store."""

    store_id: str | None = None

    @classmethod
    def of(cls, principal: Principal) -> Viewer:
        return cls(principal.store_id if principal.is_store else None)

    @property
    def bound(self) -> bool:
        return self.store_id is not None

    # What it may read.

    def complaints(self, query: Select[T]) -> Select[T]:
        """``query`` (over complaints) narrowed to the complaints this viewer may read."""
        if self.store_id is not None:
            return query.where(Complaint.responsible_store_id == self.store_id)
        return query

    def refuse_personal_filters(self, **filters: object) -> None:
        """A bound viewer may not filter on personal data: the right guess would return a complaint, a wrong one
        nothing, and ten thousand guesses tell the number."""
        used = [name for name in PERSONAL_FILTERS if filters.get(name) is not None]
        if self.bound and used:
            raise Forbidden(
                f"a store key may not search by personal data ({', '.join(used)})",
                allowed_roles=["intake", "handler", "supervisor", "manager", "reporter", "admin"],
            )

    def own_unit(self, body: T) -> T:
        """A bound key speaks for its own unit only: a body naming another is refused (never recorded), one naming
        none is taken as naming its own."""
        if not self.bound or body is None or not hasattr(body, "store_id"):
            return body
        if body.store_id not in (None, self.store_id):
            raise NotOwnUnit(
                f"a key of store {self.store_id} speaks for that store only, not for {body.store_id}", field="store_id"
            )
        own: T = body.model_copy(update={"store_id": self.store_id})
        return own

    def sees_entry(self, entry: ComplaintEvent) -> bool:
        """Whether this viewer may read a history entry of a complaint it may read."""
        if not self.bound:
            return True
        if entry.move == NOTE:
            return bool(entry.payload.get("visible_to_unit"))
        if entry.move in UNIT_ENTRIES:
            unit = entry.payload.get("store_id")
            return unit is None or unit == self.store_id
        return True

    def sees_clock(self, clock: Clock) -> bool:
        return not self.bound or clock.store_id in (None, self.store_id)

    # How it sees it.

    def complaint(self, out: ComplaintOut) -> ComplaintOut:
        """The complaint as this viewer may see it (the full view unchanged for a company-wide viewer)."""
        if not self.bound:
            return out
        given = out.complainant
        contact = Contact(given.name, given.phone, given.email)
        shown = _redacted(out.model_dump(exclude={"complainant", "clocks"}), contact)
        return ComplaintOut.model_validate(
            {
                **shown,
                "complainant": ComplainantOut(
                    name=mask_name(given.name),
                    phone=mask_phone(given.phone),
                    email=mask_email(given.email) if given.email else None,
                ),
                "clocks": [clock for clock in out.clocks if clock.store_id in (None, self.store_id)],
            }
        )

    def entry(self, out: EventOut, contact: Contact) -> EventOut:
        if not self.bound:
            return out
        return out.model_copy(update={"payload": self.payload(out.payload, contact)})

    def payload(self, payload: dict[str, Any], contact: Contact) -> dict[str, Any]:
        """What a move sent, as this viewer may read it: free text redacted."""
        return payload if not self.bound else _redacted(payload, contact)


def _redacted(value: Any, contact: Contact, key: str = "") -> Any:
    """Every free text in ``value`` redacted; ids, times, numbers and staff names as they are."""
    if isinstance(value, dict):
        return {k: _redacted(v, contact, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_redacted(v, contact, key) for v in value]
    if isinstance(value, str) and not _is_identifier(key):
        return contact.redact(value)
    return value


# Not free text: ids, times, and the company's own people (who may share a name with the complainant).
_NOT_TEXT = frozenset(
    {"id", "number", "owner", "actor", "proposed_by", "approved_by", "fulfilled_by", "responsible_person"}
)


def _is_identifier(key: str) -> bool:
    return key in _NOT_TEXT or key.endswith(("_id", "_at"))
