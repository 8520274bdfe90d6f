"""Local moments for the clock tests: a frozen clock in Asia/Shanghai, and times read back from responses."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from zoneinfo import ZoneInfo

import time_machine

TZ = ZoneInfo("Asia/Shanghai")
STORE = "SZ-FT-012"
FEEDBACK = {"cause": "店员未按退货流程操作", "responsible_person": "李四", "responsibility": "staff_fault"}


def local(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=TZ)  # type: ignore[misc]


@contextmanager
def frozen(*parts: int) -> Iterator[datetime]:
    """The clock stands still at this local moment."""
    moment = local(*parts)
    with time_machine.travel(moment, tick=False):
        yield moment


def instant(text: str) -> datetime:
    """A time from a response: it must carry its offset."""
    moment = datetime.fromisoformat(text)
    assert moment.utcoffset() is not None, text
    return moment
