from __future__ import annotations

import enum
import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, BigInteger, Date, ForeignKey, Index, Integer, Numeric, String, Text, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Base, UTCDateTime, str_enum, utcnow, uuid7
from app.vocabulary import Priority, UnitKind

if TYPE_CHECKING:
    from app.sla.models import Clock


SYSTEM_ACTOR = "tousu"  # the actor of the entries tousu writes itself (clock warnings, breaches, escalations)
CORRECTED = "complaint.corrected"  # the history entry of a correction of intake details (PATCH)


class State(enum.StrEnum):
    accepted = "accepted"
    rejected = "rejected"
    investigating = "investigating"
    awaiting_approval = "awaiting_approval"
    resolved = "resolved"
    revisited = "revisited"


class Channel(enum.StrEnum):
    phone = "phone"
    email = "email"
    sms = "sms"
    web = "web"
    in_person = "in_person"
    letter = "letter"
    media = "media"


class Category(enum.StrEnum):
    service_attitude = "service_attitude"
    service_quality = "service_quality"
    product_quality = "product_quality"
    billing = "billing"
    facilities = "facilities"
    delivery = "delivery"
    incident = "incident"
    other = "other"


class RejectionReason(enum.StrEnum):
    misunderstanding = "misunderstanding"
    outside_responsibility = "outside_responsibility"
    outside_contract = "outside_contract"
    duplicate = "duplicate"
    other = "other"


class RemedyKind(enum.StrEnum):
    apology = "apology"
    refund = "refund"
    exchange = "exchange"
    price_reduction = "price_reduction"
    free_repair = "free_repair"
    compensation = "compensation"
    other = "other"


class Responsibility(enum.StrEnum):
    company_fault = "company_fault"
    staff_fault = "staff_fault"
    customer_misunderstanding = "customer_misunderstanding"
    third_party = "third_party"
    undetermined = "undetermined"


class Satisfaction(enum.StrEnum):
    satisfied = "satisfied"
    neutral = "neutral"
    unsatisfied = "unsatisfied"
    unreachable = "unreachable"  # never reached, after unanswered calls on enough different days


class ReplyChannel(enum.StrEnum):
    """How the written reply reached the customer (以書面告知)."""

    letter = "letter"
    sms = "sms"
    email = "email"
    phone = "phone"
    in_person = "in_person"
    wechat = "wechat"


class CallOutcome(enum.StrEnum):
    """A follow-up call that did not get through."""

    no_answer = "no_answer"
    busy = "busy"
    wrong_number = "wrong_number"
    call_back = "call_back"  # the customer named a time to call back


# Remedies with a value that is money paid to the customer: carrying them out is a payment, with its reference.
PAID_REMEDIES = frozenset({RemedyKind.refund, RemedyKind.price_reduction, RemedyKind.compensation})


class ClaimType(enum.StrEnum):
    """What the customer claims: an appeal (申诉), compensation (索赔), or a complaint about no product fault
    (非质量抱怨)."""

    appeal = "appeal"
    compensation = "compensation"
    non_quality = "non_quality"


# The column that says a complaint is dispatched to a unit of each kind (the visibility model and the earlier
# complaints a unit sees narrow by it).
DISPATCHED_TO = {UnitKind.store: "responsible_store_id", UnitKind.department: "responsible_department"}


class Complaint(Base):
    """A customer complaint (投诉) and where it stands in its lifecycle."""

    __tablename__ = "complaints"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    state: Mapped[State] = mapped_column(str_enum(State), default=State.accepted)
    version: Mapped[int] = mapped_column(Integer)

    complainant_name: Mapped[str] = mapped_column(String(200))
    complainant_phone: Mapped[str] = mapped_column(String(32))
    complainant_email: Mapped[str | None] = mapped_column(String(254))
    customer_ref: Mapped[str | None] = mapped_column(String(100))
    channel: Mapped[Channel] = mapped_column(str_enum(Channel))
    category: Mapped[Category] = mapped_column(str_enum(Category))
    priority: Mapped[Priority] = mapped_column(str_enum(Priority))
    store_id: Mapped[str | None] = mapped_column(String(64))
    department: Mapped[str | None] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text)
    customer_request: Mapped[str | None] = mapped_column(Text)
    external_ref: Mapped[str | None] = mapped_column(String(100))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    owner: Mapped[str] = mapped_column(String(100))

    # What identifies the purchase (all optional): the product, the order or receipt, the purchase, the incident,
    # where the customer lives (personal data, like the contact) and what the customer claims.
    complainant_address: Mapped[str | None] = mapped_column(String(500))
    # The contact as it was before each correction of it ({name, phone, email, address}): a description or note
    # written before may still quote it, and a store sees it masked there too. Personal data, kept here alone.
    former_contacts: Mapped[list[dict[str, str | None]] | None] = mapped_column(
        JSON().with_variant(JSONB(), "postgresql")
    )
    product_name: Mapped[str | None] = mapped_column(String(200))
    product_sku: Mapped[str | None] = mapped_column(String(64))
    product_specification: Mapped[str | None] = mapped_column(String(200))
    product_batch: Mapped[str | None] = mapped_column(String(64))
    product_production_date: Mapped[date | None] = mapped_column(Date)
    order_number: Mapped[str | None] = mapped_column(String(64))
    purchase_date: Mapped[date | None] = mapped_column(Date)
    purchase_store_id: Mapped[str | None] = mapped_column(String(64))
    purchase_amount: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    incident_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claim_type: Mapped[ClaimType | None] = mapped_column(str_enum(ClaimType))
    claim_amount: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))

    responsible_store_id: Mapped[str | None] = mapped_column(String(64))
    responsible_department: Mapped[str | None] = mapped_column(String(100))
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    rejection_reason: Mapped[RejectionReason | None] = mapped_column(str_enum(RejectionReason))
    remedy_kind: Mapped[RemedyKind | None] = mapped_column(str_enum(RemedyKind))
    remedy_amount: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    remedy_description: Mapped[str | None] = mapped_column(Text)
    reply_text: Mapped[str | None] = mapped_column(Text)
    # The reply as sent: the channel (planned at proposal, confirmed at approval) and when the customer was told.
    reply_channel: Mapped[ReplyChannel | None] = mapped_column(str_enum(ReplyChannel))
    replied_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The remedy carried out (fulfil): when, by whom, and for money paid, the payment's reference.
    fulfilled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    fulfilled_by: Mapped[str | None] = mapped_column(String(100))
    payment_reference: Mapped[str | None] = mapped_column(String(100))
    proposed_by: Mapped[str | None] = mapped_column(String(100))
    approved_by: Mapped[str | None] = mapped_column(String(100))
    responsibility: Mapped[Responsibility | None] = mapped_column(str_enum(Responsibility))
    satisfaction: Mapped[Satisfaction | None] = mapped_column(str_enum(Satisfaction))
    improvement: Mapped[str | None] = mapped_column(Text)  # a neutral customer's answer: 我们应改进哪方面
    # Follow-up calls that did not get through since the resolution: how many, on how many different local days,
    # the last one, and the time a customer asked to be called back.
    call_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    call_attempt_days: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    last_call_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_call_outcome: Mapped[CallOutcome | None] = mapped_column(str_enum(CallOutcome))
    call_back_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reopen_count: Mapped[int] = mapped_column(Integer, default=0)
    # The positions of the escalation ladder it reached, as "trigger:position" (app.sla.escalation): a trigger
    # reaches a position once. NULL: never escalated.
    escalated_to: Mapped[list[str] | None] = mapped_column(JSON().with_variant(JSONB(), "postgresql"))
    # A major complaint's written incident report (重大: 24小时内提交书面报告): when it was recorded, and its text.
    incident_reported_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    incident_report: Mapped[str | None] = mapped_column(Text)

    accepted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    rejected_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    investigating_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    awaiting_approval_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revisited_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reopened_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # When its complainant's personal data was removed (app.retention): NULL while it is kept.
    anonymised_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    # Read-only view of the clocks (app.sla writes them), loaded only when asked for (``selectinload``): reading
    # it unloaded raises instead of querying behind the caller's back.
    clocks: Mapped[list[Clock]] = relationship(
        "Clock", lazy="raise", viewonly=True, order_by="(Clock.started_at, Clock.id)"
    )

    @property
    def remedy_valued(self) -> bool:
        """The remedy has a value in yuan (every kind but an apology): it is to be carried out."""
        return self.remedy_kind is not None and (self.remedy_amount or 0) > 0

    @property
    def remedy_owed(self) -> bool:
        """The remedy given (resolved) has a value and has not been carried out yet."""
        return self.state == State.resolved and self.remedy_valued and self.fulfilled_at is None

    @property
    def incident_report_due(self) -> bool:
        """A major complaint whose written incident report is not recorded yet."""
        return self.priority is Priority.major and self.incident_reported_at is None

    def system_entry(self, move: str, at: datetime, payload: dict[str, Any]) -> ComplaintEvent:
        """An entry of its history written by tousu itself (no API key, no person), not yet added."""
        return ComplaintEvent(
            complaint_id=self.id,
            move=move,
            from_state=self.state,
            to_state=self.state,
            actor=SYSTEM_ACTOR,
            api_key_id=None,
            at=at,
            payload=payload,
        )

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        Index("ix_complaints_state", "state"),
        Index("ix_complaints_store_id", "store_id"),
        Index("ix_complaints_responsible_store_id", "responsible_store_id"),
        Index("ix_complaints_responsible_department", "responsible_department"),
        Index("ix_complaints_complainant_phone_id", "complainant_phone", "id"),
        Index("ix_complaints_received_at", "received_at"),
        # The searches by reference (newest first) and by owner.
        Index("ix_complaints_order_number_id", "order_number", "id"),
        Index("ix_complaints_external_ref_id", "external_ref", "id"),
        Index("ix_complaints_customer_ref_id", "customer_ref", "id"),
        Index("ix_complaints_owner_id", "owner", "id"),
    )


class ComplaintEvent(Base):
    """One entry of a complaint's history: a move, a note or a store's feedback."""

    __tablename__ = "complaint_events"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    complaint_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("complaints.id"))
    move: Mapped[str] = mapped_column(String(32))
    from_state: Mapped[State | None] = mapped_column(str_enum(State))
    to_state: Mapped[State] = mapped_column(str_enum(State))
    actor: Mapped[str] = mapped_column(String(100))
    api_key_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("api_keys.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON().with_variant(JSONB(), "postgresql"), default=dict)
    # The complaint as this change left it (ComplaintOut without its identity and the complainant's contact):
    # webhooks show it as it was when the event happened. NULL on notes and on entries older than migration 0009.
    snapshot: Mapped[dict[str, Any] | None] = mapped_column(JSON().with_variant(JSONB(), "postgresql"))
    # The outbox mark: NULL until the webhook dispatcher has turned the event into deliveries (app/webhooks).
    fanned_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_complaint_events_complaint_id_id", "complaint_id", "id"),
        Index(
            "ix_complaint_events_unfanned",
            "id",
            postgresql_where=text("fanned_out_at IS NULL"),
            sqlite_where=text("fanned_out_at IS NULL"),
        ),
    )


# Repeat detection finds a complaint's open namesakes by their order or receipt number, compared case-insensitively
# (the API trims it): one index range scan.
Index("ix_complaints_order_number_folded", func.lower(Complaint.order_number))


class LinkReason(enum.StrEnum):
    """Why two complaints are related (repeat complaints, 投诉多少次了)."""

    same_phone = "same_phone"  # the Nth from one phone within the repeat window
    same_order_number = "same_order_number"  # a second on an order or receipt whose first complaint is open


class ComplaintLink(Base):
    """A later complaint related to an earlier one; one row, read from both ends."""

    __tablename__ = "complaint_links"

    complaint_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("complaints.id"), primary_key=True)
    related_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("complaints.id"), primary_key=True)
    reason: Mapped[LinkReason] = mapped_column(str_enum(LinkReason), primary_key=True)
    linked_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_complaint_links_related_id", "related_id"),)


class DailyCounter(Base):
    """The last complaint number issued on a local day (TS-YYYYMMDD-NNNN)."""

    __tablename__ = "complaint_number_counters"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    last: Mapped[int] = mapped_column(Integer)
