"""HTTP for complaints: registration, reading, one endpoint per move, notes, history, the workflow."""

import uuid
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, Query, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy.orm import Session

from app import errors, idempotency
from app.auth.dependencies import CurrentActor, CurrentPrincipal
from app.auth.principal import REGISTER_ROLES, Actor, Principal
from app.complaints import corrections, registration, service, workflow
from app.complaints import schemas as s
from app.complaints.contact import normalize_phone
from app.complaints.models import Category, Channel, Complaint, State
from app.complaints.service import ClockFilter
from app.config import Settings
from app.dependencies import CurrentSettings, json_response, reading, writing
from app.errors import (
    Conflict,
    Forbidden,
    GuardRefused,
    IllegalMove,
    InvalidInput,
    NotFound,
    NotOwnUnit,
    PreconditionFailed,
    PreconditionRequired,
    Unauthorized,
)
from app.preconditions import IfMatch, etag
from app.sla.schemas import ClockExplained
from app.threads import in_thread
from app.types import SearchMoment, text_rules
from app.vocabulary import ClockKind, Priority

router = APIRouter(prefix="/v1", tags=["complaints"])

ComplaintId = Annotated[uuid.UUID, Field(description="The complaint's stable id.")]
READ_ERRORS = errors.responses(Unauthorized, NotFound, 422, 503)
WRITE_ERRORS = errors.responses(
    Unauthorized, Forbidden, NotOwnUnit, NotFound, IllegalMove, GuardRefused, PreconditionFailed, 413, InvalidInput, 503
)
WRITE_ERRORS_OF_PATCH = (
    Unauthorized,
    Forbidden,
    NotFound,
    PreconditionFailed,
    413,
    InvalidInput,
    PreconditionRequired,
    503,
)
WITH_ETAG: dict[int | str, dict[str, Any]] = {200: {"headers": errors.response_headers("200", "ETag")}}
IfMatchHeader = Annotated[
    str | None,
    Header(
        alias="If-Match",
        description="The `ETag` of the complaint as last read. When it has changed since, the write is refused "
        "with 412 and the current version; without If-Match the write applies to the current state.",
        examples=['"3"'],
    ),
]


def _precondition(header: str | None) -> IfMatch | None:
    return IfMatch.parse(header) if header is not None else None


def _shown(
    session: Session,
    complaint: Complaint,
    principal: Principal,
    settings: Settings,
    earlier: dict[uuid.UUID, s.Earlier] | None = None,
) -> Response:
    """The complaint as this key may see it, with its version as the ETag."""
    (out,) = service.show(session, [complaint], principal, settings, earlier)
    return _answered(complaint, out)


def _answered(complaint: Complaint, out: s.ComplaintOut) -> Response:
    """The complaint as shown, with its version as the ETag."""
    return json_response(out, headers={"ETag": etag(complaint.version)})


@router.post(
    "/complaints",
    operation_id="registerComplaint",
    status_code=status.HTTP_201_CREATED,
    summary="Register a complaint (受理)",
    description="Registers a complaint from any channel. It starts in state `accepted`, gets a human-readable "
    "number and a stable id, and its owner is the X-Actor unless `owner` names someone else. A complaint that "
    "comes through the media is given priority `media`.\n\n"
    "Send `Idempotency-Key` to retry safely: the same key with the same body replays the first response "
    "(header `Idempotent-Replayed: true`) instead of registering twice; the same key with another body is 422; "
    "while the first request with the key is still running, 409. Keys belong to the calling API key and are "
    "kept for at least 24 hours.",
    response_model=s.ComplaintOut,
    responses={
        201: {"headers": errors.response_headers("201", "Location", "ETag", "Idempotent-Replayed")},
        **errors.responses(Unauthorized, Forbidden, Conflict, 413, InvalidInput, 503),
    },
)
async def register_complaint(
    body: s.ComplaintCreate,
    actor: CurrentActor,
    request: Request,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            description="Any unique string per intended registration (a UUID is best), 1-255 visible ASCII.",
            examples=["8e03978e-40d5-43e8-bc93-6894a57f9324"],
        ),
    ] = None,
) -> Response:
    principal = actor.principal
    if principal.role not in REGISTER_ROLES:
        raise Forbidden(f"role {principal.role} may not register complaints", allowed_roles=sorted(REGISTER_ROLES))
    key = idempotency.parse_key(idempotency_key) if idempotency_key is not None else None
    # The whole transaction in one hand-off to the thread pool (a session dependency would cost two more).
    db, settings = request.app.state.db, request.app.state.settings
    registered = await in_thread(registration.register, db, settings, body, actor, key)
    headers = {"Location": f"/v1/complaints/{registered.complaint_id}", "ETag": etag(registered.version)}
    if registered.replayed:
        headers["Idempotent-Replayed"] = "true"
    return Response(registered.body, registered.status_code, headers, media_type="application/json")


class ListQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    state: State | None = None
    store_id: s.StoreId | None = Field(None, description="The store complained about.")
    category: Category | None = None
    channel: Channel | None = None
    priority: Priority | None = None
    phone: Annotated[str, *text_rules(32, pattern=s.PHONE_PATTERN)] | None = Field(
        None, description="Any spelling: spaces, dashes and +86 are ignored. Not for a store key (personal data)."
    )
    number: Annotated[str, *text_rules(32)] | None = Field(
        None, description="The complaint's number, exactly.", examples=["TS-20261122-0001"]
    )
    order_number: s.Reference | None = Field(None, description="The order or receipt number, exactly.")
    external_ref: Annotated[str, *text_rules(100)] | None = Field(
        None, description="The ticket id in the calling system, exactly."
    )
    customer_ref: Annotated[str, *text_rules(100)] | None = Field(
        None, description="The customer's id in the calling CRM, exactly. Not for a store key (personal data)."
    )
    owner: Annotated[str, *text_rules(100)] | None = Field(
        None, description="Whoever follows the complaint (首问责任人), exactly."
    )
    received_from: SearchMoment | None = Field(None, description="Received at or after (with offset).")
    received_to: SearchMoment | None = Field(None, description="Received before (with offset).")
    clock: ClockFilter | None = Field(
        None, description="Only complaints with a clock running, warned (still running) or breached."
    )
    clock_kind: ClockKind | None = Field(None, description="With `clock`: only clocks of this kind.")
    limit: int = Field(50, ge=1, le=200)
    cursor: Annotated[str, *text_rules(64)] | None = None


@router.get(
    "/complaints",
    operation_id="listComplaints",
    summary="Find complaints",
    description="Newest first. Filters combine with AND. Follow `next_cursor` for the next page. A store key "
    "sees only the complaints dispatched to its store, with the complainant masked; it may search by number, "
    "order number, external reference and owner, not by phone or customer reference (403).",
    response_model=s.ComplaintPage,
    responses=errors.responses(Unauthorized, Forbidden, InvalidInput, 422, 503),
)
async def list_complaints(
    query: Annotated[ListQuery, Query()], principal: CurrentPrincipal, settings: CurrentSettings, request: Request
) -> Response:
    try:
        phone = normalize_phone(query.phone) if query.phone else None
    except ValueError as exc:
        raise InvalidInput(str(exc), field="phone") from None
    filters = service.Filters(
        state=query.state,
        store_id=query.store_id,
        category=query.category,
        channel=query.channel,
        priority=query.priority,
        phone=phone,
        number=query.number,
        order_number=query.order_number,
        external_ref=query.external_ref,
        customer_ref=query.customer_ref,
        owner=query.owner,
        received_from=query.received_from,
        received_to=query.received_to,
        clock=query.clock,
        clock_kind=query.clock_kind,
    )
    return await reading(request, _page, principal, filters, query.limit, query.cursor, settings)


def _page(
    session: Session, principal: Principal, filters: service.Filters, limit: int, cursor: str | None, settings: Settings
) -> Response:
    rows, earlier, next_cursor = service.search(session, principal, filters, limit=limit, cursor=cursor)
    return json_response(
        s.ComplaintPage(items=service.show(session, rows, principal, settings, earlier), next_cursor=next_cursor)
    )


@router.get(
    "/complaints/{complaint_id}",
    operation_id="getComplaint",
    summary="Read a complaint",
    description="The complaint with its state, version (also in `ETag`), owner, remedy, the time it entered each "
    "state, reopen count and the moves the calling key may make now.",
    response_model=s.ComplaintOut,
    responses={**WITH_ETAG, **READ_ERRORS},
)
async def read_complaint(
    complaint_id: ComplaintId, principal: CurrentPrincipal, settings: CurrentSettings, request: Request
) -> Response:
    return await reading(request, _read, complaint_id, principal, settings)


def _read(session: Session, complaint_id: uuid.UUID, principal: Principal, settings: Settings) -> Response:
    complaint, earlier = service.read(session, complaint_id, principal)
    return _shown(session, complaint, principal, settings, earlier)


@router.patch(
    "/complaints/{complaint_id}",
    operation_id="correctComplaint",
    summary="Correct intake details",
    description="Corrects what intake recorded: the complainant's contact (name, phone, e-mail, customer "
    "reference, address), the category, the store or department complained about, the product, the order number, "
    "the purchase, when the incident happened, the claim, and the priority. A JSON merge patch (RFC 7396), sent "
    "as `application/merge-patch+json` or `application/json`: a field left out stays, null clears it, an object "
    "is merged field by field.\n\n"
    "`If-Match` is required (428 without it, 412 when stale). The state, version, owner, clocks, number, channel "
    "and receipt time cannot be corrected (422 naming the field). A correction that changes something is one "
    "history entry `complaint.corrected` with each changed field before and after (the contact masked) and a "
    "webhook `complaint.corrected`; one that changes nothing answers 200 and writes nothing.\n\n"
    "Roles: intake, handler, supervisor, manager, admin. The priority: raised by a supervisor or manager, lowered "
    "by a manager, with a `reason`; the running clocks restart on the new priority's targets.",
    response_model=s.ComplaintOut,
    responses={**WITH_ETAG, **errors.responses(*WRITE_ERRORS_OF_PATCH)},
)
async def correct_complaint(
    complaint_id: ComplaintId,
    body: s.ComplaintPatch,
    actor: CurrentActor,
    settings: CurrentSettings,
    request: Request,
    if_match: Annotated[
        str,
        Header(
            alias="If-Match",
            description="The `ETag` of the complaint as last read: required (428 without it). When it has changed "
            "since, the correction is refused with 412 and the current version.",
            examples=['"3"'],
        ),
    ],
) -> Response:
    return await writing(request, _corrected, complaint_id, actor, body, settings, IfMatch.parse(if_match))


def _corrected(
    session: Session,
    complaint_id: uuid.UUID,
    actor: Actor,
    body: s.ComplaintPatch,
    settings: Settings,
    if_match: IfMatch,
) -> Response:
    return _answered(*corrections.correct(session, complaint_id, actor, body, settings, if_match))


@router.get(
    "/complaints/{complaint_id}/events",
    operation_id="listComplaintEvents",
    summary="The complaint's history",
    description="Every move, note and store feedback, oldest first: move, from and to state, actor, API key, time "
    "and what was sent. A store key reads the entries of its own store (no internal note, no other store's "
    "feedback or clocks), with the complainant's details masked in every text.",
    response_model=list[s.EventOut],
    responses=READ_ERRORS,
)
async def complaint_history(
    complaint_id: ComplaintId, principal: CurrentPrincipal, settings: CurrentSettings, request: Request
) -> Response:
    return await reading(request, _history, complaint_id, principal, settings)


def _history(session: Session, complaint_id: uuid.UUID, principal: Principal, settings: Settings) -> Response:
    return json_response(service.history(session, complaint_id, principal, settings))


@router.post(
    "/complaints/{complaint_id}/notes",
    operation_id="addComplaintNote",
    status_code=status.HTTP_201_CREATED,
    summary="Add an internal note",
    description="A note for colleagues; it changes no state and is kept in the history. Internal unless "
    "`visible_to_unit` is true: then the store the complaint is dispatched to reads it too.",
    response_model=s.EventOut,
    responses=errors.responses(Unauthorized, Forbidden, NotFound, PreconditionFailed, 413, 422, 503),
)
async def add_note(
    complaint_id: ComplaintId,
    body: s.NoteBody,
    actor: CurrentActor,
    settings: CurrentSettings,
    request: Request,
    if_match: IfMatchHeader = None,
) -> Response:
    return await writing(request, _noted, complaint_id, actor, body, settings, _precondition(if_match))


def _noted(
    session: Session,
    complaint_id: uuid.UUID,
    actor: Actor,
    body: s.NoteBody,
    settings: Settings,
    if_match: IfMatch | None,
) -> Response:
    entry = service.add_note(session, complaint_id, actor, body, if_match)
    return json_response(s.EventOut.build(entry, settings.tz), status.HTTP_201_CREATED)


def _empty_is_valid(body_model: type[BaseModel]) -> bool:
    """Whether the move needs no body at all (every field optional, and no rule that wants one of them)."""
    try:
        body_model.model_validate({})
    except ValidationError:
        return False
    return True


def _moved(
    session: Session,
    complaint_id: uuid.UUID,
    name: str,
    actor: Actor,
    body: BaseModel | None,
    settings: Settings,
    if_match: IfMatch | None,
) -> Response:
    return _answered(*service.move_and_show(session, complaint_id, name, actor, body, settings, if_match))


def _move_endpoint(name: str, body_model: type[BaseModel]) -> Callable[..., Coroutine[Any, Any, Response]]:
    async def apply(
        request: Request,
        complaint_id: uuid.UUID,
        actor: Actor,
        settings: Settings,
        body: BaseModel | None,
        if_match: str | None,
    ) -> Response:
        return await writing(request, _moved, complaint_id, name, actor, body, settings, _precondition(if_match))

    # FastAPI reads each endpoint's body model from its annotation; the model is a variable here, which a static
    # checker cannot take as a type (valid-type), and the two definitions differ only in the body's default (misc).
    # An optional body is the model, not "the model or null", with a default of None: the document
    # then says "optional body: the model", which generated clients call with no argument at all.
    if _empty_is_valid(body_model):

        async def endpoint(
            complaint_id: ComplaintId,
            actor: CurrentActor,
            settings: CurrentSettings,
            request: Request,
            body: Annotated[body_model, Body()] = None,  # type: ignore[valid-type]
            if_match: IfMatchHeader = None,
        ) -> Response:
            return await apply(request, complaint_id, actor, settings, body, if_match)

    else:

        async def endpoint(  # type: ignore[misc]
            complaint_id: ComplaintId,
            actor: CurrentActor,
            settings: CurrentSettings,
            request: Request,
            body: Annotated[body_model, Body()],  # type: ignore[valid-type]
            if_match: IfMatchHeader = None,
        ) -> Response:
            return await apply(request, complaint_id, actor, settings, body, if_match)

    endpoint.__name__ = name.replace("-", "_")
    return endpoint


# The moves, and the workflow that describes them, are a group of their own in the OpenAPI document.
moves_router = APIRouter(prefix="/v1", tags=["moves"])


def operation_id(move: workflow.Move) -> str:
    """``store-feedback`` is ``storeFeedbackComplaint``: the move's name in camelCase, then ``Complaint``."""
    first, *rest = move.name.split("-")
    return first + "".join(word.capitalize() for word in rest) + "Complaint"


for _move in workflow.MOVES:
    moves_router.post(
        f"/complaints/{{complaint_id}}/{_move.name}",
        operation_id=operation_id(_move),
        summary=_move.summary,
        description=f"{_move.description}\n\nFrom: {', '.join(_move.sources)}. To: {_move.dest or 'unchanged'}. "
        f"Roles: {', '.join(sorted(_move.roles))}.",
        response_model=s.ComplaintOut,
        responses={**WITH_ETAG, **WRITE_ERRORS},
    )(_move_endpoint(_move.name, _move.body))


@moves_router.get(
    "/workflow",
    operation_id="getWorkflow",
    summary="The complaint lifecycle",
    description="States, moves with their guards in words, and the state diagram in Mermaid.",
    responses=errors.responses(Unauthorized),
)
def read_workflow(_principal: CurrentPrincipal) -> s.WorkflowOut:
    moves = [
        s.MoveOut(
            name=m.name,
            label=m.label,
            path=f"/v1/complaints/{{id}}/{m.name}",
            sources=list(m.sources),
            dest=m.dest,
            roles=sorted(m.roles),
            requires=m.requires,
            guards=[s.GuardOut(name=g.name, words=g.words) for g in m.guards],
        )
        for m in workflow.MOVES
    ]
    return s.WorkflowOut(
        states=[s.StateOut(name=state, label=workflow.STATE_LABELS[state]) for state in State],
        initial=State.accepted,
        moves=moves,
        mermaid=workflow.mermaid(),
    )


# A complaint's clocks are read under the complaint; the OpenAPI document lists them with the calendar's routes.
clocks_router = APIRouter(prefix="/v1", tags=["clocks"])


@clocks_router.get(
    "/complaints/{complaint_id}/clocks",
    operation_id="listComplaintClocks",
    summary="Explain the complaint's clocks",
    description="Every clock of the complaint (store feedback, written reply, follow-up, one entry per run), "
    "with its deadline explained: the rule, and for working-day clocks each day from the start to the due "
    "day, counted or skipped and why (weekend, the holiday's name, an adjusted working day, an override); and "
    "what happened to it (started, warned, breached, met, recomputed). A store key sees no other store's "
    "feedback clock.",
    response_model=list[ClockExplained],
    responses=errors.responses(Unauthorized, NotFound, 422, 503),
)
async def explain_clocks(
    complaint_id: uuid.UUID, principal: CurrentPrincipal, settings: CurrentSettings, request: Request
) -> Response:
    return await reading(request, _clocks, complaint_id, principal, settings)


def _clocks(session: Session, complaint_id: uuid.UUID, principal: Principal, settings: Settings) -> Response:
    return json_response(service.explain_clocks(session, complaint_id, principal, settings))
