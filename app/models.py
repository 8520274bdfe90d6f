"""Every ORM model, imported once so the metadata knows all tables (alembic, relationships)."""

from app.auth.models import ApiKey
from app.complaints.models import Complaint, ComplaintEvent, DailyCounter
from app.idempotency import IdempotencyRecord

__all__ = ["ApiKey", "Complaint", "ComplaintEvent", "DailyCounter", "IdempotencyRecord"]
