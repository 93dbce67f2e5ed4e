"""A line's stations as state intervals over a range: the reads, and the stops ranked.

**The rule.** Each machine event of a station puts it in the event's state until the
station's next machine event; its last event's state lasts until ``min(end, now)``. The
intervals are clipped to ``[start, end)``; the station's last event before ``start`` is read
too, so the state in force at ``start`` counts. Intervals of no length are left out.

As the OEE core reads a station's changes (`floorstream.services.efficiency.core.timeline`,
rules 1 and 2): instants are floored to the millisecond, and of several changes at the same
millisecond, ordered by ``(state, reason, event_id)`` (code-point order, ``""`` for no
reason), the last is in force. Unlike the core, no small stop is set apart and no schedule is
applied: all time in the range counts.

**The reads.** One SQL statement each: `lead()` over each station's events gives each
interval's end, and PostgreSQL sums the stops (`line_stops`) or answers the intervals
themselves, at most ``limit`` (`line_timeline`). Cost grows with the machine events in the
range (a window over all of them), not with its length.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from itertools import groupby
from typing import Final

from asyncpg import Pool

from floorstream.schemas.types import MachineState
from floorstream.services.api.scope import Scope
from floorstream.services.efficiency.core.types import DOWNTIME_STATES

__all__ = [
    "STOP_STATES",
    "Pareto",
    "ReasonStops",
    "StateSpan",
    "StationStops",
    "StopTally",
    "line_stops",
    "line_timeline",
    "pareto",
    "per_station",
]

STOP_STATES: Final = frozenset(DOWNTIME_STATES)
"""The states of a stop: not running, not a planned stop (down, setup, idle, starved,
blocked, offline)."""

# $1 factory, $2 line, $3 start, $4 end, $5 min(end, now). The stations come from a loose
# index scan, and each one's last change before $3 from a backward index scan, so history
# before the range costs one index probe per station.
_INTERVALS: Final = """
WITH RECURSIVE stations(station) AS (
    SELECT min(station) FROM station_event WHERE factory = $1 AND line = $2
    UNION ALL
    SELECT (SELECT min(e.station) FROM station_event AS e
            WHERE e.factory = $1 AND e.line = $2 AND e.station > s.station)
    FROM stations AS s WHERE s.station IS NOT NULL
), before(station, ts) AS (
    SELECT s.station,
           (SELECT max(e.ts) FROM station_event AS e
            WHERE e.factory = $1 AND e.line = $2 AND e.station = s.station
              AND e.kind = 'machine' AND e.ts < $3)
    FROM stations AS s WHERE s.station IS NOT NULL
), changes AS (
    SELECT station, ts, state, reason, event_id FROM station_event
    WHERE factory = $1 AND line = $2 AND kind = 'machine' AND ts >= $3 AND ts < $4
    UNION ALL
    SELECT e.station, e.ts, e.state, e.reason, e.event_id
    FROM before AS b
    JOIN station_event AS e
      ON e.factory = $1 AND e.line = $2 AND e.station = b.station
     AND e.kind = 'machine' AND e.ts = b.ts
), spans AS (
    SELECT station, state, reason, date_trunc('milliseconds', ts) AS ts,
           lead(date_trunc('milliseconds', ts)) OVER (
               PARTITION BY station
               ORDER BY date_trunc('milliseconds', ts), state COLLATE "C",
                        coalesce(reason, '') COLLATE "C", event_id COLLATE "C"
           ) AS next
    FROM changes
), clipped AS (
    SELECT station, state, reason,
           greatest(ts, $3) AS low,
           least(coalesce(next, greatest(ts, $5)), $4) AS high
    FROM spans
)
"""

_TIMELINE: Final = (
    _INTERVALS
    + """
SELECT station, low, high, state, reason FROM clipped
WHERE high > low
ORDER BY station COLLATE "C", low
LIMIT $6
"""
)

_STOPS: Final = (
    _INTERVALS
    + """
SELECT station, state, reason, count(*) AS count,
       round(sum(extract(epoch FROM high) - extract(epoch FROM low)) * 1000000)::bigint
           AS duration_us
FROM clipped
WHERE high > low AND state = ANY($6::text[])
GROUP BY station, state, reason
"""
)


@dataclass(frozen=True, slots=True)
class StateSpan:
    """A station in `state` over ``[start, end)`` (UTC); `reason` as the event gave it."""

    station: str
    start: datetime
    end: datetime
    state: MachineState
    reason: str | None


@dataclass(frozen=True, slots=True)
class StopTally:
    """The stops of one station in one state for one reason: how many, how long in all."""

    station: str
    state: MachineState
    reason: str | None
    count: int
    duration_us: int


async def line_timeline(
    pool: Pool,
    *,
    scope: Scope,
    factory: str,
    line: str,
    start: datetime,
    end: datetime,
    now: datetime,
    limit: int,
) -> list[StateSpan]:
    """The state intervals of the line's stations in ``[start, end)`` as of ``now``, by
    station (code-point order) then time; the first ``limit`` of them."""
    scope.require(factory)
    records = await pool.fetch(_TIMELINE, factory, line, start, end, min(end, now), limit)
    return [
        StateSpan(r["station"], r["low"], r["high"], MachineState(r["state"]), r["reason"])
        for r in records
    ]


async def line_stops(
    pool: Pool,
    *,
    scope: Scope,
    factory: str,
    line: str,
    start: datetime,
    end: datetime,
    now: datetime,
) -> list[StopTally]:
    """The line's stops in ``[start, end)`` as of ``now``, summed per station, state and
    reason (in no order)."""
    scope.require(factory)
    states = sorted(state.value for state in STOP_STATES)
    records = await pool.fetch(_STOPS, factory, line, start, end, min(end, now), states)
    return [
        StopTally(r["station"], MachineState(r["state"]), r["reason"], r["count"], r["duration_us"])
        for r in records
    ]


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
