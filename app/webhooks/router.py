"""HTTP for webhook endpoints and their delivery log (admin only)."""

from __future__ import annotations

import json
import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, status
from pydantic import BaseModel, ConfigDict, Field

from app import errors
from app.auth.dependencies import CurrentActor, require_role
from app.auth.models import Role
from app.config import Settings
from app.dependencies import CurrentSettings, ReadSession, WriteSession
from app.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthorized
from app.types import in_local_time, text_rules
from app.webhooks import service
from app.webhooks.models import DeliveryStatus, WebhookEndpoint
from app.webhooks.schemas import (
    AttemptOut,
    DeliveryOut,
    DeliveryPage,
    EndpointCreate,
    EndpointOut,
    EndpointUpdate,
    EndpointWithSecret,
)

router = APIRouter(prefix="/v1", tags=["webhooks"], dependencies=[Depends(require_role(Role.admin))])

EndpointId = Annotated[uuid.UUID, Field(description="The webhook endpoint's id.")]
READ_ERRORS = errors.responses(Unauthorized, Forbidden, NotFound, 422, 503)
WRITE_ERRORS = errors.responses(Unauthorized, Forbidden, NotFound, 413, InvalidInput, 503)


def _out(endpoint: WebhookEndpoint, settings: Settings) -> EndpointOut:
    return in_local_time(EndpointOut.model_validate(endpoint, from_attributes=True), settings.tz)


def _with_secret(endpoint: WebhookEndpoint, secret: str, settings: Settings) -> EndpointWithSecret:
    return EndpointWithSecret(**_out(endpoint, settings).model_dump(), secret=secret)


def _delivery(logged: service.LoggedDelivery, settings: Settings) -> DeliveryOut:
    d = logged.delivery
    shown = DeliveryOut(
        id=d.id,
        message_id=d.message_id,
        endpoint_id=d.endpoint_id,
        event_type=d.event_type,
        complaint_id=d.complaint_id,
        event_id=d.event_id,
        status=d.status,
        attempt_count=d.attempt_count,
        next_attempt_at=d.next_attempt_at,
        created_at=d.created_at,
        delivered_at=d.delivered_at,
        failed_at=d.failed_at,
        payload=json.loads(d.payload),
        attempts=[AttemptOut.model_validate(a, from_attributes=True) for a in logged.attempts],
    )
    return in_local_time(shown, settings.tz)


@router.post(
    "/webhook-endpoints",
    operation_id="createWebhookEndpoint",
    status_code=status.HTTP_201_CREATED,
    summary="Subscribe a webhook endpoint",
    description="The URL must be https on a public address (checked now and again at every delivery). The "
    "answer carries the signing secret, the only time it is shown. A store- or department-bound endpoint "
    "receives only the complaints dispatched to that unit, with the complainant masked.",
    responses=errors.responses(Unauthorized, Forbidden, 413, InvalidInput, 503),
)
def create_endpoint(
    body: EndpointCreate, actor: CurrentActor, session: WriteSession, settings: CurrentSettings
) -> EndpointWithSecret:
    endpoint, secret = service.create_endpoint(session, body, actor, settings)
    return _with_secret(endpoint, secret, settings)


@router.get(
    "/webhook-endpoints",
    operation_id="listWebhookEndpoints",
    summary="List webhook endpoints",
    description="Every endpoint, without its secret; a disabled one says why.",
    responses=errors.responses(Unauthorized, Forbidden, 422, 503),
)
def list_endpoints(session: ReadSession, settings: CurrentSettings) -> list[EndpointOut]:
    return [_out(endpoint, settings) for endpoint in service.list_endpoints(session)]


@router.get(
    "/webhook-endpoints/{endpoint_id}",
    operation_id="getWebhookEndpoint",
    summary="Read a webhook endpoint",
    description="The endpoint without its secret; a disabled one says why and since when.",
    responses=READ_ERRORS,
)
def read_endpoint(endpoint_id: EndpointId, session: ReadSession, settings: CurrentSettings) -> EndpointOut:
    return _out(service.get_endpoint(session, endpoint_id), settings)


@router.patch(
    "/webhook-endpoints/{endpoint_id}",
    operation_id="updateWebhookEndpoint",
    summary="Change a webhook endpoint",
    description="Only the fields sent change. `enabled: true` re-enables an endpoint tousu disabled; its "
    "pending deliveries then resume.",
    responses=WRITE_ERRORS,
)
def update_endpoint(
    endpoint_id: EndpointId, body: EndpointUpdate, actor: CurrentActor, session: WriteSession, settings: CurrentSettings
) -> EndpointOut:
    return _out(service.update_endpoint(session, endpoint_id, body, actor, settings), settings)


@router.delete(
    "/webhook-endpoints/{endpoint_id}",
    operation_id="deleteWebhookEndpoint",
    summary="Delete a webhook endpoint",
    description="Nothing more is sent to it: its pending deliveries are marked failed.",
    responses=READ_ERRORS,
)
def delete_endpoint(
    endpoint_id: EndpointId, actor: CurrentActor, session: WriteSession, settings: CurrentSettings
) -> EndpointOut:
    return _out(service.delete_endpoint(session, endpoint_id, actor), settings)


@router.post(
    "/webhook-endpoints/{endpoint_id}/rotate-secret",
    operation_id="rotateWebhookSecret",
    summary="Rotate the signing secret",
    description="A new secret, shown in this answer only. For 24 hours every delivery carries two signatures, "
    "one with each secret, so receivers can switch without losing a delivery.",
    responses=READ_ERRORS,
)
def rotate_secret(
    endpoint_id: EndpointId, _actor: CurrentActor, session: WriteSession, settings: CurrentSettings
) -> EndpointWithSecret:
    endpoint, secret = service.rotate_secret(session, endpoint_id)
    return _with_secret(endpoint, secret, settings)


class DeliveryQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: DeliveryStatus | None = None
    limit: int = Field(50, ge=1, le=200)
    cursor: Annotated[str, *text_rules(64)] | None = None


@router.get(
    "/webhook-endpoints/{endpoint_id}/deliveries",
    operation_id="listWebhookDeliveries",
    summary="The endpoint's delivery log",
    description="Deliveries newest first, each with its attempts: time, status code, latency and the first 2 KB "
    "of the answer, or the error.",
    responses=errors.responses(Unauthorized, Forbidden, NotFound, InvalidInput, 422, 503),
)
def list_deliveries(
    endpoint_id: EndpointId, query: Annotated[DeliveryQuery, Query()], session: ReadSession, settings: CurrentSettings
) -> DeliveryPage:
    rows, next_cursor = service.deliveries(
        session, endpoint_id, status=query.status, limit=query.limit, cursor=query.cursor
    )
    return DeliveryPage(items=[_delivery(row, settings) for row in rows], next_cursor=next_cursor)


@router.post(
    "/webhook-deliveries/{delivery_id}/redeliver",
    operation_id="redeliverWebhook",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Send a delivery again",
    description="The same body and `webhook-id` are sent again as soon as the dispatcher gets to it; its retry "
    "schedule starts over. If the endpoint's URL or binding changed since the delivery was made, the body is "
    "built again for the endpoint as it is now (masked for its unit), and an event the endpoint no longer gets is 409.",
    responses=errors.responses(Unauthorized, Forbidden, NotFound, Conflict, 422, 503),
)
def redeliver(
    delivery_id: uuid.UUID, _actor: CurrentActor, session: WriteSession, settings: CurrentSettings
) -> DeliveryOut:
    delivery = service.redeliver(session, delivery_id, settings)
    return _delivery(service.logged(session, delivery), settings)


@router.post(
    "/webhook-endpoints/{endpoint_id}/test",
    operation_id="pingWebhookEndpoint",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Send a ping",
    description="Queues a `ping` event to the endpoint, signed like every delivery; its outcome shows in the "
    "delivery log.",
    responses=errors.responses(Unauthorized, Forbidden, NotFound, Conflict, 422, 503),
)
def ping_endpoint(
    endpoint_id: EndpointId, _actor: CurrentActor, session: WriteSession, settings: CurrentSettings
) -> DeliveryOut:
    return _delivery(service.LoggedDelivery(service.ping(session, endpoint_id, settings.tz), []), settings)
