"""What a move does to a kind of clock, as data: each move declares one effect per ``ClockKind`` (the move table in
``app.complaints.workflow``) and ``clocks.after_move`` carries them out. Imports nothing of tousu's own."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Effect(enum.StrEnum):
    leave = "leave"  # the move does not touch clocks of this kind
    start = "start"  # a new clock starts
    met = "met"  # the running clocks stop, met (breached when late): what they waited for happened
    cancel = "cancel"  # the running clocks stop, cancelled: they no longer apply
    # When the move dispatched the complaint to a unit (a store, a department, or both): the running clocks stop,
    # cancelled (another unit no longer owes anything), and a clock starts for each unit it was dispatched to.
    # Otherwise: left alone.
    dispatch = "dispatch"
    # The complaint's priority changed: its running clocks stop, cancelled, and start again on the new priority's
    # targets, counted from when the clocks they replace started.
    restart = "restart"


@dataclass(frozen=True)
class ClockEffect:
    effect: Effect
    why: str = ""  # the reason the clock event records; ``{move}``, ``{actor}`` and ``{unit}`` are filled in
    # The complaint's attribute holding the moment the effect takes place, when it is not the move's own (a reply
    # sent before it was recorded); None or unset: the move's time.
    at: str | None = None
    # The complaint's attribute that must be true (after the move) for the effect to apply: a fulfilment clock
    # starts only for a remedy with a value.
    only_if: str | None = None


LEAVE = ClockEffect(Effect.leave)
DISPATCH = ClockEffect(Effect.dispatch, "dispatched to {unit}")  # "dispatched to store SZ-FT-012"
RESTART = ClockEffect(Effect.restart, "{move}: restarted on the new priority's target")
DISPATCHED_AGAIN = "dispatched again"  # why the previous unit's clock is cancelled by a dispatch


def start(why: str, *, only_if: str | None = None) -> ClockEffect:
    return ClockEffect(Effect.start, why, only_if=only_if)


def met(why: str, *, at: str | None = None) -> ClockEffect:
    return ClockEffect(Effect.met, why, at=at)


def cancel(why: str) -> ClockEffect:
    return ClockEffect(Effect.cancel, why)
