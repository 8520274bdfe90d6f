"""Who sees what: the one visibility model of tousu.

Every caller is a viewer. Company-wide keys (intake, handler, supervisor, manager, reporter, admin) read every
complaint as it is. A key bound to a responsible unit (a store or a department) is a bound viewer, and this module
alone decides what it gets, the same way for both kinds of unit:

- the complaints it may read: those dispatched to its unit now (``complaints`` narrows any query to them);
- the filters it may use: none on personal data (``refuse_personal_filters``), or a search would be an oracle;
  what it is shown whole (the complaint's number, its order or receipt number, the calling system's ticket id, the
  owner) it may search by: those find only the complaints it reads anyway;
- the history entries and clocks it may read (``sees_entry``, ``sees_clock``): no internal note, nothing that
  belongs to another unit (its feedback, its clocks and their warnings);
- the stores and departments of the directory it may read (``units``): its own unit only;
- the corrective actions it may read (``actions``): a store key those on its own store, a department key none;
- the people an escalation names (``addressees``, personal data of staff): only admin and manager keys and the
  company-wide webhooks (the notification systems) read them; every other viewer sees the positions reached;
- the attachments it may read (``attachments``): only those marked visible to its unit, and the history entries
  about them only when they say so;
- how it sees them (``complaint``, ``entry``, ``attachment``): the complainant masked (the address down to its
  province and city), and in every free text (an attachment's file name too) the complainant's name, phone, e-mail
  and address (and any other mobile number or e-mail address) replaced by their masks; and of other complaints
  (repeats) only those it may read: ``related`` on a complaint is read through ``complaints``, and a history
  entry's payload loses what it says of others (``payload``).

JSON responses, CSV rows, webhook payloads and every later page are built through a ``Viewer``; no route masks on
its own. The customer reading their own complaint's progress page is a ``Customer``: masked, with a few steps of the
history and nothing the company keeps to itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Select, SQLColumnExpression, and_, bindparam, false, or_

from app.auth.models import Role
from app.auth.principal import Principal
from app.complaints.contact import Contact, mask_address, mask_email, mask_name, mask_phone
from app.complaints.models import DISPATCHED_TO, Complaint, ComplaintEvent
from app.complaints.schemas import ComplainantOut, ComplaintOut, EventOut
from app.errors import Forbidden, NotOwnUnit
from app.sla.models import Clock
from app.vocabulary import ResponsibleUnit, UnitKind, unit_named

T = TypeVar("T", bound=Any)

# The customer's reference in the CRM identifies the person, and a unit never sees it: no search by it either.
PERSONAL_FILTERS = ("phone", "customer_ref")
# History entries that belong to one unit: their payload names it (``store_id`` or ``department``).
UNIT_ENTRIES = frozenset({"store-feedback", "sla.warning", "sla.breached", "complaint.escalated"})
NOTE = "note"
# What a history entry's payload says of other complaints (a repeat's escalation: their ids, and why they count): a
# bound viewer never reads it, since it may not read those complaints (it reads ``related`` on the complaint, each
# complaint there one it may read).
OTHER_COMPLAINTS = frozenset({"related", "related_why"})
# History entries about an attachment: a bound viewer reads those whose payload says ``visible_to_unit``.
ATTACHMENT_ENTRIES = frozenset({"attachment.added", "attachment.visibility_changed"})
# The roles that read escalation contacts, and the people an escalation names.
CONTACT_ROLES = frozenset({Role.admin, Role.manager})
ADDRESSEES = "addressees"
# The bound parameter a statement built once for a kind of viewer (``readable``) takes its unit from (``params``).
VIEWER_UNIT = "viewer_unit"


def contact_of(complaint: Complaint) -> Contact:
    return Contact.of(
        complaint.complainant_name,
        complaint.complainant_phone,
        complaint.complainant_email,
        complaint.complainant_address,
        complaint.former_contacts,
    )


@dataclass(frozen=True)
class Viewer:
    """A caller as the visibility model knows it: company-wide (``unit`` None) or bound to one store or department."""

    unit: ResponsibleUnit | None = None
    sees_contacts: bool = False  # the people escalations name

    @classmethod
    def of(cls, principal: Principal) -> Viewer:
        return cls(principal.unit, principal.role in CONTACT_ROLES)

    @classmethod
    def bound_to(cls, store_id: str | None, department: str | None) -> Viewer:
        """The viewer of a binding (a webhook endpoint's): its store, else its department, else company-wide (a
        notification system: it reads whom an escalation names)."""
        unit = unit_named(store_id, department)
        return cls(unit, unit is None)

    @property
    def bound(self) -> bool:
        return self.unit is not None

    def _sees_unit(self, named: ResponsibleUnit | None) -> bool:
        """Whether what names ``named`` (None: no unit) is this viewer's to read."""
        return named is None or named == self.unit

    # What it may read.

    def complaints(self, query: Select[T]) -> Select[T]:
        """``query`` (over complaints) narrowed to the complaints this viewer may read: those dispatched to its
        unit now."""
        if self.unit is None:
            return query
        return query.where(_dispatched_to(self.unit.kind) == self.unit.id)

    @property
    def kind(self) -> UnitKind | None:
        """The kind of unit this viewer is bound to; None for a company-wide viewer."""
        return None if self.unit is None else self.unit.kind

    @property
    def params(self) -> dict[str, str]:
        """The parameters a statement of ``readable(..., viewer.kind)`` takes from this viewer."""
        return {} if self.unit is None else {VIEWER_UNIT: self.unit.id}

    @staticmethod
    def readable(query: Select[T], kind: UnitKind | None) -> Select[T]:
        """``query`` (over complaints) narrowed as ``complaints`` narrows it for any viewer of ``kind``, the unit a
        bound parameter (``params``): a statement built once per kind keeps its cache key for every store and
        department."""
        if kind is None:
            return query
        return query.where(_dispatched_to(kind) == bindparam(VIEWER_UNIT))

    def units(
        self, kind: UnitKind, query: Select[T], unit_id: SQLColumnExpression[str] | SQLColumnExpression[str | None]
    ) -> Select[T]:
        """``query`` (over the directory's stores or departments, ``kind``, by their ``unit_id`` column) narrowed to
        the units this viewer may read: a bound viewer its own unit only."""
        if self.unit is None:
            return query
        if self.unit.kind is not kind:
            return query.where(false())
        return query.where(unit_id == self.unit.id)

    def actions(self, query: Select[T], store_id: SQLColumnExpression[str | None]) -> Select[T]:
        """``query`` (over corrective actions, by their ``store_id`` column) narrowed to those this viewer may read:
        a store key the actions on its own store only, a department key none (actions name no department): as for
        the directory's stores."""
        return self.units(UnitKind.store, query, store_id)

    def clocks(self, query: Select[T]) -> Select[T]:
        """``query`` (over clocks of complaints it may read) narrowed to the clocks this viewer may read: no other
        unit's feedback clock (``sees_clock`` in SQL)."""
        if self.unit is None:
            return query
        own = Clock.store_id if self.unit.kind is UnitKind.store else Clock.department
        no_unit = and_(Clock.store_id.is_(None), Clock.department.is_(None))
        return query.where(or_(no_unit, own == self.unit.id))

    def refuse_personal_filters(self, **filters: object) -> None:
        """A bound viewer may not filter on personal data: the right guess would return a complaint, a wrong one
        nothing, and ten thousand guesses tell the number."""
        used = [name for name in PERSONAL_FILTERS if filters.get(name) is not None]
        if self.unit is not None and used:
            raise Forbidden(
                f"a {self.unit.kind} key may not search by personal data ({', '.join(used)})",
                allowed_roles=["intake", "handler", "supervisor", "manager", "reporter", "admin"],
            )

    def own_unit(self, body: T) -> T:
        """A bound key speaks for its own unit only: a body naming another is refused (never recorded), one naming
        none is taken as naming its own."""
        unit = self.unit
        if unit is None or body is None or not hasattr(body, "store_id"):
            return body
        fields = {UnitKind.store: "store_id", UnitKind.department: "department"}
        for kind, name in fields.items():
            named = getattr(body, name, None)
            if named is not None and (kind, named) != (unit.kind, unit.id):
                detail = f"a key of {unit} speaks for that {unit.kind} only, not for {kind} {named}"
                raise NotOwnUnit(detail, field=name)
        own: T = body.model_copy(update={fields[unit.kind]: unit.id})
        return own

    def sees_entry(self, entry: ComplaintEvent) -> bool:
        """Whether this viewer may read a history entry of a complaint it may read."""
        if not self.bound:
            return True
        if entry.move == NOTE or entry.move in ATTACHMENT_ENTRIES:
            return bool(entry.payload.get("visible_to_unit"))
        if entry.move in UNIT_ENTRIES:
            return self._sees_unit(unit_named(entry.payload.get("store_id"), entry.payload.get("department")))
        return True

    def attachments(self, query: Select[T], visible_to_unit: SQLColumnExpression[bool]) -> Select[T]:
        """``query`` (over the attachments of a complaint this viewer may read) narrowed to those it may read: a
        bound viewer only those marked visible to its unit (``visible_to_unit``, the attachments' column)."""
        if self.bound:
            return query.where(visible_to_unit.is_(True))
        return query

    def sees_clock(self, clock: Clock) -> bool:
        return not self.bound or self._sees_unit(unit_named(clock.store_id, clock.department))

    # How it sees it.

    def complaint(self, out: ComplaintOut) -> ComplaintOut:
        """The complaint as this viewer may see it (the full view unchanged for a company-wide viewer)."""
        if not self.bound:
            return out
        given = out.complainant
        contact = given.contact()
        shown = _redacted(out.model_dump(exclude={"complainant", "clocks"}), contact)
        return ComplaintOut.model_validate(
            {
                **shown,
                "complainant": ComplainantOut(
                    name=mask_name(given.name),
                    phone=mask_phone(given.phone),
                    email=mask_email(given.email) if given.email else None,
                    address=mask_address(given.address) if given.address else None,
                ),
                "clocks": [c for c in out.clocks if self._sees_unit(unit_named(c.store_id, c.department))],
            }
        )

    def entry(self, out: EventOut, contact: Contact) -> EventOut:
        if not self.bound and (self.sees_contacts or ADDRESSEES not in out.payload):
            return out
        return out.model_copy(update={"payload": self.payload(out.payload, contact)})

    def attachment(self, out: T, contact: Contact) -> T:
        """An attachment's description (``AttachmentOut``) as this viewer may see it: its file name redacted."""
        if not self.bound:
            return out
        shown: T = out.model_copy(update={"filename": contact.redact(out.filename)})
        return shown

    def payload(self, payload: dict[str, Any], contact: Contact) -> dict[str, Any]:
        """What a move sent, as this viewer may read it: an escalation's people left out; for a bound viewer, free
        text redacted and nothing about other complaints."""
        if not self.sees_contacts and ADDRESSEES in payload:
            positions = [{"position": person.get("position")} for person in payload[ADDRESSEES]]
            payload = {**payload, ADDRESSEES: positions}
        if not self.bound:
            return payload
        shown: dict[str, Any] = _redacted({k: v for k, v in payload.items() if k not in OTHER_COMPLAINTS}, contact)
        return shown


def _dispatched_to(kind: UnitKind) -> SQLColumnExpression[str | None]:
    """The column that says a complaint is dispatched to a unit of ``kind`` now."""
    column: SQLColumnExpression[str | None] = getattr(Complaint, DISPATCHED_TO[kind])
    return column


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
    {
        "id",
        "number",
        "owner",
        "previous_owner",
        "actor",
        "proposed_by",
        "approved_by",
        "fulfilled_by",
        "responsible_person",
        # An attachment's hash and type, and the path of its bytes: hex digits may look like a phone number.
        "sha256",
        "media_type",
        "download",
    }
)


def _is_identifier(key: str) -> bool:
    return key in _NOT_TEXT or key.endswith(("_id", "_at"))


# The customer, reading their own complaint on the progress page (app/progress): of the history only these steps
# (never a note, a unit's feedback, an escalation or who acted), their contact masked, every text shown redacted.
CUSTOMER_STEPS = frozenset({"register", "investigate", "resolve", "approve", "revisit", "reopen", "reject"})


@dataclass(frozen=True)
class Customer:
    """The complainant as a viewer of their own complaint, reached by a link that may be forwarded: masked."""

    contact: Contact

    @classmethod
    def of(cls, complaint: Complaint) -> Customer:
        return cls(contact_of(complaint))

    @property
    def name(self) -> str:
        return mask_name(self.contact.name)

    @property
    def phone(self) -> str:
        return mask_phone(self.contact.phone)

    def sees_entry(self, entry: ComplaintEvent) -> bool:
        return entry.move in CUSTOMER_STEPS

    def text(self, value: str | None) -> str | None:
        return None if value is None else self.contact.redact(value)
