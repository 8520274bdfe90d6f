"""API shapes of the summary analysis (投诉汇总分析表)."""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field

from app.actions.models import ActionState
from app.complaints.models import Category, RemedyKind
from app.types import Money
from app.vocabulary import ClockKind


class GroupBy(enum.StrEnum):
    store = "store"  # the responsible store, else the store complained about
    category = "category"
    channel = "channel"
    department = "department"  # the responsible department
    responsibility = "responsibility"  # the finding of the store's or department's feedback (null: none yet)


Weeks = list[tuple[str, dict[Category, int]]]  # the chart's bars: ISO week, complaints by category


class Period(BaseModel):
    """Local dates, both included, and the instants they stand for."""

    from_: date = Field(alias="from", examples=["2026-10-01"])
    to: date = Field(examples=["2026-10-31"])
    time_zone: str = Field(examples=["Asia/Shanghai"])
    start: datetime = Field(description="The first instant in the period (local midnight of `from`).")
    end: datetime = Field(description="The first instant after the period (local midnight after `to`).")

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)


class ClockFigures(BaseModel):
    """The runs of one clock kind on the period's complaints (a reopened complaint may have several)."""

    met: int = Field(description="Stopped by what it waited for, on time.")
    breached: int = Field(description="Stopped late, marked breached, or still running past its deadline.")
    running: int = Field(description="Still running, before its deadline: not counted in the rate yet.")
    on_time_rate: float | None = Field(description="met / (met + breached); null when both are 0.")


class ReplyTime(BaseModel):
    """Hours from acceptance to the written reply (rejection or resolution), percentile_cont (linear)."""

    replied: int = Field(description="Complaints now rejected, resolved or revisited: those with a reply.")
    median_hours: float | None
    p90_hours: float | None


class SatisfactionFigures(BaseModel):
    """The latest follow-up call of each complaint (回访)."""

    satisfied: int
    neutral: int
    unsatisfied: int = Field(description="Reopened because the customer was unsatisfied at the follow-up call.")
    unreachable: int = Field(
        description="Closed without reaching the customer, after unanswered calls on enough different days."
    )
    satisfied_rate: float | None = Field(
        description="satisfied / (satisfied + neutral + unsatisfied): customers never reached are not counted."
    )


class Repeats(BaseModel):
    count: int = Field(description="Phones (or store and category pairs) seen more than once.")
    complaints: int = Field(description="The complaints they account for.")


class RemedyTotal(BaseModel):
    kind: RemedyKind
    count: int
    amount: Money = Field(description="Total in yuan.")


class Claims(BaseModel):
    """What customers claimed (索赔金额) against what they were granted."""

    count: int = Field(description="Complaints with an amount claimed.")
    amount_claimed: Money = Field(description="The amounts they claim, in yuan.")
    amount_granted: Money = Field(
        description="The value of the remedies granted on those of them now resolved or revisited, in yuan."
    )


class SummaryRow(BaseModel):
    """The figures of one group, or of the whole period (the total)."""

    group: str | None = Field(
        description="The store, category, channel or department; null: none named (for example, a complaint "
        "about a department grouped by store). Also null in the total.",
        examples=["SZ-FT-012", "物业工程部"],
    )
    name: str | None = Field(
        None,
        description="Grouped by store or department: the unit's name in the directory (/v1/stores, "
        "/v1/departments); null when it has none, and otherwise.",
        examples=["福田中心店"],
    )
    received: int
    rejected: int = Field(description="Now in state rejected (投诉不成立).")
    resolved: int = Field(description="Now resolved or revisited.")
    open: int = Field(description="Now accepted, investigating or awaiting approval.")
    reopened: int = Field(description="Reopened at least once.")
    reopen_rate: float | None = Field(description="reopened / received.")
    clocks: dict[ClockKind, ClockFigures]
    reply_time: ReplyTime
    satisfaction: SatisfactionFigures
    repeat_complainants: Repeats = Field(description="Phones with more than one complaint in the group.")
    repeat_causes: Repeats = Field(description="Store and category pairs with more than one complaint in the group.")
    remedies: list[RemedyTotal] = Field(description="Granted remedies (resolved or revisited complaints) by kind.")
    claims: Claims


class RepeatCause(BaseModel):
    store_id: str | None = Field(examples=["SZ-FT-012"])
    category: Category
    complaints: int


class RepeatComplaintRef(BaseModel):
    id: uuid.UUID
    number: str = Field(examples=["TS-20261005-0042"])


class RepeatComplainant(BaseModel):
    """A phone that complained more than once in the period (投诉多少次了), with its complaints."""

    phone: str = Field(
        description="The phone, masked (a mainland mobile keeps its first three and last four digits).",
        examples=["138****8000"],
    )
    complaints: int = Field(description="Its complaints in the period (of those the key may read).")
    listed: list[RepeatComplaintRef] = Field(description="Those complaints, oldest first.")


class ActionEffect(BaseModel):
    """A corrective action on a cause, and whether the cause's complaints fell after it was done: complaints of
    the cause (its store and/or category) received in the ``window_days`` before ``done_at`` against the same
    length after."""

    id: uuid.UUID
    store_id: str | None = Field(examples=["SZ-FT-012"])
    category: Category | None
    cause: str = Field(examples=["福田中心店收银员多收费，一个月内三起"])
    state: ActionState
    done_at: datetime | None = Field(description="Null while the action is open: nothing to measure yet.")
    window_days: int = Field(description="The length of each window: the period's days.", examples=[31])
    before: int | None = Field(description="Complaints of the cause received in the window before done_at.")
    after: int | None = Field(description="Complaints of the cause received in the window from done_at.")
    fell: bool | None = Field(
        description="after < before; null while the action is open or the window after it is not over yet."
    )


class Summary(BaseModel):
    """The summary analysis of a period (投诉汇总分析表)."""

    period: Period
    group_by: GroupBy | None
    generated_at: datetime = Field(description="Clocks still running are judged against this moment.")
    groups: list[SummaryRow] = Field(description="One row per group, ordered by group; empty without group_by.")
    total: SummaryRow
    top_repeat_causes: list[RepeatCause] = Field(
        description="The store and category pairs with the most complaints in the period, more than one each "
        "(at most 10)."
    )
    top_repeat_complainants: list[RepeatComplainant] = Field(
        default_factory=list,
        description="The phones with the most complaints in the period, more than one each (at most 10), with "
        "their complaints; the phone masked for every role. Not in the CSV table (one row per group).",
    )
    corrective_actions: list[ActionEffect] = Field(
        default_factory=list,
        description="The corrective actions (not dropped) on the top repeat causes, and those done in the period, "
        "with their complaints before and after (a store key: its own store's actions and complaints). Not in "
        "the CSV table.",
    )
