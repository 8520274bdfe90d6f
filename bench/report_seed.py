"""A year of complaints for the summary benchmark (bench/report.py): rows made in Python, loaded with COPY.

1,000,000 complaints received evenly over the 365 local days before END (about 83,000 a month), against 500
stores (one in ten against a department instead), from 600,000 phones (so customers repeat), in every state a
year of handling leaves: most revisited, some rejected, some reopened, the last fortnight's still open. Each gets
its clock runs as the service would have left them: the written reply (again after a reopen), the store's
feedback when dispatched to a store, the follow-up after resolution; met, breached, cancelled or running.
The generator is seeded: every run makes the same rows.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

TZ = ZoneInfo("Asia/Shanghai")
END = datetime(2026, 11, 23, tzinfo=TZ)  # the first instant after the seeded year
DAYS = 365
STORES = [f"{city}-{n:03d}" for city in ("SZ-FT", "SZ-LH", "SZ-NS", "GZ-TH", "SH-PD") for n in range(1, 101)]
DEPARTMENTS = ["物业工程部", "客户服务部", "财务部", "物流配送部", "售后服务部"]
PHONES = 600_000
CATEGORIES = ["service_attitude"] * 3 + ["service_quality"] * 2 + ["product_quality"] * 3 + [
    "billing", "facilities", "delivery", "delivery", "incident", "other"]  # fmt: skip
CHANNELS = ["phone"] * 6 + ["web"] * 2 + ["sms", "email", "in_person", "letter", "media"]
REMEDIES = [("apology", 0)] * 4 + [("refund", 1), ("exchange", 0), ("price_reduction", 1), ("free_repair", 0),
    ("compensation", 1), ("other", 0)]  # fmt: skip

COMPLAINT_COLUMNS = (
    "id", "number", "state", "version", "complainant_name", "complainant_phone", "channel", "category", "priority",
    "store_id", "department", "description", "received_at", "owner", "responsible_store_id",
    "responsible_department", "dispatched_at", "remedy_kind", "remedy_amount", "satisfaction", "reopen_count",
    "accepted_at", "rejected_at", "resolved_at", "revisited_at", "reopened_at", "updated_at", "rejection_reason",
)  # fmt: skip
CLOCK_COLUMNS = (
    "id", "complaint_id", "kind", "unit", "target", "warn_after", "store_id", "started_at", "warn_at", "due_at",
    "calendar_assumed", "state", "breached_at", "stopped_at",
)  # fmt: skip
HOUR = timedelta(hours=1)


def _id(at: datetime, rng: random.Random) -> uuid.UUID:
    ms = int(at.timestamp() * 1000)
    return uuid.UUID(int=ms << 80 | 0x7 << 76 | rng.getrandbits(12) << 64 | 0x2 << 62 | rng.getrandbits(62))


def rows(count: int, seed: int = 6) -> Iterator[tuple[tuple, list[tuple]]]:
    """(complaint, its clocks) for ``count`` complaints, in the order of COMPLAINT_COLUMNS and CLOCK_COLUMNS."""
    rng = random.Random(seed)
    start = END - timedelta(days=DAYS)
    span = (END - start).total_seconds()
    per_day: dict[str, int] = {}
    for n in range(count):
        received = (start + timedelta(seconds=span * n / count)).astimezone(UTC)
        yield _complaint(n, received, rng, per_day)


def _complaint(n: int, received: datetime, rng: random.Random, per_day: dict[str, int]) -> tuple[tuple, list[tuple]]:
    day = received.astimezone(TZ).strftime("%Y%m%d")
    per_day[day] = per_day.get(day, 0) + 1
    cid = _id(received, rng)
    to_store = rng.random() >= 0.1
    store = rng.choice(STORES) if to_store else None
    department = None if to_store else rng.choice(DEPARTMENTS)
    age_days = (END - received).total_seconds() / 86400
    fate = rng.random()
    accepted = received + timedelta(minutes=rng.randint(1, 30))
    dispatched = accepted + HOUR if to_store else None
    state, reply = "revisited", accepted + timedelta(hours=rng.lognormvariate(3.5, 0.8))
    if fate < 0.1:
        state, dispatched = "rejected", None
    elif (age_days < 14 and fate < 0.5) or fate < 0.13:
        state, reply = "investigating", None
    elif fate < 0.16:
        state = "resolved"
    reopened = state == "revisited" and rng.random() < 0.05
    clocks = [_clock(cid, "written_reply", received, received + timedelta(days=7), reply, rng)]
    if dispatched is not None:
        fed_back = dispatched + timedelta(hours=rng.lognormvariate(3.0, 0.9))
        ended = fed_back if reply is None or fed_back < reply else reply
        clocks.append(_clock(cid, "store_feedback", dispatched, dispatched + timedelta(days=2), ended, rng,
                             store=store, cancelled=ended is reply))  # fmt: skip
    resolved = reply if state in ("resolved", "revisited") else None
    revisited = resolved + timedelta(hours=rng.randint(2, 60)) if state == "revisited" else None
    if resolved is not None:
        clocks.append(_clock(cid, "follow_up", resolved, resolved + timedelta(days=2), revisited, rng))
    satisfaction = None
    if revisited is not None:
        satisfaction = "satisfied" if rng.random() < 0.7 else "neutral"
    reopened_at = None
    if reopened:
        reopened_at = (revisited or reply) + timedelta(days=1)
        second_reply = reopened_at + timedelta(hours=rng.lognormvariate(3.5, 0.8))
        clocks.append(_clock(cid, "written_reply", reopened_at, reopened_at + timedelta(days=7), second_reply, rng))
    kind, paid = rng.choice(REMEDIES) if resolved is not None else (None, 0)
    amount = f"{rng.randint(20, 500_000) / 100:.2f}" if kind and paid else None
    complaint = (
        cid, f"TS-{day}-{per_day[day]:04d}", state, 3, "张三", f"1{38 + n % 2}{rng.randrange(PHONES):08d}",
        rng.choice(CHANNELS), rng.choice(CATEGORIES), "normal", store, department, "店员态度恶劣，拒绝为我办理退货。",
        received, "agent-0042", store, department, dispatched, kind, amount, satisfaction, int(reopened), accepted,
        reply if state == "rejected" else None, resolved, revisited, reopened_at, revisited or reply or accepted,
        "misunderstanding" if state == "rejected" else None,
    )  # fmt: skip
    return complaint, clocks


def _clock(
    complaint_id: uuid.UUID,
    kind: str,
    started: datetime,
    due: datetime,
    stopped: datetime | None,
    rng: random.Random,
    *,
    store: str | None = None,
    cancelled: bool = False,
) -> tuple:
    if stopped is None:
        state = "breached" if due < END else "running"
    elif cancelled:
        state = "cancelled"
    else:
        state = "met" if stopped <= due else "breached"
    breached_at = due if state == "breached" else None
    warn_at = started + (due - started) / 2
    unit = "days" if kind == "written_reply" else "working_days"
    return (_id(started, rng), complaint_id, kind, unit, 7 if unit == "days" else 2, 5 if unit == "days" else 1,
            store, started, warn_at, due, False, state, breached_at, stopped)  # fmt: skip
