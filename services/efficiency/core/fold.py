"""`fold_station`: one station's events → its minute buckets over a window.

The buckets are a pure function of the *set* of events passed: duplicates (by ``event_id``)
and arrival order change nothing. So the processor recomputes the minutes an event can touch
and replaces them (guarantees 2 and 3), with one exception that keeps the same guarantee:
new production alone changes only the production part of its minutes, a plain integer sum
over the events, which the processor adds to the stored buckets (`tally_production`).

1. An event at ``ts`` can change the minutes from ``previous change − max(T, W)`` up to
   ``next change + max(T, W)``, where the changes are the station's machine changes around
   ``ts`` (or ``ts`` itself for production and order events), T the small-stop threshold and
   W the startup window.
2. To fold a window exactly, pass the inputs that `context_bounds` names: a stop is measured
   as a whole, and startup scrap looks back at setup ends, so both need time outside the window.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Final

from services.efficiency.core.bucket import NOTHING_KNOWN, MinuteBucket, MinuteTally
from services.efficiency.core.production import (
    OrderTimeline,
    normalise_production,
)
from services.efficiency.core.timeline import (
    normalise_changes,
    setup_ends,
    silences,
    split_minutes,
    stale_ms,
    timeline,
)
from services.efficiency.core.types import (
    MINUTE_MS,
    EfficiencyCoreError,
    Interval,
    MachineChange,
    Millis,
    OrderChange,
    Production,
    from_ms,
    require_aware,
    to_ms,
)

__all__ = [
    "DEFAULT_STARTUP_WINDOW_S",
    "context_bounds",
    "fold_station",
    "silent_intervals",
    "tally_production",
]

DEFAULT_STARTUP_WINDOW_S: Final = 600.0
"""Scrap within this many seconds after a setup ends is startup scrap."""


def fold_station(
    changes: Iterable[MachineChange],
    production: Iterable[Production],
    orders: Iterable[OrderChange],
    *,
    window_start: datetime,
    window_end: datetime,
    small_stop_threshold_s: float,
    startup_window_s: float = DEFAULT_STARTUP_WINDOW_S,
    open_until: datetime | None = None,
    silent: Iterable[Interval] = (),
) -> dict[datetime, MinuteBucket]:
    """The station's bucket of every whole UTC minute in ``[window_start, window_end)``.

    Args:
        changes: the station's machine changes, in any order, with repeats; for exact
            figures, those `context_bounds` names (at least the change in force at
            `window_start`). Intervals are built as `timeline` documents.
        production: the station's production events; those with ``ts`` in the window count,
            in the minute that contains their ``ts``.
        orders: the line's order events, from the last ``start`` before the window on.
        window_start, window_end: aware, on whole UTC minutes; an empty window gives ``{}``.
        small_stop_threshold_s: a stop shorter than this, as a whole, is a small stop.
        startup_window_s: scrap reported within this long after a setup ended is startup scrap.
        open_until: how long the last known state lasts. The last change's state counts up to
            this instant (the API passes "now"; the processor the latest event time it has
            seen for the line). ``None``: it lasts until the next change, unknown yet, so it
            counts for nothing. Time after it is `unknown_ms`.
        silent: the station's silences (`silent_intervals`) overlapping the window and its
            context: their time is ``down`` for the reason ``no_signal`` (`timeline`, rule 4).

    Raises:
        EfficiencyCoreError: a naive datetime, or a window not on whole minutes.
    """
    start, end = _window(window_start, window_end)
    until = None if open_until is None else to_ms(require_aware(open_until, "open_until"))
    tallies: dict[Millis, MinuteTally] = {}  # only the minutes with something in them
    ordered = normalise_changes(changes)
    quiet = [
        (to_ms(require_aware(a, "silent")), to_ms(require_aware(b, "silent"))) for a, b in silent
    ]
    for interval in timeline(
        ordered, open_until=until, small_stop_threshold_s=small_stop_threshold_s, silent=quiet
    ):
        for minute, ms in split_minutes(max(interval.start, start), min(interval.end, end)):
            tally = tallies.get(minute)
            if tally is None:
                tally = tallies[minute] = MinuteTally()
            tally.add_state(interval.state, interval.reason, ms, interval.small)
    _tally_production(
        tallies, start, end, production, orders, setup_ends(ordered), startup_window_s
    )
    return {
        from_ms(minute): NOTHING_KNOWN if tally is None else tally.freeze()
        for minute in range(start, end, MINUTE_MS)
        for tally in (tallies.get(minute),)
    }


def tally_production(
    changes: Iterable[MachineChange],
    production: Iterable[Production],
    orders: Iterable[OrderChange],
    *,
    startup_window_s: float = DEFAULT_STARTUP_WINDOW_S,
) -> dict[datetime, MinuteBucket]:
    """What ``production`` adds to the station's buckets, per whole UTC minute of its events:
    buckets with only the production fields set (counts, startup scrap, ideal time) and all
    the minute unknown.

    The production part of a `fold_station` bucket is a sum over its production events, each
    counted from the changes and orders around it alone. So where a station's changes and its
    line's orders stay as they were, a stored bucket plus this part of new production (events
    it does not hold yet) is the fold of them all, to the bit (integers only, the ideal time in
    microseconds). Pass the changes and orders `fold_station` would get for the minutes of
    ``production`` (`context_bounds`); production is made unique by ``event_id`` as there.
    """
    tallies: dict[Millis, MinuteTally] = {}
    ends = setup_ends(normalise_changes(changes))
    _tally_production(tallies, -_FOREVER, _FOREVER, production, orders, ends, startup_window_s)
    return {from_ms(minute): tally.freeze() for minute, tally in sorted(tallies.items())}


def silent_intervals(
    heard: Iterable[datetime], *, stale_after_s: float, open_until: datetime | None = None
) -> list[Interval]:
    """The silences of a station heard at the instants ``heard`` (its events of every kind, in
    any order): from ``stale_after_s`` after each instant to the next one, where the gap is
    longer; after the last one, up to ``open_until`` when given. Instants are floored to the
    millisecond and ``stale_after_s`` rounded up to one, as the timeline counts them."""
    instants = sorted({to_ms(require_aware(ts, "heard")) for ts in heard})
    stale = stale_ms(stale_after_s)
    found = silences(instants, stale=stale)
    if instants and open_until is not None:
        until = to_ms(require_aware(open_until, "open_until"))
        if until > instants[-1] + stale:
            found.append((instants[-1] + stale, until))
    return [(from_ms(low), from_ms(high)) for low, high in found]


_FOREVER: Final = 1 << 62  # ms: beyond any instant a datetime holds


def context_bounds(
    window_start: datetime,
    window_end: datetime,
    *,
    small_stop_threshold_s: float,
    startup_window_s: float = DEFAULT_STARTUP_WINDOW_S,
) -> tuple[datetime, datetime]:
    """``(since, until)``: to fold the window exactly, pass every machine change with ``ts``
    in ``[since, until]``, plus the last change before `since` and the first after `until`
    (with every change at that same instant, since ties are broken by content).

    Why: a stop overlapping the window is classified by its whole length, known once its
    ends are within ``T`` of the window or it is longer than ``T``; startup scrap looks back
    ``W`` for the end of a setup.
    """
    start, end = _window(window_start, window_end)
    back = max(small_stop_threshold_s, startup_window_s)
    return (
        from_ms(start) - timedelta(seconds=back),
        from_ms(end) + timedelta(seconds=small_stop_threshold_s),
    )


def _window(window_start: datetime, window_end: datetime) -> tuple[Millis, Millis]:
    start = to_ms(require_aware(window_start, "window_start"))
    end = to_ms(require_aware(window_end, "window_end"))
    if start % MINUTE_MS or end % MINUTE_MS or window_start.microsecond or window_end.microsecond:
        raise EfficiencyCoreError("window_start and window_end must be whole UTC minutes")
    if end < start:
        raise EfficiencyCoreError("window_end is before window_start")
    return start, end


def _tally_production(
    tallies: dict[Millis, MinuteTally],
    start: Millis,
    end: Millis,
    production: Iterable[Production],
    orders: Iterable[OrderChange],
    ends: list[Millis],
    startup_window_s: float,
) -> None:
    """Count the production with ``ts`` in ``[start, end)`` into the tallies of its minutes."""
    window_ms = math.floor(startup_window_s * 1000)
    cycles = OrderTimeline(orders)
    for ts, good, scrap, _ in normalise_production(production):
        if not start <= ts < end:
            continue
        minute = ts - ts % MINUTE_MS
        tally = tallies.get(minute)
        if tally is None:
            tally = tallies[minute] = MinuteTally()
        tally.good += good
        tally.scrap += scrap
        last_end = bisect_left(ends, ts) - 1  # the last setup end strictly before ts
        if last_end >= 0 and ts - ends[last_end] <= window_ms:
            tally.startup_scrap += scrap
        cycle = cycles.cycle_before(ts)
        if cycle is None:
            tally.count_without_ideal += good + scrap
        else:
            tally.ideal_us += (good + scrap) * round(cycle * 1_000_000)
