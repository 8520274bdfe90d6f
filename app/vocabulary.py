"""Words more than one domain speaks: a complaint's priority and the kinds of its clocks.

Both ``app.complaints`` and ``app.sla`` import from here; neither needs the other for these.
"""

from __future__ import annotations

import enum


class Priority(enum.StrEnum):
    normal = "normal"
    urgent = "urgent"
    media = "media"


class ClockKind(enum.StrEnum):
    store_feedback = "store_feedback"  # dispatch to a store → that store's feedback
    written_reply = "written_reply"  # receipt (or reopen) → rejection or resolution
    follow_up = "follow_up"  # resolution → the follow-up call
    fulfilment = "fulfilment"  # resolution with a remedy of some value → the remedy carried out
