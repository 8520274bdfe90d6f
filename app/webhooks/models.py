"""Webhook endpoints, the deliveries fanned out to them, and every attempt to deliver one."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime, str_enum, utcnow, uuid7


class DeliveryStatus(enum.StrEnum):
    pending = "pending"  # due at next_attempt_at (or in flight while claimed_until is ahead)
    delivered = "delivered"
    failed = "failed"  # the last attempt of the schedule failed, or the endpoint answered 410


class WebhookEndpoint(Base):
    """A subscriber: a URL, the event types it wants, optionally bound to one store or one department, and its
    signing secret."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    url: Mapped[str] = mapped_column(String(2000))
    description: Mapped[str | None] = mapped_column(String(200))
    event_types: Mapped[list[str] | None] = mapped_column(JSON)  # NULL: every type
    store_id: Mapped[str | None] = mapped_column(String(64))
    department: Mapped[str | None] = mapped_column(String(100))
    enabled: Mapped[bool] = mapped_column(Boolean)
    disabled_reason: Mapped[str | None] = mapped_column(String(200))
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Kept in clear: signing needs the secret itself (Standard Webhooks is HMAC, not a public-key scheme).
    secret: Mapped[str] = mapped_column(String(100))
    previous_secret: Mapped[str | None] = mapped_column(String(100))
    previous_secret_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The first failed attempt since the last success: an endpoint failing for long enough is disabled.
    failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(100))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Rises when the URL or the store binding changes: a delivery built for an earlier generation is rebuilt for
    # the endpoint as it is now before it is sent (app/webhooks/outbox.py).
    generation: Mapped[int] = mapped_column(Integer, default=1, server_default=text("1"))


class WebhookDelivery(Base):
    """One event (or ping) for one endpoint: the exact body sent on every attempt, and where it stands."""

    __tablename__ = "webhook_deliveries"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    endpoint_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("webhook_endpoints.id"))
    complaint_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("complaints.id"))
    event_id: Mapped[int | None] = mapped_column(ForeignKey("complaint_events.id"))
    event_type: Mapped[str] = mapped_column(String(64))
    payload: Mapped[str] = mapped_column(Text)
    status: Mapped[DeliveryStatus] = mapped_column(str_enum(DeliveryStatus))
    attempt_count: Mapped[int] = mapped_column(Integer, default=0)  # attempts since created or redelivered
    # Set while pending, NULL once delivered or failed: the partial indexes hold only the deliveries still to do.
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)  # the lease of the dispatcher sending it
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    generation: Mapped[int] = mapped_column(Integer, default=1, server_default=text("1"))  # the endpoint's, as built

    __table_args__ = (
        Index("ix_webhook_deliveries_endpoint_id_id", "endpoint_id", "id"),
        Index(
            "ix_webhook_deliveries_next_attempt_at",
            "next_attempt_at",
            postgresql_where=text("next_attempt_at IS NOT NULL"),
            sqlite_where=text("next_attempt_at IS NOT NULL"),
        ),
        Index(
            "ix_webhook_deliveries_pending_order",
            "endpoint_id",
            "complaint_id",
            "event_id",
            postgresql_where=text("next_attempt_at IS NOT NULL"),
            sqlite_where=text("next_attempt_at IS NOT NULL"),
        ),
    )

    @property
    def message_id(self) -> str:
        """The ``webhook-id`` header: the same on every attempt, so that receivers deduplicate on it."""
        return f"msg_{self.id.hex}"


class WebhookAttempt(Base):
    """One HTTP attempt at a delivery: when, the answer (first 2 KB) or the error, how long it took."""

    __tablename__ = "webhook_attempts"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    delivery_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("webhook_deliveries.id"))
    attempted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status_code: Mapped[int | None] = mapped_column(Integer)
    latency_ms: Mapped[int] = mapped_column(Integer)
    response_body: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(String(500))

    __table_args__ = (Index("ix_webhook_attempts_delivery_id_id", "delivery_id", "id"),)
