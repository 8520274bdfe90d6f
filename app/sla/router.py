"""HTTP for the working-day calendar. A complaint's clocks are read under the complaint (app.complaints.router)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Path

from app import errors
from app.auth.dependencies import CurrentActor, CurrentPrincipal, require_role
from app.auth.models import Role
from app.dependencies import CurrentSettings, ReadSession, WriteSession
from app.errors import Forbidden, InvalidInput, Unauthorized
from app.sla import service
from app.sla.schemas import DayChanged, DayIn, DayOut
from app.types import date_rules

router = APIRouter(prefix="/v1")

CalendarDate = Annotated[date, *date_rules(date(service.FIRST_YEAR, 1, 1), date(service.LAST_YEAR, 12, 31))]
Day = Annotated[CalendarDate, Path(description="A local date, YYYY-MM-DD.", examples=["2026-10-01"])]


@router.get(
    "/calendar/days/{day}",
    operation_id="getCalendarDay",
    tags=["calendar"],
    summary="Is this a working day?",
    description="What the calendar says of a day: working or not, and why (weekend, holiday, 调休 adjusted "
    "working day, an administrator's override), and whether it is only assumed because no schedule for the "
    "year is known.",
    responses=errors.responses(Unauthorized, InvalidInput, 503),
)
def read_day(day: Day, _principal: CurrentPrincipal, session: ReadSession) -> DayOut:
    return DayOut.build(service.read_day(session, day))


@router.put(
    "/calendar/days/{day}",
    operation_id="setCalendarDay",
    tags=["calendar"],
    summary="Open or close a day (admin)",
    description="Overrides the published schedule for one day, for example next year's holidays before a "
    "release carries them, or a company closure. Running clocks whose deadlines the day moves are recomputed, "
    "and their history says why.",
    responses=errors.responses(Unauthorized, Forbidden, 413, InvalidInput, 503),
    dependencies=[Depends(require_role(Role.admin))],
)
def put_day(day: Day, body: DayIn, actor: CurrentActor, session: WriteSession, settings: CurrentSettings) -> DayChanged:
    moved = service.set_day(session, day, body.working, body.name, actor.name, settings)
    return DayChanged(**DayOut.build(service.read_day(session, day)).model_dump(), clocks_recomputed=moved)


@router.delete(
    "/calendar/days/{day}",
    operation_id="deleteCalendarDay",
    tags=["calendar"],
    summary="Remove a day's override (admin)",
    description="The day is again what the published schedule says; running clocks are recomputed.",
    responses=errors.responses(Unauthorized, Forbidden, InvalidInput, 503),
    dependencies=[Depends(require_role(Role.admin))],
)
def delete_day(day: Day, actor: CurrentActor, session: WriteSession, settings: CurrentSettings) -> DayChanged:
    moved = service.clear_day(session, day, actor.name, settings)
    return DayChanged(**DayOut.build(service.read_day(session, day)).model_dump(), clocks_recomputed=moved)
