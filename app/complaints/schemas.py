"""API shapes of complaints and their moves."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, Self
from zoneinfo import ZoneInfo

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, PrivateAttr, model_validator

from app.complaints import contact
from app.complaints.models import (
    CallOutcome,
    Category,
    Channel,
    ClaimType,
    Complaint,
    ComplaintEvent,
    LinkReason,
    RejectionReason,
    RemedyKind,
    ReplyChannel,
    Responsibility,
    Satisfaction,
    State,
)
from app.config import Settings
from app.db import utcnow
from app.sla.schemas import Calls, ClockOut
from app.types import LAST_MOMENT, Bool, Money, Yuan, date_rules, local_times, moment_rules, text_rules
from app.vocabulary import Priority


class Body(BaseModel):
    """A request body: unknown fields are refused, so nothing but what the move takes can be set."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


# A receipt time is from 2000; registration.write refuses one more than a few minutes ahead of its clock.
ReceiptTime = Annotated[AwareDatetime, *moment_rules(datetime(2000, 1, 1, tzinfo=UTC), LAST_MOMENT)]

CLOCK_SKEW = timedelta(minutes=5)  # how far a time said to be past may be ahead of tousu's clock


def _not_ahead(value: datetime) -> datetime:
    if value > utcnow() + CLOCK_SKEW:
        raise ValueError("is in the future: at most 5 minutes ahead of tousu's clock")
    return value


# A moment that has happened (a reply sent, a refund paid): from 2000, and not ahead of tousu's clock.
PastMoment = Annotated[ReceiptTime, AfterValidator(_not_ahead)]
CALL_BACK_HORIZON = timedelta(days=30)

# 5 to 20 ASCII digits, with a leading + or bracket, and spaces, dashes and brackets between them.
PHONE_PATTERN = r"^\+?[(（]?[0-9]([ ()（）-]*[0-9]){4,19}$"
Phone = Annotated[
    str,
    Field(min_length=5, max_length=32, pattern=PHONE_PATTERN, examples=["138 1234 8000"]),
    AfterValidator(contact.normalize_phone),
]
EMAIL_PATTERN = r"^[^@\s\x00-\x1f\x7f-\x9f]+@[^@\s\x00-\x1f\x7f-\x9f]+\.[^@\s\x00-\x1f\x7f-\x9f]+$"
StoreId = Annotated[str, *text_rules(64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$"), Field(examples=["SZ-FT-012"])]
Department = Annotated[str, *text_rules(100), Field(examples=["物业工程部"])]
# A day of the purchase or of production: from 1990 (a durable good is kept for years) to 2100.
Day = Annotated[date, *date_rules(date(1990, 1, 1), date(2100, 12, 31))]
# When the incident happened: like a receipt time, never far ahead of tousu's clock (checked where it is set).
IncidentTime = Annotated[AwareDatetime, *moment_rules(datetime(1990, 1, 1, tzinfo=UTC), LAST_MOMENT)]
Reference = Annotated[str, *text_rules(64)]
Address = Annotated[str, *text_rules(500)]


# The rule the model validators below enforce, stated in the OpenAPI document: one of them at least is given. As
# `not` (not both absent or null) rather than `anyOf` of two required lists, which generators make two classes of.
STORE_OR_DEPARTMENT: dict[str, Any] = {
    "description": "Name the store (`store_id`) or the department (`department`): one of them is required, "
    "and a request with neither is refused (422).",
    "not": {"properties": {name: {"type": "null"} for name in ("store_id", "department")}},
}


class ComplainantIn(Body):
    name: Annotated[str, *text_rules(100)] = Field(examples=["张三"])
    phone: Phone
    email: Annotated[str, *text_rules(254, pattern=EMAIL_PATTERN)] | None = Field(
        None, examples=["zhangsan@example.com"]
    )
    customer_ref: Annotated[str, *text_rules(100)] | None = Field(
        None, description="The customer's id in the calling CRM."
    )
    address: Address | None = Field(
        None,
        description="The customer's address (personal data: a store key sees only its province and city).",
        examples=["广东省深圳市福田区福华路88号3栋1201室"],
    )


class ProductIn(Body):
    """The product complained about, as its packaging and receipt name it (规格, 生产日期, 生产批号)."""

    name: Annotated[str, *text_rules(200)] | None = Field(None, examples=["全脂纯牛奶 250ml"])
    sku: Annotated[str, *text_rules(64)] | None = Field(
        None, description="The SKU or barcode.", examples=["6901234567892"]
    )
    specification: Annotated[str, *text_rules(200)] | None = Field(None, examples=["250ml×12盒"])
    batch: Annotated[str, *text_rules(64)] | None = Field(
        None, description="The batch or lot number (生产批号).", examples=["B20261015-03"]
    )
    production_date: Day | None = Field(None, examples=["2026-10-15"])


class PurchaseIn(Body):
    date: Day | None = Field(None, description="The day of the purchase.", examples=["2026-11-20"])
    store_id: StoreId | None = Field(
        None, description="Where it was bought (may differ from the store complained about)."
    )
    amount: Yuan | None = Field(None, description="The amount paid, in yuan, as a decimal string.")


class ClaimIn(Body):
    type: ClaimType = Field(description="appeal (申诉), compensation (索赔) or non_quality (非质量抱怨).")
    amount_claimed: Yuan | None = Field(
        None, description="The amount the customer claims (索赔金额), in yuan, as a decimal string."
    )


class ComplaintCreate(Body):
    complainant: ComplainantIn
    channel: Channel
    category: Category
    priority: Priority = Field(
        Priority.normal,
        description="A complaint through the media channel is at least `media`. A `major` complaint (重大: injury, "
        "food safety, many customers, a regulator) owes a written incident report within 24 hours.",
    )
    store_id: StoreId | None = Field(None, description="The store complained about.")
    department: Department | None = Field(None, description="The department complained about, if not a store.")
    description: Annotated[str, *text_rules(10_000)] = Field(examples=["店员态度恶劣，拒绝为我办理退货。"])
    customer_request: Annotated[str, *text_rules(5_000)] | None = Field(
        None, description="What the customer asks for (诉求).", examples=["要求店员道歉并办理退货"]
    )
    external_ref: Annotated[str, *text_rules(100)] | None = Field(
        None, description="The ticket id in the calling system.", examples=["CRM-2026-889123"]
    )
    received_at: ReceiptTime | None = Field(
        None,
        description="When the customer complained (with offset): from 2000, and at most 5 minutes ahead of "
        "tousu's clock; default: now.",
        examples=["2026-11-22T10:15:00+08:00"],
    )
    owner: Annotated[str, *text_rules(100)] | None = Field(
        None, description="Whoever takes the complaint follows it and replies (首问责任人); default: the X-Actor."
    )
    product: ProductIn | None = None
    order_number: Reference | None = Field(
        None, description="The order or receipt number.", examples=["POS-012-20261120-0088"]
    )
    purchase: PurchaseIn | None = None
    incident_at: IncidentTime | None = Field(
        None, description="When the incident happened (with offset); not after the complaint was received."
    )
    claim: ClaimIn | None = None

    model_config = ConfigDict(
        json_schema_extra={
            **STORE_OR_DEPARTMENT,
            "examples": [
                {
                    "complainant": {"name": "张三", "phone": "138 1234 8000"},
                    "channel": "phone",
                    "category": "service_attitude",
                    "store_id": "SZ-FT-012",
                    "description": "店员态度恶劣，拒绝为我办理退货。",
                    "customer_request": "要求店员道歉并办理退货",
                    "external_ref": "CRM-2026-889123",
                    "received_at": "2026-11-22T10:15:00+08:00",
                }
            ],
        }
    )

    @model_validator(mode="after")
    def _unit_and_priority(self) -> Self:
        if not self.store_id and not self.department:
            raise ValueError("name the store_id or the department complained about")
        if self.channel is Channel.media and self.priority.rank < Priority.media.rank:
            self.priority = Priority.media
        return self

    def intake_columns(self) -> dict[str, Any]:
        """The columns of what identifies the purchase, those given only."""
        given = {**intake_columns(self.product, self.purchase, self.claim), "order_number": self.order_number}
        given |= {"complainant_address": self.complainant.address, "incident_at": self.incident_at}
        return {column: value for column, value in given.items() if value is not None}


PRODUCT_COLUMNS = {
    "name": "product_name",
    "sku": "product_sku",
    "specification": "product_specification",
    "batch": "product_batch",
    "production_date": "product_production_date",
}
PURCHASE_COLUMNS = {"date": "purchase_date", "store_id": "purchase_store_id", "amount": "purchase_amount"}
CLAIM_COLUMNS = {"type": "claim_type", "amount_claimed": "claim_amount"}


def intake_columns(product: BaseModel | None, purchase: BaseModel | None, claim: BaseModel | None) -> dict[str, Any]:
    """The columns of the product, the purchase and the claim given (a part not given: its columns None)."""
    columns: dict[str, Any] = {}
    for part, names in ((product, PRODUCT_COLUMNS), (purchase, PURCHASE_COLUMNS), (claim, CLAIM_COLUMNS)):
        for field, column in names.items():
            columns[column] = getattr(part, field) if part is not None else None
    return columns


class RemedyIn(Body):
    kind: RemedyKind
    amount: Yuan = Field(
        Decimal("0.00"),
        description='The remedy\'s value in yuan, at most 2 decimals, as a decimal string such as "300.50" (as '
        "responses show amounts); a JSON number is refused. The amount refunded, reduced or paid in compensation; "
        "for an exchange, the value of the goods exchanged; for a free repair, the value of the repair given. "
        'Above 0 for every kind but `apology`, which has none ("0.00"). Approval authority compares it.',
    )
    description: Annotated[str, *text_rules(2_000)] | None = Field(None, examples=["退还商品货款"])

    @model_validator(mode="after")
    def _amount_fits_kind(self) -> Self:
        if self.kind is RemedyKind.apology and self.amount != 0:
            raise ValueError("an apology carries no amount")
        if self.kind is not RemedyKind.apology and self.amount <= 0:
            raise ValueError(f"a {self.kind} needs its value in yuan: an amount above 0")
        return self


class RejectBody(Body):
    reason: RejectionReason
    explanation: Annotated[str, *text_rules(5_000)] = Field(
        description="The written explanation to the customer.",
        examples=["经核实，该商品已超过七天无理由退货期限，敬请谅解。"],
    )


class InvestigateBody(Body):
    model_config = ConfigDict(json_schema_extra=STORE_OR_DEPARTMENT)

    store_id: StoreId | None = Field(None, description="Dispatch to this store: it is sent the complaint record.")
    department: Department | None = None
    note: Annotated[str, *text_rules(2_000)] | None = Field(None, examples=["请门店经理核实当班店员情况"])

    @model_validator(mode="after")
    def _unit(self) -> Self:
        if not self.store_id and not self.department:
            raise ValueError("name the responsible store_id or department")
        return self


class StoreFeedbackBody(Body):
    """The feedback of the responsible unit (责任单位反馈): the store's or the department's the complaint was
    dispatched to. A store or department key gives its own; a handler records it on the unit's behalf."""

    store_id: StoreId | None = Field(None, description="For a handler recording on a store's behalf.")
    department: Department | None = Field(
        None,
        description="For a handler recording on a department's behalf. Name at most one unit; with neither, the "
        "feedback is the one unit's the complaint was dispatched to.",
    )
    cause: Annotated[str, *text_rules(5_000)] = Field(examples=["店员未按退货流程操作"])
    responsible_person: Annotated[str, *text_rules(100)] | None = Field(None, examples=["李四"])
    responsibility: Responsibility
    actions_taken: Annotated[str, *text_rules(5_000)] | None = Field(None, examples=["已对当班店员进行培训"])

    @model_validator(mode="after")
    def _one_unit(self) -> Self:
        if self.store_id and self.department:
            raise ValueError("a feedback is one unit's: name the store_id or the department, not both")
        return self


class ProposeBody(Body):
    remedy: RemedyIn
    reply: Annotated[str, *text_rules(10_000)] = Field(
        description="The written reply to the customer.",
        examples=["非常抱歉给您带来不便，我们将为您全额退款并向您致歉。"],
    )
    reply_channel: ReplyChannel = Field(
        description="How the reply goes to the customer (以書面告知): at a proposal, the planned channel, which the "
        "approval confirms or changes."
    )


class ResolveBody(ProposeBody):
    reply_channel: ReplyChannel = Field(description="How the reply was sent to the customer.")
    replied_at: PastMoment | None = Field(
        None,
        description="When the customer was told (with offset); default: now. Not before the complaint was received "
        "(or reopened), at most 5 minutes ahead of tousu's clock. The written-reply clock is met at this time.",
        examples=["2026-11-24T16:00:00+08:00"],
    )


class ApproveBody(Body):
    reply: Annotated[str, *text_rules(10_000)] | None = Field(
        None, description="Final wording of the reply, if the approver changes it."
    )
    reply_channel: ReplyChannel | None = Field(
        None, description="How the reply was sent, if not by the channel planned at the proposal."
    )
    replied_at: PastMoment | None = Field(
        None,
        description="When the customer was told (with offset); default: now. The written-reply clock is met at "
        "this time.",
        examples=["2026-11-24T16:00:00+08:00"],
    )
    note: Annotated[str, *text_rules(2_000)] | None = None


class FulfilBody(Body):
    payment_reference: Annotated[str, *text_rules(100)] | None = Field(
        None,
        description="The payment's reference (transfer or refund number): required for a refund, a price "
        "reduction or compensation.",
        examples=["WX-REFUND-4200001987"],
    )
    fulfilled_at: PastMoment | None = Field(
        None,
        description="When the remedy was carried out (with offset); default: now. Not ahead of tousu's clock; the "
        "fulfilment clock is met at this time.",
        examples=["2026-11-25T11:00:00+08:00"],
    )
    note: Annotated[str, *text_rules(2_000)] | None = Field(None, examples=["已退款至顾客原支付账户"])


class CallAttemptBody(Body):
    outcome: CallOutcome = Field(
        description="no_answer, busy, wrong_number, or call_back: the customer asked to be called at another time."
    )
    call_back_at: ReceiptTime | None = Field(
        None,
        description="With `call_back` (and only then): the time the customer named (with offset), within 30 days.",
        examples=["2026-11-26T19:30:00+08:00"],
    )
    note: Annotated[str, *text_rules(2_000)] | None = Field(None, examples=["无人接听"])

    @model_validator(mode="after")
    def _call_back_time(self) -> Self:
        if self.outcome is CallOutcome.call_back:
            if self.call_back_at is None:
                raise ValueError("call_back needs call_back_at: the time the customer named")
            now = utcnow()
            if not now - CLOCK_SKEW <= self.call_back_at <= now + CALL_BACK_HORIZON:
                raise ValueError("call_back_at must be from now to 30 days ahead")
        elif self.call_back_at is not None:
            raise ValueError(f"call_back_at goes with the outcome call_back, not {self.outcome}")
        return self


class SendBackBody(Body):
    reason: Annotated[str, *text_rules(2_000)] = Field(examples=["补偿金额过高，请与门店重新协商方案"])


class RevisitBody(Body):
    satisfaction: Satisfaction = Field(
        description="satisfied, neutral (with `improvement`), or unreachable (after unanswered calls on enough "
        "different days). An unsatisfied customer reopens the complaint instead."
    )
    call_notes: Annotated[str, *text_rules(5_000)] | None = Field(None, examples=["客户表示满意，感谢跟进"])
    improvement: Annotated[str, *text_rules(2_000)] | None = Field(
        None,
        description="What the customer says should improve (我们应改进哪方面): required when neutral.",
        examples=["希望退款能更快到账"],
    )

    @model_validator(mode="after")
    def _neutral_says_what_to_improve(self) -> Self:
        if self.satisfaction is Satisfaction.neutral and not self.improvement:
            raise ValueError("a neutral customer is asked what to improve: give improvement")
        return self


class ReopenBody(Body):
    reason: Annotated[str, *text_rules(2_000)] = Field(examples=["客户回访时表示仍未收到退款"])
    store_id: StoreId | None = Field(None, description="Dispatch again, to this store.")
    department: Department | None = None


class ReassignBody(Body):
    owner: Annotated[str, *text_rules(100)] = Field(
        description="Who follows the complaint from now on (首问责任人).", examples=["handler-12"]
    )
    reason: Annotated[str, *text_rules(2_000)] = Field(examples=["原责任人休假，转交同组同事跟进"])


class ReassignEntry(ReassignBody):
    """What the history keeps of a reassignment: the owner before as well."""

    previous_owner: str


class EscalateBody(Body):
    priority: Priority = Field(
        description="The new priority, higher than the complaint's (normal < urgent < media < major).",
        examples=["major"],
    )
    reason: Annotated[str, *text_rules(2_000)] = Field(examples=["顾客食用后就医，涉及食品安全"])


class EscalateEntry(EscalateBody):
    """What the history keeps of an escalation: the priority before as well."""

    previous_priority: Priority


class IncidentReportBody(Body):
    report: Annotated[str, *text_rules(20_000)] = Field(
        description="The written incident report (书面报告): what happened, to whom, what was done, what comes next.",
        examples=["11月24日顾客食用本店面包后腹泻就医；已下架同批次产品并送检，门店已向顾客致歉并承担医药费。"],
    )
    reported_at: PastMoment | None = Field(
        None,
        description="When the report was submitted (with offset); default: now. The incident-report clock is met "
        "at this time.",
        examples=["2026-11-25T09:30:00+08:00"],
    )


class NoteBody(Body):
    text: Annotated[str, *text_rules(5_000)] = Field(examples=["客户来电催促处理进度"])
    visible_to_unit: Bool = Field(
        False,
        description="Also shown to the store the complaint is dispatched to (its key and its webhooks). "
        "Default: an internal note, for the company's own roles only.",
    )


# What a correction may not change, and why (each named in the 422 it gets).
NOT_CORRECTED = {
    "id": "the complaint's identity",
    "number": "the complaint's identity",
    "state": "the state changes by the moves (/v1/workflow)",
    "version": "the version is the ETag: send it in If-Match",
    "owner": "the owner changes by the move reassign",
    "clocks": "the clocks follow the moves and the priority",
    "received_at": "when the complaint was received is the start of its clocks",
    "channel": "the channel is where the complaint came in",
    "times": "the state times follow the moves",
}


def _not_null(*names: str) -> Callable[[dict[str, Any]], None]:
    """What the schema says of fields a patch may leave out but never clear (required on the complaint): no null."""

    def without_null(schema: dict[str, Any]) -> None:
        for name in names:
            shown = schema["properties"][name]
            kinds = [kind for kind in shown.pop("anyOf") if kind != {"type": "null"}]
            shown.pop("default", None)
            shown.update(kinds[0])
        return None

    return without_null


class ComplainantPatch(Body):
    model_config = ConfigDict(json_schema_extra=_not_null("name", "phone"))

    name: Annotated[str, *text_rules(100)] | None = None
    phone: Phone | None = None
    email: Annotated[str, *text_rules(254, pattern=EMAIL_PATTERN)] | None = None
    customer_ref: Annotated[str, *text_rules(100)] | None = None
    address: Address | None = None


class ClaimPatch(Body):
    type: ClaimType | None = None
    amount_claimed: Yuan | None = None


class ComplaintPatch(Body):
    """A correction as a JSON merge patch (RFC 7396): a field left out stays as it is, a field set to null is
    cleared, an object (complainant, product, purchase, claim) is merged field by field."""

    complainant: ComplainantPatch | None = None
    category: Category | None = None
    priority: Priority | None = Field(
        None,
        description="Supervisors and managers raise it, managers lower it; either needs a `reason`. The running "
        "clocks restart on the new priority's targets.",
    )
    store_id: StoreId | None = Field(None, description="The store complained about.")
    department: Department | None = Field(None, description="The department complained about.")
    product: ProductIn | None = None
    order_number: Reference | None = None
    purchase: PurchaseIn | None = None
    incident_at: IncidentTime | None = None
    claim: ClaimPatch | None = None
    reason: Annotated[str, *text_rules(2_000)] | None = Field(
        None, description="Why: kept in the history; required to change the priority.", examples=["客户更正了订单号"]
    )

    model_config = ConfigDict(json_schema_extra=_not_null("complainant", "category", "priority"))

    @model_validator(mode="before")
    @classmethod
    def _only_intake(cls, given: Any) -> Any:
        if isinstance(given, dict):
            for name, why in NOT_CORRECTED.items():
                if name in given:
                    raise ValueError(f"{name} cannot be corrected: {why}")
        return given

    @model_validator(mode="after")
    def _required_stay(self) -> Self:
        cleared = [name for name in ("category", "priority", "complainant") if self._cleared(self, name)]
        if self.complainant is not None:
            cleared += [f"complainant.{name}" for name in ("name", "phone") if self._cleared(self.complainant, name)]
        if cleared:
            raise ValueError(f"{', '.join(cleared)} cannot be null: it is required")
        return self

    @staticmethod
    def _cleared(model: BaseModel, name: str) -> bool:
        return name in model.model_fields_set and getattr(model, name) is None


class ComplainantOut(BaseModel):
    name: str = Field(examples=["张三"])
    phone: str = Field(examples=["13812348000"])
    email: str | None = None
    customer_ref: str | None = None
    address: str | None = Field(None, description="A store key sees its province and city only (广东省深圳市***).")

    # The contact as it was before corrections (never shown): what the visibility model masks in older texts.
    _former: list[dict[str, str | None]] | None = PrivateAttr(default=None)

    @classmethod
    def of(cls, c: Complaint) -> ComplainantOut:
        shown = cls(
            name=c.complainant_name,
            phone=c.complainant_phone,
            email=c.complainant_email,
            customer_ref=c.customer_ref,
            address=c.complainant_address,
        )
        shown._former = c.former_contacts
        return shown

    def contact(self) -> contact.Contact:
        return contact.Contact.of(self.name, self.phone, self.email, self.address, self._former)


class ProductOut(BaseModel):
    name: str | None
    sku: str | None
    specification: str | None
    batch: str | None
    production_date: date | None


class PurchaseOut(BaseModel):
    date: Day | None
    store_id: str | None
    amount: Money | None = Field(description="Yuan paid.")


class ClaimOut(BaseModel):
    type: ClaimType
    amount_claimed: Money | None = Field(description="Yuan claimed (索赔金额).")


def _part(model: type[BaseModel], c: Complaint, columns: dict[str, str]) -> Any:
    """The part (product, purchase) when any of its columns is set; None otherwise."""
    values = {field: getattr(c, column) for field, column in columns.items()}
    return model(**values) if any(value is not None for value in values.values()) else None


class RemedyOut(BaseModel):
    kind: RemedyKind
    amount: Money = Field(description='Yuan; "0.00" for a remedy without money.')
    description: str | None


class FulfilmentOut(BaseModel):
    """The remedy carried out (fulfil)."""

    fulfilled_at: datetime
    fulfilled_by: str = Field(examples=["财务赵六"])
    payment_reference: str | None = Field(examples=["WX-REFUND-4200001987"])


class FollowUpCallsOut(BaseModel):
    """The follow-up calls that did not get through since the resolution (call-attempt)."""

    attempts: int = 0
    days: int = Field(0, description="The different local days they were made on.")
    last_at: datetime | None = None
    last_outcome: CallOutcome | None = None
    call_back_at: datetime | None = Field(None, description="The time the customer named at the last call.")


class StateTimes(BaseModel):
    """When the complaint last entered each state."""

    accepted_at: datetime
    rejected_at: datetime | None
    investigating_at: datetime | None
    awaiting_approval_at: datetime | None
    resolved_at: datetime | None
    revisited_at: datetime | None
    reopened_at: datetime | None


@dataclass(frozen=True)
class LastComplaint:
    id: uuid.UUID
    number: str
    state: State
    received_at: datetime


@dataclass(frozen=True)
class Earlier:
    """The complaints the same phone made before this one (投诉多少次了): how many, and the last of them."""

    count: int
    last: LastComplaint | None
    # Found with them, though not of them: whether any complaint is linked to this one as a repeat, either end (None
    # where the query did not ask). Showing the complaint looks for its related complaints unless it is False.
    linked: bool | None = None


NONE_EARLIER = Earlier(0, None)


class LastComplaintOut(BaseModel):
    id: uuid.UUID
    number: str = Field(examples=["TS-20261005-0042"])
    state: State
    received_at: datetime


class EarlierComplaintsOut(BaseModel):
    """What the agent on the phone needs first: has this customer complained before (投诉多少次了)?"""

    count: int = Field(description="Complaints registered earlier from the same phone number (any channel, any store).")
    last: LastComplaintOut | None = Field(description="The most recent of them.")

    @classmethod
    def of(cls, earlier: Earlier, tz: ZoneInfo) -> EarlierComplaintsOut:
        last = earlier.last
        shown = None
        if last is not None:
            shown = LastComplaintOut(
                id=last.id, number=last.number, state=last.state, received_at=last.received_at.astimezone(tz)
            )
        return cls(count=earlier.count, last=shown)


class RelatedComplaintOut(BaseModel):
    """A complaint this one repeats or is repeated by (投诉多少次了)."""

    id: uuid.UUID
    number: str = Field(examples=["TS-20261005-0042"])
    state: State
    received_at: datetime
    reasons: list[LinkReason] = Field(
        description="`same_phone`: the later one was the Nth from the same phone within the repeat window; "
        "`same_order_number`: it named the order or receipt of the earlier one while that was open."
    )


# The complaint's column of when it last entered each state: named once, not for every complaint shown.
STATE_TIME_COLUMNS = tuple(f"{state}_at" for state in State)


class ComplaintOut(BaseModel):
    id: uuid.UUID
    number: str = Field(examples=["TS-20261122-0001"])
    state: State
    version: int
    owner: str
    complainant: ComplainantOut
    channel: Channel
    category: Category
    priority: Priority
    store_id: str | None
    department: str | None
    description: str
    customer_request: str | None
    external_ref: str | None
    received_at: datetime
    # Defaults: a history entry kept before these fields existed shows them empty.
    product: ProductOut | None = None
    order_number: str | None = Field(None, description="The order or receipt number.")
    purchase: PurchaseOut | None = None
    incident_at: datetime | None = None
    claim: ClaimOut | None = None
    responsible_store_id: str | None = Field(description="The store the complaint was dispatched to.")
    responsible_department: str | None
    dispatched_at: datetime | None
    rejection_reason: RejectionReason | None
    responsibility: Responsibility | None
    remedy: RemedyOut | None
    reply: str | None = Field(description="The written reply (or rejection explanation) to the customer.")
    reply_channel: ReplyChannel | None = Field(
        None, description="How the reply goes (planned, while awaiting approval) or went to the customer."
    )
    replied_at: datetime | None = Field(None, description="When the customer was told.")
    remedy_owed: bool = Field(
        False, description="The remedy has a value and has not been carried out yet: the complaint cannot close."
    )
    fulfilment: FulfilmentOut | None = Field(None, description="The remedy carried out; null until then.")
    proposed_by: str | None
    approved_by: str | None
    satisfaction: Satisfaction | None
    improvement: str | None = Field(None, description="A neutral customer's answer to what should improve.")
    follow_up_calls: FollowUpCallsOut = Field(default_factory=FollowUpCallsOut)
    reopen_count: int
    incident_reported_at: datetime | None = Field(
        None,
        description="A major complaint: when its written incident report was recorded (`incident-report`); null "
        "until then.",
    )
    times: StateTimes
    updated_at: datetime
    clocks: list[ClockOut] = Field(
        description="The complaint's clocks with the time left; GET /v1/complaints/{id}/clocks explains them."
    )
    allowed_moves: list[str] = Field(
        description="The moves this API key may make now.", examples=[["reject", "investigate"]]
    )
    earlier_complaints: EarlierComplaintsOut = Field(
        description="The complaints the same phone number made before this one; a store key counts only those "
        "dispatched to its store."
    )
    related: list[RelatedComplaintOut] = Field(
        default_factory=list,
        description="The complaints linked to this one as repeats, earlier and later (a store or department key: "
        "only those dispatched to its unit); empty in webhook payloads.",
    )

    @classmethod
    def build(
        cls,
        c: Complaint,
        allowed: list[str],
        settings: Settings,
        earlier: Earlier,
        related: Sequence[RelatedComplaintOut] = (),
    ) -> ComplaintOut:
        """The complaint in full; what a caller may see of it is ``app.visibility.Viewer.complaint``."""
        tz = settings.tz
        now = utcnow()

        def local(dt: datetime | None) -> Any:
            return dt.astimezone(tz) if dt is not None else None

        remedy = (
            RemedyOut(
                kind=c.remedy_kind,
                amount=c.remedy_amount if c.remedy_amount is not None else Decimal("0.00"),
                description=c.remedy_description,
            )
            if c.remedy_kind
            else None
        )
        return cls(
            id=c.id,
            number=c.number,
            state=c.state,
            version=c.version,
            owner=c.owner,
            complainant=ComplainantOut.of(c),
            channel=c.channel,
            category=c.category,
            priority=c.priority,
            store_id=c.store_id,
            department=c.department,
            description=c.description,
            customer_request=c.customer_request,
            external_ref=c.external_ref,
            received_at=local(c.received_at),
            product=_part(ProductOut, c, PRODUCT_COLUMNS),
            order_number=c.order_number,
            purchase=_part(PurchaseOut, c, PURCHASE_COLUMNS),
            incident_at=local(c.incident_at),
            claim=ClaimOut(type=c.claim_type, amount_claimed=c.claim_amount) if c.claim_type else None,
            responsible_store_id=c.responsible_store_id,
            responsible_department=c.responsible_department,
            dispatched_at=local(c.dispatched_at),
            rejection_reason=c.rejection_reason,
            responsibility=c.responsibility,
            remedy=remedy,
            reply=c.reply_text,
            reply_channel=c.reply_channel,
            replied_at=local(c.replied_at),
            remedy_owed=c.remedy_owed,
            fulfilment=FulfilmentOut(
                fulfilled_at=local(c.fulfilled_at), fulfilled_by=c.fulfilled_by, payment_reference=c.payment_reference
            )
            if c.fulfilled_at is not None and c.fulfilled_by is not None
            else None,
            proposed_by=c.proposed_by,
            approved_by=c.approved_by,
            satisfaction=c.satisfaction,
            improvement=c.improvement,
            follow_up_calls=FollowUpCallsOut(
                attempts=c.call_attempts,
                days=c.call_attempt_days,
                last_at=local(c.last_call_at),
                last_outcome=c.last_call_outcome,
                call_back_at=local(c.call_back_at),
            ),
            reopen_count=c.reopen_count,
            incident_reported_at=local(c.incident_reported_at),
            times=StateTimes(
                **{name: local(getattr(c, name)) for name in STATE_TIME_COLUMNS}, reopened_at=local(c.reopened_at)
            ),
            updated_at=local(c.updated_at),
            clocks=[ClockOut.build(clock, settings, now, calls_of(c)) for clock in c.clocks],
            allowed_moves=allowed,
            earlier_complaints=EarlierComplaintsOut.of(earlier, tz),
            related=list(related),
        )

    def snapshot(self) -> dict[str, Any]:
        """What a history entry keeps of the complaint as a change left it: everything but its identity, the
        complainant's contact (kept on the complaint alone, so that erasing it there erases it everywhere) and what
        depends on the reader."""
        return self.model_dump(mode="json", exclude=NOT_IN_SNAPSHOT)

    @classmethod
    def from_snapshot(cls, snapshot: dict[str, Any], c: Complaint, earlier: Earlier, tz: ZoneInfo) -> ComplaintOut:
        """The complaint as a history entry's snapshot shows it, with its identity and contact as they are now."""
        identity = {"id": c.id, "number": c.number, "complainant": ComplainantOut.of(c), "allowed_moves": []}
        return cls.model_validate({**snapshot, **identity, "earlier_complaints": EarlierComplaintsOut.of(earlier, tz)})


def calls_of(c: Complaint) -> Calls:
    """What the next follow-up call slot depends on."""
    return Calls(last_at=c.last_call_at, call_back_at=c.call_back_at)


NOT_IN_SNAPSHOT = {"id", "number", "complainant", "allowed_moves", "earlier_complaints", "related"}


class ComplaintPage(BaseModel):
    items: list[ComplaintOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")


class EventOut(BaseModel):
    id: int
    move: str = Field(examples=["store-feedback"], description="The move, `register` or `note`.")
    from_state: State | None
    to_state: State
    actor: str = Field(examples=["店长王五"])
    api_key_id: uuid.UUID | None
    at: datetime
    payload: dict[str, Any] = Field(
        description="What was sent with the move.",
        examples=[{"cause": "店员未按退货流程操作", "responsible_person": "李四", "responsibility": "staff_fault"}],
    )

    @classmethod
    def build(cls, e: ComplaintEvent, tz: ZoneInfo) -> EventOut:
        return cls(
            id=e.id,
            move=e.move,
            from_state=e.from_state,
            to_state=e.to_state,
            actor=e.actor,
            api_key_id=e.api_key_id,
            at=e.at.astimezone(tz),
            payload=local_times(e.payload, tz),
        )


class GuardOut(BaseModel):
    name: str
    words: str


class StateOut(BaseModel):
    name: State
    label: str = Field(examples=["受理"], description="The state's name in the handbooks.")


class MoveOut(BaseModel):
    name: str = Field(examples=["approve"])
    label: str = Field(examples=["审批通过"])
    path: str = Field(examples=["/v1/complaints/{id}/approve"])
    sources: list[State]
    dest: State | None = Field(description="null: the state does not change.")
    roles: list[str]
    requires: str
    guards: list[GuardOut]


class WorkflowOut(BaseModel):
    states: list[StateOut]
    initial: State
    moves: list[MoveOut]
    mermaid: str = Field(description="The state diagram, in Mermaid.")
