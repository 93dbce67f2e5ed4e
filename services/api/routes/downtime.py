"""A line's stops ranked (a Pareto) and its stations' state timeline, over a range.

Both read the state intervals of `services.api.intervals`: the OEE core's
timeline over the machine changes and silences the efficiency processor stores. The Pareto
counts what the efficiency figures count as downtime (scheduled time, small stops apart).
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any, Final

from asyncpg import Pool
from fastapi import APIRouter, HTTPException

from schemas.line_settings import LineSettings
from schemas.manager import (
    LineDowntime,
    LineTimeline,
    ReasonDowntime,
    StateInterval,
    StationDowntime,
    StationTimeline,
)
from services.api import intervals
from services.api.auth import FloorReader, Principal
from services.api.deps import Database, FactoryPath, LinePath, Now, known_line
from services.api.models import ERRORS, ErrorBody
from services.api.ranges import RANGE_RULES, End, Start, require_range
from services.efficiency.core import Interval, scheduled_intervals

router = APIRouter(tags=["downtime"])

MAX_INTERVALS: Final = 10_000
"""The most state intervals one timeline answers; a range with more is refused (422)."""

_INTERVALS: Final = """\
**State intervals**, by the rules of the efficiency figures. Each machine event of a station
puts it in the event's state until the station's next machine event; the last one lasts
until `min(end, now)`. Of several events at the same millisecond the last (by state, reason,
event id) is in force. **No signal**: time when nothing of any kind was heard from a station
for longer than the line's `stale_after_s` (from `stale_after_s` after its last event until
its next one, or now) is `down` with the reason `no_signal`, whatever its last state said.
Intervals are clipped to the range, and the state in force at `start` counts from `start`.
An event that repeats the state and reason in force (a station's heartbeat) continues its
interval: it is not a new stop.
"""

_DOWNTIME: Final = f"""\
The line's stops over `[start, end)`, {RANGE_RULES}, ranked by total duration (a Pareto):
`by_reason` and `by_station`, each longest first (ties by name), with how many stops and
each one's `share` of `total_stop_s`.

A **stop** is an interval in `down`, `setup`, `idle`, `starved`, `blocked` or `offline`
(not `running`, not `planned_stop`). Its reason is the machine event's `reason`, or the
state's name where it gave none (`"setup"`); the same reason in two states is two entries.
Every interval with time counted counts once in `count` and `stop_count`: a station that
goes from down (jam) to down (motor) has two stops. Durations are in seconds (microsecond
exact); stations' stops add up (two stations down for an hour at once: two hours).

**What counts is what the efficiency call counts as downtime**: time in the line's shifts
minus breaks (the minutes whose start is scheduled, as there; all time for a line without
shifts), and not small stops (a stop shorter, as a whole, than `small_stop_threshold_s` is
run time there). So the `by_station` entry of the station the line's figures are of has the
efficiency call's `downtime_s`. Apart: `small_stop_s` and `small_stop_count`, the small
stops in scheduled time (the efficiency's `losses.small_stops_s`), and
`unscheduled_stop_s`, stops outside scheduled time.

{_INTERVALS}"""

_TIMELINE: Final = f"""\
Each station's state intervals over `[start, end)`, {RANGE_RULES}, for a shift timeline:
stations in name order, each one's intervals in time order, `start` and `end` in UTC.
Stations with no interval in the range are left out. All time in the range is shown (shifts
and breaks are not applied), small stops included.

At most {MAX_INTERVALS:,} intervals in all: a range with more is refused with 422 (ask for
a shorter range).

{_INTERVALS}"""

_NOT_FOUND: Final[dict[int | str, dict[str, Any]]] = {
    404: {"model": ErrorBody, "description": "No such line."}
}


async def _line_spans(
    pool: Pool,
    caller: Principal,
    factory: str,
    line: str,
    start: datetime,
    end: datetime,
    now: datetime,
) -> tuple[LineSettings, list[intervals.StateSpan]]:
    """The line's settings (404 for a line not known) and its state intervals over the range
    under them."""
    settings = (
        await known_line(pool, scope=caller.scope, factory=factory, line=line)
    ).settings_or_defaults()
    spans = await intervals.line_spans(
        pool,
        scope=caller.scope,
        factory=factory,
        line=line,
        start=start,
        end=end,
        now=now,
        small_stop_threshold_s=settings.small_stop_threshold_s,
        stale_after_s=settings.stale_after_s,
    )
    return settings, spans


def _counted_time(settings: LineSettings, start: datetime, end: datetime) -> list[Interval]:
    """The time the efficiency figures count: each scheduled minute of the range, whole (a
    bucket counts when its minute's start is scheduled)."""
    return [
        (_ceil_minute(low), _ceil_minute(high))
        for low, high in scheduled_intervals(settings, start, end)
        if _ceil_minute(low) < _ceil_minute(high)
    ]


def _ceil_minute(instant: datetime) -> datetime:
    floor = instant.replace(second=0, microsecond=0)
    return floor if floor == instant else floor + timedelta(minutes=1)


@router.get(
    "/factories/{factory}/lines/{line}/downtime",
    summary="A line's stops over a range, ranked by duration (Pareto)",
    description=_DOWNTIME,
    response_model=LineDowntime,
    responses={**ERRORS, **_NOT_FOUND},
)
async def get_line_downtime(
    factory: FactoryPath,
    line: LinePath,
    start: Start,
    end: End,
    caller: FloorReader,
    pool: Database,
    now: Now,
) -> LineDowntime:
    require_range(start, end)
    settings, spans = await _line_spans(pool, caller, factory, line, start, end, now)
    split = intervals.stops(spans, _counted_time(settings, start, end))
    ranked = intervals.pareto(split.counted)
    return LineDowntime(
        factory=factory,
        line=line,
        start=start,
        end=end,
        total_stop_s=ranked.total_stop_s,
        stop_count=ranked.stop_count,
        small_stop_s=sum(t.duration_us for t in split.small) / 1e6,
        small_stop_count=sum(t.count for t in split.small),
        unscheduled_stop_s=sum(t.duration_us for t in split.unscheduled) / 1e6,
        by_reason=[ReasonDowntime(**asdict(entry)) for entry in ranked.by_reason],
        by_station=[StationDowntime(**asdict(entry)) for entry in ranked.by_station],
    )


@router.get(
    "/factories/{factory}/lines/{line}/timeline",
    summary="A line's stations and their states over a range (shift timeline)",
    description=_TIMELINE,
    response_model=LineTimeline,
    responses={
        **ERRORS,
        **_NOT_FOUND,
        422: {
            "model": ErrorBody,
            "description": "A path segment or query field is invalid, or the range holds "
            f"more than {MAX_INTERVALS:,} intervals.",
        },
    },
)
async def get_line_timeline(
    factory: FactoryPath,
    line: LinePath,
    start: Start,
    end: End,
    caller: FloorReader,
    pool: Database,
    now: Now,
) -> LineTimeline:
    require_range(start, end)
    _, spans = await _line_spans(pool, caller, factory, line, start, end, now)
    if len(spans) > MAX_INTERVALS:
        raise HTTPException(
            422,
            f"end: the range holds more than {MAX_INTERVALS} state intervals; "
            "ask for a shorter range",
        )
    return LineTimeline(
        factory=factory,
        line=line,
        start=start,
        end=end,
        stations=[
            StationTimeline(
                station=station,
                intervals=[
                    StateInterval(start=s.start, end=s.end, state=s.state, reason=s.reason)
                    for s in group
                ],
            )
            for station, group in intervals.per_station(spans)
        ],
    )
