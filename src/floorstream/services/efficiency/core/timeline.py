"""A station's machine changes as a timeline of state intervals, stops marked small or not.

Rules, all independent of the order and repetition of the input:

1. Changes are made unique by ``event_id`` (where one id carries different content, the one
   that sorts first is kept; the processor passes the first one it stored, so this never
   happens there), then sorted by ``(ts, state, reason, event_id)``.
2. Of several changes at the same millisecond, the last in that order is in force; the
   others last no time.
3. Each change's state lasts until the next change. The last change's state lasts until
   ``open_until`` when that is given and later, else it counts for nothing (its end is not
   known yet).
4. A *stop* is a maximal run of consecutive intervals in a downtime state (down, setup, idle,
   starved, blocked, offline); running and planned_stop end it. A stop shorter, as a whole,
   than the small-stop threshold is a *small stop*: all its intervals are marked small.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import groupby, pairwise

from floorstream.schemas.types import MachineState
from floorstream.services.efficiency.core.types import (
    DOWNTIME_STATES,
    MINUTE_MS,
    MachineChange,
    Millis,
    to_ms,
)

__all__ = [
    "Change",
    "StateInterval",
    "normalise_changes",
    "setup_ends",
    "split_minutes",
    "timeline",
]


@dataclass(frozen=True, slots=True, order=True)
class Change:
    """A machine change in the core's units; the field order is the sort order."""

    ts: Millis
    state: MachineState
    reason: str
    event_id: str


@dataclass(frozen=True, slots=True)
class StateInterval:
    """``[start, end)`` in `state`; `small` when it belongs to a small stop."""

    start: Millis
    end: Millis
    state: MachineState
    reason: str
    small: bool


def normalise_changes(changes: Iterable[MachineChange]) -> list[Change]:
    """Rules 1 and 2: unique, sorted, one change per millisecond."""
    unique: dict[str, Change] = {}
    for change in changes:
        item = Change(to_ms(change.ts), change.state, change.reason or "", change.event_id)
        kept = unique.get(item.event_id)
        unique[item.event_id] = item if kept is None else min(kept, item)
    ordered = sorted(unique.values())
    return [list(group)[-1] for _, group in groupby(ordered, key=lambda item: item.ts)]


def timeline(
    ordered: list[Change], *, open_until: Millis | None, small_stop_threshold_s: float
) -> list[StateInterval]:
    """Rules 3 and 4 over changes from `normalise_changes`."""
    spans = [(first, second.ts) for first, second in pairwise(ordered)]
    if ordered and open_until is not None and open_until > ordered[-1].ts:
        spans.append((ordered[-1], open_until))
    # A stop is small when its length in ms is below the threshold: length < ceil(1000 t).
    threshold_ms = math.ceil(small_stop_threshold_s * 1000)
    intervals: list[StateInterval] = []
    for is_stop, group in groupby(spans, key=lambda span: span[0].state in DOWNTIME_STATES):
        run = list(group)
        small = is_stop and run[-1][1] - run[0][0].ts < threshold_ms
        intervals.extend(
            StateInterval(change.ts, end, change.state, change.reason, small) for change, end in run
        )
    return intervals


def setup_ends(ordered: list[Change]) -> list[Millis]:
    """Instants at which a setup ended (a change from setup to another state), sorted."""
    return [
        second.ts
        for first, second in pairwise(ordered)
        if first.state is MachineState.SETUP and second.state is not MachineState.SETUP
    ]


def split_minutes(start: Millis, end: Millis) -> Iterator[tuple[Millis, Millis]]:
    """``[start, end)`` cut at UTC minute boundaries: ``(minute start, ms in it)`` pairs."""
    instant = start
    while instant < end:
        minute = instant - instant % MINUTE_MS
        upto = min(minute + MINUTE_MS, end)
        yield minute, upto - instant
        instant = upto
