"""Webhook endpoints and their delivery log: subscribe, change, rotate the secret, redeliver, ping.

No HTTP here (the dispatcher sends); the caller's transaction is only flushed.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta, tzinfo

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.auth.principal import Actor
from app.complaints import service as complaints
from app.config import Settings
from app.db import utcnow
from app.errors import Conflict, InvalidInput, NotFound
from app.webhooks import events, outbox, signing, urls
from app.webhooks.models import DeliveryStatus, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from app.webhooks.schemas import PING, EndpointCreate, EndpointUpdate, EventType, PingData, PingMessage


def _checked_url(url: str, settings: Settings) -> str:
    try:
        return urls.check_url(url, allow_private=settings.webhook_allow_private)
    except urls.UnsafeTarget as exc:
        raise InvalidInput(str(exc), field="url") from None


def _event_types(types: list[EventType] | None) -> list[str] | None:
    """None for every type; otherwise each type once, in the order given."""
    return list(dict.fromkeys(str(t) for t in types)) if types else None


def create_endpoint(
    session: Session, body: EndpointCreate, actor: Actor, settings: Settings
) -> tuple[WebhookEndpoint, str]:
    """A new endpoint and its secret, which is shown only now."""
    now = utcnow()
    secret = signing.new_secret()
    endpoint = WebhookEndpoint(
        url=_checked_url(body.url, settings),
        description=body.description,
        event_types=_event_types(body.event_types),
        store_id=body.store_id,
        department=body.department,
        enabled=body.enabled,
        disabled_reason=None if body.enabled else f"disabled by {actor.name}",
        disabled_at=None if body.enabled else now,
        secret=secret,
        created_at=now,
        created_by=actor.name,
        updated_at=now,
    )
    session.add(endpoint)
    session.flush()
    return endpoint, secret


def list_endpoints(session: Session) -> list[WebhookEndpoint]:
    query = select(WebhookEndpoint).where(WebhookEndpoint.deleted_at.is_(None)).order_by(WebhookEndpoint.id)
    return list(session.scalars(query))


def get_endpoint(session: Session, endpoint_id: uuid.UUID, *, for_update: bool = False) -> WebhookEndpoint:
    query = select(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id, WebhookEndpoint.deleted_at.is_(None))
    endpoint = session.scalar(query.with_for_update() if for_update else query)
    if endpoint is None:
        raise NotFound(f"no webhook endpoint {endpoint_id}")
    return endpoint


def update_endpoint(
    session: Session, endpoint_id: uuid.UUID, body: EndpointUpdate, actor: Actor, settings: Settings
) -> WebhookEndpoint:
    endpoint = get_endpoint(session, endpoint_id, for_update=True)
    sent = body.model_fields_set
    now = utcnow()
    target = endpoint.url, endpoint.store_id, endpoint.department
    if "url" in sent:
        endpoint.url = _checked_url(body.url, settings)
    if "description" in sent:
        endpoint.description = body.description
    if "event_types" in sent:
        endpoint.event_types = _event_types(body.event_types)
    if "store_id" in sent:
        endpoint.store_id = body.store_id
    if "department" in sent:
        endpoint.department = body.department
    if endpoint.store_id is not None and endpoint.department is not None:
        raise InvalidInput("an endpoint is bound to one store or one department, not both", field="department")
    if (endpoint.url, endpoint.store_id, endpoint.department) != target:
        # Another target: what was built for the old one is rebuilt for this one before it is sent (dispatcher).
        endpoint.generation += 1
    if "enabled" in sent and body.enabled != endpoint.enabled:
        endpoint.enabled = body.enabled
        endpoint.disabled_reason = None if body.enabled else f"disabled by {actor.name}"
        endpoint.disabled_at = None if body.enabled else now
        endpoint.failing_since = None
    endpoint.updated_at = now
    session.flush()
    return endpoint


def delete_endpoint(session: Session, endpoint_id: uuid.UUID, actor: Actor) -> WebhookEndpoint:
    """Stops every delivery to it; its delivery log stays in the database (not served any more)."""
    endpoint = get_endpoint(session, endpoint_id, for_update=True)
    now = utcnow()
    endpoint.deleted_at = endpoint.updated_at = now
    if endpoint.enabled:
        endpoint.enabled, endpoint.disabled_reason, endpoint.disabled_at = False, f"deleted by {actor.name}", now
    # Its pending deliveries would otherwise stay among those due for ever, looked at by every claim.
    session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.endpoint_id == endpoint.id, WebhookDelivery.next_attempt_at.is_not(None))
        .values(status=DeliveryStatus.failed, failed_at=now, next_attempt_at=None, claimed_until=None)
        .execution_options(synchronize_session=False)
    )
    session.flush()
    return endpoint


def rotate_secret(session: Session, endpoint_id: uuid.UUID) -> tuple[WebhookEndpoint, str]:
    """A new secret; the previous one keeps signing (a second signature) for 24 hours."""
    endpoint = get_endpoint(session, endpoint_id, for_update=True)
    now = utcnow()
    secret = signing.new_secret()
    endpoint.previous_secret, endpoint.secret = endpoint.secret, secret
    endpoint.previous_secret_expires_at = now + timedelta(hours=signing.ROTATION_GRACE_HOURS)
    endpoint.updated_at = now
    session.flush()
    return endpoint, secret


@dataclass(frozen=True)
class LoggedDelivery:
    delivery: WebhookDelivery
    attempts: list[WebhookAttempt]


def deliveries(
    session: Session,
    endpoint_id: uuid.UUID,
    *,
    status: DeliveryStatus | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[LoggedDelivery], str | None]:
    """The endpoint's deliveries, newest first, each with its attempts."""
    endpoint = get_endpoint(session, endpoint_id)
    query = select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint.id)
    if status is not None:
        query = query.where(WebhookDelivery.status == status)
    if cursor is not None:
        query = query.where(WebhookDelivery.id < complaints.decode_cursor(cursor))
    rows = list(session.scalars(query.order_by(WebhookDelivery.id.desc()).limit(limit + 1)))
    next_cursor = complaints.encode_cursor(rows[limit - 1].id) if len(rows) > limit else None
    rows = rows[:limit]
    attempts: dict[uuid.UUID, list[WebhookAttempt]] = {row.id: [] for row in rows}
    if rows:
        tried = select(WebhookAttempt).where(WebhookAttempt.delivery_id.in_(attempts)).order_by(WebhookAttempt.id)
        for attempt in session.scalars(tried):
            attempts[attempt.delivery_id].append(attempt)
    return [LoggedDelivery(row, attempts[row.id]) for row in rows], next_cursor


def logged(session: Session, delivery: WebhookDelivery) -> LoggedDelivery:
    query = select(WebhookAttempt).where(WebhookAttempt.delivery_id == delivery.id).order_by(WebhookAttempt.id)
    return LoggedDelivery(delivery, list(session.scalars(query)))


def redeliver(session: Session, delivery_id: uuid.UUID, settings: Settings) -> WebhookDelivery:
    """Send a delivery again, now, with the same webhook-id; its retry schedule starts over. The body is the same,
    unless the endpoint's URL or binding changed since: then it is built again for the endpoint as it is now."""
    delivery = session.scalar(select(WebhookDelivery).where(WebhookDelivery.id == delivery_id).with_for_update())
    if delivery is None:
        raise NotFound(f"no webhook delivery {delivery_id}")
    endpoint = get_endpoint(session, delivery.endpoint_id)
    now = utcnow()
    if not endpoint.enabled:
        raise Conflict("the endpoint is disabled: enable it first (PATCH enabled: true)")
    if delivery.claimed_until is not None and delivery.claimed_until > now:
        raise Conflict("this delivery is being sent right now")
    if delivery.generation != endpoint.generation and not outbox.rebuild(session, delivery, endpoint, settings):
        raise Conflict("the endpoint's URL or binding changed since, and it does not get this event any more")
    delivery.status, delivery.attempt_count, delivery.next_attempt_at = DeliveryStatus.pending, 0, now
    delivery.claimed_until = delivery.delivered_at = delivery.failed_at = None
    session.flush()
    return delivery


def ping(session: Session, endpoint_id: uuid.UUID, tz: tzinfo) -> WebhookDelivery:
    """Queue a ``ping`` to the endpoint; the dispatcher sends it like any other delivery, its time in local time."""
    endpoint = get_endpoint(session, endpoint_id)
    if not endpoint.enabled:
        raise Conflict("the endpoint is disabled: enable it first (PATCH enabled: true)")
    now = utcnow()
    message = PingMessage(
        type=PING, timestamp=now.astimezone(tz), data=PingData(endpoint_id=endpoint.id, message="tousu 测试消息 (ping)")
    )
    delivery = WebhookDelivery(
        endpoint_id=endpoint.id,
        event_type=PING,
        payload=events.dumps(message),
        status=DeliveryStatus.pending,
        attempt_count=0,
        next_attempt_at=now,
        created_at=now,
    )
    session.add(delivery)
    session.flush()
    return delivery
