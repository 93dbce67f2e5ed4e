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
4. *No signal*: time within a *silence* (`silences`: where the station was heard from, by an
   event of any kind, no more for longer than the line's ``stale_after_s``) is ``down`` with
   the reason ``no_signal``, whatever state the changes say (a silent station is not running),
   except ``planned_stop``: a station stopped on plan stays so, its time not counted either way.
   A silence starts ``stale_after_s`` after the last event heard and ends at the next one
   (or at ``open_until``).
5. A *stop* is a maximal run of consecutive intervals in a downtime state (down, setup, idle,
   starved, blocked, offline); running and planned_stop end it. A stop shorter, as a whole,
   than the small-stop threshold is a *small stop*: all its intervals are marked small.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import groupby, pairwise
from typing import Final

from schemas.types import MachineState
from services.efficiency.core.types import (
    DOWNTIME_STATES,
    MINUTE_MS,
    MachineChange,
    Millis,
    to_ms,
)

__all__ = [
    "NO_SIGNAL",
    "Change",
    "StateInterval",
    "normalise_changes",
    "setup_ends",
    "silences",
    "stale_ms",
    "split_minutes",
    "timeline",
]


NO_SIGNAL: Final = "no_signal"
"""The reason of the downtime a silence counts as (rule 4)."""

Silence = tuple[Millis, Millis]  # [start, end) in ms


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


def stale_ms(stale_after_s: float) -> Millis:
    """``stale_after_s`` in whole milliseconds (rounded up): a gap longer than this is silent."""
    return math.ceil(stale_after_s * 1000)


def silences(heard: Iterable[Millis], *, stale: Millis) -> list[Silence]:
    """Rule 4's silences between the instants heard (any order, repeats): for each gap between
    consecutive instants longer than ``stale`` ms, ``[earlier + stale, later)``. The silence
    after the last instant is open; the caller adds it up to its ``open_until``."""
    ordered = sorted(set(heard))
    return [(low + stale, high) for low, high in pairwise(ordered) if high - low > stale]


def timeline(
    ordered: list[Change],
    *,
    open_until: Millis | None,
    small_stop_threshold_s: float,
    silent: Iterable[Silence] = (),
) -> list[StateInterval]:
    """Rules 3 to 5 over changes from `normalise_changes` and the station's silences
    (``[start, end)`` in ms, any order; overlapping ones are joined)."""
    spans = [
        (first.ts, second.ts, first.state, first.reason) for first, second in pairwise(ordered)
    ]
    if ordered and open_until is not None and open_until > ordered[-1].ts:
        last = ordered[-1]
        spans.append((last.ts, open_until, last.state, last.reason))
    spans = _overlay(spans, _joined(silent))
    # A stop is small when its length in ms is below the threshold: length < ceil(1000 t).
    threshold_ms = math.ceil(small_stop_threshold_s * 1000)
    intervals: list[StateInterval] = []
    for is_stop, group in groupby(spans, key=lambda span: span[2] in DOWNTIME_STATES):
        run = list(group)
        small = is_stop and run[-1][1] - run[0][0] < threshold_ms
        intervals.extend(
            StateInterval(start, end, state, reason, small) for start, end, state, reason in run
        )
    return intervals


_Span = tuple[Millis, Millis, MachineState, str]


def _joined(silent: Iterable[Silence]) -> list[Silence]:
    joined: list[Silence] = []
    for low, high in sorted(s for s in silent if s[0] < s[1]):
        if joined and low <= joined[-1][1]:
            joined[-1] = (joined[-1][0], max(joined[-1][1], high))
        else:
            joined.append((low, high))
    return joined


def _overlay(spans: list[_Span], silent: list[Silence]) -> list[_Span]:
    """The spans with the silences' time in them replaced by ``down``/`NO_SIGNAL` (rule 4);
    both lists sorted and disjoint. Time outside the spans stays unknown."""
    if not silent:
        return spans
    out: list[_Span] = []
    index = 0
    for start, end, state, reason in spans:
        if state is MachineState.PLANNED_STOP:  # stopped on plan: not counted either way
            out.append((start, end, state, reason))
            continue
        while index < len(silent) and silent[index][1] <= start:
            index += 1
        cursor, probe = start, index
        while probe < len(silent) and silent[probe][0] < end:
            low, high = max(silent[probe][0], start), min(silent[probe][1], end)
            if low > cursor:
                out.append((cursor, low, state, reason))
            out.append((low, high, MachineState.DOWN, NO_SIGNAL))
            cursor = high
            if silent[probe][1] > end:
                break
            probe += 1
        if cursor < end:
            out.append((cursor, end, state, reason))
    return out


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
