"""Standard Webhooks signing: the secrets (``whsec_`` + base64 of 32 random bytes) and the three headers."""

from __future__ import annotations

import base64
import secrets
from datetime import UTC, datetime
from math import floor

from standardwebhooks import Webhook

SECRET_PREFIX = "whsec_"
ROTATION_GRACE_HOURS = 24


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def headers(message_id: str, at: datetime, body: str, signing_secrets: list[str]) -> dict[str, str]:
    """``webhook-id``, ``webhook-timestamp`` and ``webhook-signature``: one ``v1,...`` per secret still valid
    (the current one, and the previous one for a day after a rotation), space-separated."""
    at = at.astimezone(UTC)
    signatures = " ".join(Webhook(secret).sign(message_id, at, body) for secret in signing_secrets)
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(floor(at.timestamp())),
        "webhook-signature": signatures,
    }
