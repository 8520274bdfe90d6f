"""Every ORM model, imported once so the metadata knows all tables (alembic, relationships)."""

from app.actions.models import CorrectiveAction
from app.attachments.models import Attachment
from app.auth.models import ApiKey, ApiKeyChanges
from app.complaints.models import Complaint, ComplaintEvent, ComplaintLink, DailyCounter
from app.idempotency import IdempotencyRecord
from app.progress.models import ProgressLink
from app.retention.models import DataSubjectRequest
from app.sla.models import CalendarChanges, CalendarDay, CalendarYear, Clock, ClockEvent
from app.units import Department, EscalationContact, Store
from app.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint

__all__ = [
    "ApiKey",
    "ApiKeyChanges",
    "Attachment",
    "CalendarChanges",
    "CalendarDay",
    "CalendarYear",
    "Clock",
    "ClockEvent",
    "Complaint",
    "ComplaintEvent",
    "ComplaintLink",
    "CorrectiveAction",
    "DailyCounter",
    "DataSubjectRequest",
    "Department",
    "EscalationContact",
    "IdempotencyRecord",
    "ProgressLink",
    "Store",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEndpoint",
]
