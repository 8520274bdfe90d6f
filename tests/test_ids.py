"""Ids are time-ordered UUIDv7s that keep increasing within a millisecond (the listing's order relies on it)."""

from datetime import UTC, datetime

import time_machine

from app.db import uuid7


def test_ids_increase_within_one_millisecond() -> None:
    with time_machine.travel(datetime(2026, 11, 23, 9, 0, tzinfo=UTC), tick=False):
        ids = [uuid7() for _ in range(5000)]  # more than the 12-bit counter holds: it spills into the next ms
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    assert {i.version for i in ids} == {7}
    assert {i.variant for i in ids} == {"specified in RFC 4122"}


def test_ids_carry_the_time() -> None:
    moment = datetime(2031, 1, 1, tzinfo=UTC)
    with time_machine.travel(moment, tick=False):
        made = uuid7()
    assert made.int >> 80 >= int(moment.timestamp() * 1000)
