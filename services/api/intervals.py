"""A line's stations as state intervals over a range: the reads, and the stops ranked.

**The rule** is the OEE core's (`services.efficiency.core.timeline`), applied to
what the efficiency processor stores: a station's machine changes (each state lasts until
its next change, the last one until ``min(end, now)``), and its silences, where nothing of
any kind was heard from it for longer than the line's ``stale_after_s``: that time is
``down`` for the reason ``no_signal`` (the stored silences, and the open one after the
station's last event, up to now). Stops shorter, as a whole, than the line's
``small_stop_threshold_s`` are marked small, measured over their whole length (the changes
up to that far around the range are read). Intervals are clipped to ``[start, end)``; the
state in force at ``start`` counts from ``start``. An event that repeats the state and reason
in force (a heartbeat) continues its interval, so it is neither a new stop nor a new interval.

**The reads.** `services.efficiency.read.timeline_inputs`, in one read-only snapshot: the
changes (with the one before and after each station's context), the silences, and each
station's last event. Cost grows with the machine events and silences in the range, not with
its length or its production.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from itertools import groupby
from typing import Final

from asyncpg import Pool

from schemas.types import MachineState
from services.api.scope import Scope
from services.efficiency import read as efficiency_read
from services.efficiency.core import Interval
from services.efficiency.core.timeline import (
    normalise_changes,
    stale_ms,
    timeline,
)
from services.efficiency.core.types import DOWNTIME_STATES, from_ms, to_ms

__all__ = [
    "STOP_STATES",
    "Pareto",
    "ReasonStops",
    "StateSpan",
    "StationStops",
    "StopTally",
    "Stops",
    "line_spans",
    "pareto",
    "per_station",
    "stops",
]

STOP_STATES: Final = frozenset(DOWNTIME_STATES)
"""The states of a stop: not running, not a planned stop (down, setup, idle, starved,
blocked, offline)."""


@dataclass(frozen=True, slots=True)
class StateSpan:
    """A station in `state` over ``[start, end)`` (UTC); `reason` as the event gave it
    (``no_signal`` for a silence); `small` when it belongs to a small stop."""

    station: str
    start: datetime
    end: datetime
    state: MachineState
    reason: str | None
    small: bool = False


@dataclass(frozen=True, slots=True)
class StopTally:
    """The stops of one station in one state for one reason: how many, how long in all."""

    station: str
    state: MachineState
    reason: str | None
    count: int
    duration_us: int


async def line_spans(
    pool: Pool,
    *,
    scope: Scope,
    factory: str,
    line: str,
    start: datetime,
    end: datetime,
    now: datetime,
    small_stop_threshold_s: float,
    stale_after_s: float,
) -> list[StateSpan]:
    """The state intervals of the line's stations in ``[start, end)`` as of ``now`` (the
    module's rule), by station (code-point order) then time."""
    scope.require(factory)
    upto = min(end, now)
    if upto <= start:
        return []
    margin = timedelta(seconds=small_stop_threshold_s)
    since, until = start - margin, upto + margin
    async with (
        pool.acquire() as connection,
        connection.transaction(isolation="repeatable_read", readonly=True),
    ):
        read = await efficiency_read.timeline_inputs(
            connection, scope=scope, factory=factory, line=line, since=since, until=until, upto=upto
        )
    by_station, silent, heard = read.changes, read.silences, read.heard
    low, high, open_until = to_ms(start), to_ms(end), to_ms(upto)
    stale = stale_ms(stale_after_s)
    spans: list[StateSpan] = []
    for station in sorted(by_station):
        quiet = [(to_ms(a), to_ms(b)) for a, b in silent.get(station, [])]
        last = heard.get(station)
        if last is not None and to_ms(last) + stale < open_until:
            quiet.append((to_ms(last) + stale, open_until))  # silent since, up to now
        for interval in timeline(
            normalise_changes(by_station[station]),
            open_until=open_until,
            small_stop_threshold_s=small_stop_threshold_s,
            silent=quiet,
        ):
            a, b = max(interval.start, low), min(interval.end, high, open_until)
            if a >= b:
                continue
            reason = interval.reason or None
            last_span = spans[-1] if spans else None
            if (
                last_span is not None
                and (last_span.station, last_span.end, last_span.state, last_span.reason)
                == (station, from_ms(a), interval.state, reason)
                and last_span.small == interval.small
            ):  # the same state and reason again (a heartbeat): the same interval goes on
                spans[-1] = replace(last_span, end=from_ms(b))
            else:
                spans.append(
                    StateSpan(
                        station, from_ms(a), from_ms(b), interval.state, reason, interval.small
                    )
                )
    return spans


@dataclass(frozen=True, slots=True)
class Stops:
    """A line's stops over a range, as the efficiency figures count them: `counted`, the stops
    in the line's scheduled time that are not small (downtime); `small`, the small stops
    there (run time in the figures); `unscheduled`, the stops outside scheduled time."""

    counted: list[StopTally]
    small: list[StopTally]
    unscheduled: list[StopTally]


def stops(spans: Iterable[StateSpan], counted_time: list[Interval]) -> Stops:
    """The stop spans split by `counted_time` (sorted, disjoint) and summed per station, state
    and reason; a span counts once in each part it has time in."""
    sums: dict[str, dict[tuple[str, MachineState, str | None], list[int]]] = {
        part: defaultdict(lambda: [0, 0]) for part in ("counted", "small", "unscheduled")
    }
    for span in spans:
        if span.state not in STOP_STATES:
            continue
        inside = sum(_us(span, a, b) for a, b in counted_time if a < span.end and b > span.start)
        outside = _us(span, span.start, span.end) - inside
        key = (span.station, span.state, span.reason)
        for part, us in (("small" if span.small else "counted", inside), ("unscheduled", outside)):
            if us > 0:
                sums[part][key][0] += us
                sums[part][key][1] += 1

    def tallies(part: str) -> list[StopTally]:
        return [
            StopTally(station, state, reason, count, us)
            for (station, state, reason), (us, count) in sums[part].items()
        ]

    return Stops(tallies("counted"), tallies("small"), tallies("unscheduled"))


def _us(span: StateSpan, low: datetime, high: datetime) -> int:
    """Microseconds of `span` within ``[low, high)``."""
    delta = min(span.end, high) - max(span.start, low)
    return max(0, delta // timedelta(microseconds=1))


def per_station(spans: Iterable[StateSpan]) -> list[tuple[str, list[StateSpan]]]:
    """Spans ordered by station, grouped: ``(station, its spans)`` pairs."""
    return [(station, list(group)) for station, group in groupby(spans, lambda s: s.station)]


# --- The Pareto: pure -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReasonStops:
    """Stops for one reason (the state's name where the event gave none) in one state."""

    reason: str
    state: MachineState
    duration_s: float
    count: int
    share: float


@dataclass(frozen=True, slots=True)
class StationStops:
    """The stops of one station."""

    station: str
    duration_s: float
    count: int
    share: float


@dataclass(frozen=True, slots=True)
class Pareto:
    """Stops ranked by total duration (longest first, ties by name), by reason and by
    station; each entry's `share` is its part of `total_stop_s`, 4 decimals."""

    total_stop_s: float
    stop_count: int
    by_reason: list[ReasonStops]
    by_station: list[StationStops]


def pareto(tallies: Iterable[StopTally]) -> Pareto:
    """The stops of `tallies` ranked; durations are summed in whole microseconds (exact)."""
    reasons: dict[tuple[str, MachineState], list[int]] = defaultdict(lambda: [0, 0])
    stations: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for tally in tallies:
        for sums in (
            reasons[tally.reason or tally.state.value, tally.state],
            stations[tally.station],
        ):
            sums[0] += tally.duration_us
            sums[1] += tally.count
    total_us = sum(us for us, _ in stations.values())
    count = sum(n for _, n in stations.values())

    def share(us: int) -> float:
        return round(us / total_us, 4) if total_us else 0.0

    return Pareto(
        total_stop_s=total_us / 1e6,
        stop_count=count,
        by_reason=[
            ReasonStops(reason, state, us / 1e6, n, share(us))
            for (reason, state), (us, n) in sorted(
                reasons.items(), key=lambda item: (-item[1][0], item[0][0], item[0][1])
            )
        ],
        by_station=[
            StationStops(station, us / 1e6, n, share(us))
            for station, (us, n) in sorted(
                stations.items(), key=lambda item: (-item[1][0], item[0])
            )
        ],
    )
