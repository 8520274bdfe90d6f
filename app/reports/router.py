"""HTTP for the summary analysis: JSON, CSV (``Accept: text/csv``) and a chart (SVG)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Header, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from app import errors
from app.auth.dependencies import CurrentPrincipal
from app.auth.models import Role
from app.auth.principal import Principal
from app.db import utcnow
from app.dependencies import CurrentSettings, ReadSession
from app.errors import Forbidden, InvalidInput, Unauthorized
from app.reports import chart, service, table
from app.reports.queries import Scope
from app.reports.schemas import GroupBy, Period, Summary
from app.types import date_rules

router = APIRouter(prefix="/v1/reports", tags=["reports"])

REPORT_ROLES = frozenset({Role.reporter, Role.manager, Role.admin, Role.store, Role.department})
LONGEST_PERIOD_DAYS = 366
# The days a period may name (as every date the API reads: 1970 to 2100).
FIRST_DAY, LAST_DAY = date(1970, 1, 1), date(2100, 12, 31)
ReportDay = Annotated[date, *date_rules(FIRST_DAY, LAST_DAY)]
CSV = "text/csv"
SVG = "image/svg+xml"
PERIOD_RULES = (
    "The period is `from` to `to`, local dates (`TOUSU_TIMEZONE`), both included, at most 366 days: "
    "`from=2026-10-01&to=2026-10-31` is October, from 00:00 on the 1st to 24:00 on the 31st local time. "
    "A complaint is in the period when it was received in it; its figures are as it stands now. "
    "Roles reporter, manager and admin see every store; a store or department key sees only the complaints "
    "dispatched to its unit, and no other unit's feedback clock."
)


CSV_EXAMPLE = (
    "\ufeffrow,group,received,rejected,resolved,open,...\r\ngroup,物业工程部,1,0,1,0,...\r\ntotal,,8,1,4,3,...\r\n"
)
SVG_EXAMPLE = (
    '<svg xmlns="http://www.w3.org/2000/svg" ...>'
    "<text ...>投诉汇总分析 2026-10-01 至 2026-10-31（8 件）</text>...<text ...>每周投诉量（按类别）</text>...</svg>"
)


class SummaryQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_: ReportDay = Field(alias="from", description="First local day of the period.", examples=["2026-10-01"])
    to: ReportDay = Field(description="Last local day of the period (included).", examples=["2026-10-31"])
    group_by: GroupBy | None = Field(
        None,
        description="One row per responsible store (the store dispatched to, else the store complained about), "
        "category, channel, responsible department or responsibility (the finding of the feedback: company_fault, "
        "staff_fault, customer_misunderstanding, third_party, undetermined; null while none). Grouped by store, "
        "the feedback clocks counted are the stores'; by department, the departments'. Without it: the total only.",
    )


class SVGResponse(Response):
    media_type = SVG


def _allowed(principal: Principal) -> None:
    if principal.role not in REPORT_ROLES:
        raise Forbidden(f"role {principal.role} may not read reports", allowed_roles=sorted(REPORT_ROLES))


def _scope(query: SummaryQuery, principal: Principal, settings: CurrentSettings) -> tuple[Period, Scope]:
    _allowed(principal)
    if query.from_ > query.to:
        raise InvalidInput("`from` is after `to`", field="from")
    if (query.to - query.from_).days >= LONGEST_PERIOD_DAYS:
        raise InvalidInput(f"the period is longer than {LONGEST_PERIOD_DAYS} days", field="to")
    period = service.period(query.from_, query.to, settings.tz)
    return period, service.scope(period, principal, utcnow())


def wants_csv(accept: str | None) -> bool:
    """CSV when the client names text/csv and prefers it to JSON (a JSON it does not name counts as less)."""
    quality: dict[str, float] = {}
    for part in (accept or "").split(","):
        media, *params = (piece.strip() for piece in part.split(";"))
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        quality[media.lower()] = max(q, quality.get(media.lower(), 0.0))
    return quality.get(CSV, 0.0) > quality.get("application/json", 0.0)


@router.get(
    "/summary",
    operation_id="getSummary",
    summary="Summary analysis of a period (投诉汇总分析表)",
    description="Per group and in total: complaints received, rejected, resolved and still open; the reopen rate; "
    "the on-time rate of each clock (met / (met + breached); a clock still running past its deadline counts as "
    "breached, one running before it is not counted yet); hours from acceptance to the written reply (median and "
    "90th percentile, linear interpolation as PostgreSQL's percentile_cont); satisfaction at the follow-up call; "
    "repeat complainants (a phone more than once) and repeat causes (a store and category more than once); "
    "remedies granted by kind with their total in yuan.\n\n"
    + PERIOD_RULES
    + "\n\nSend `Accept: text/csv` for the same table as CSV (UTF-8 with a byte-order mark, for Excel): one row "
    "per group and a last `total` row, flat columns named after the JSON members.",
    responses={
        200: {
            "content": {CSV: {"schema": {"type": "string"}, "example": CSV_EXAMPLE}},
            "description": "The summary (JSON or CSV).",
        },
        **errors.responses(Unauthorized, Forbidden, InvalidInput, 503),
    },
)
def read_summary(
    query: Annotated[SummaryQuery, Query()],
    principal: CurrentPrincipal,
    session: ReadSession,
    settings: CurrentSettings,
    accept: Annotated[str | None, Header(description="`text/csv` for CSV; JSON otherwise.")] = None,
) -> Summary:
    period, scope = _scope(query, principal, settings)
    report = service.summary(session, period, query.group_by, scope)
    if wants_csv(accept):
        name = f"tousu-summary-{period.from_}-{period.to}.csv"
        # FastAPI sends a Response as it is; the declared Summary is what the JSON answer and its document show.
        return Response(  # type: ignore[return-value]
            table.to_csv(report),
            media_type=f"{CSV}; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
    return report


@router.get(
    "/summary.svg",
    operation_id="getSummaryChart",
    summary="The summary as a chart (SVG)",
    description="Complaints per ISO week (local Monday to Sunday) by category, stacked, and the on-time rate of "
    "each clock over the period, as an SVG picture to paste into a report. Labels are text in Chinese, drawn "
    "with the viewer's fonts. Takes the same parameters as the summary (`group_by` does not change the picture).\n\n"
    + PERIOD_RULES,
    response_class=SVGResponse,
    responses={
        200: {"content": {SVG: {"schema": {"type": "string"}, "example": SVG_EXAMPLE}}, "description": "The chart."},
        **errors.responses(Unauthorized, Forbidden, InvalidInput, 503),
    },
)
def read_summary_chart(
    query: Annotated[SummaryQuery, Query()],
    principal: CurrentPrincipal,
    session: ReadSession,
    settings: CurrentSettings,
) -> SVGResponse:
    period, scope = _scope(query, principal, settings)
    clocks, weeks = service.chart_figures(session, scope, period, settings.tz)
    return SVGResponse(chart.render_svg(period, clocks, weeks))
