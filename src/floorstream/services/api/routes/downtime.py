"""A line's stops ranked (a Pareto) and its stations' state timeline, over a range.

Both read the state intervals of `floorstream.services.api.intervals`, from the machine
events the efficiency processor stores.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any, Final

from asyncpg import Pool
from fastapi import APIRouter, HTTPException

from floorstream.schemas.manager import (
    LineDowntime,
    LineTimeline,
    ReasonDowntime,
    StateInterval,
    StationDowntime,
    StationTimeline,
)
from floorstream.services.api import intervals, store
from floorstream.services.api.auth import FloorReader, Principal
from floorstream.services.api.deps import Database, FactoryPath, LinePath, Now
from floorstream.services.api.models import ERRORS, ErrorBody
from floorstream.services.api.ranges import RANGE_RULES, End, Start, require_range

router = APIRouter(tags=["downtime"])

MAX_INTERVALS: Final = 10_000
"""The most state intervals one timeline answers; a range with more is refused (422)."""

_INTERVALS: Final = """\
**State intervals.** Each machine event of a station puts it in the event's state until the
station's next machine event; the last one lasts until `min(end, now)`. Intervals are
clipped to the range, and the state in force at `start` (from the last event before it)
counts from `start`. Of several events at the same millisecond the last (by state, reason,
event id) is in force, as in the OEE figures.

**All time in the range counts**: the line's shifts and breaks are not applied here, and
stops shorter than `small_stop_threshold_s` are not set apart.
"""

_DOWNTIME: Final = f"""\
The line's stops over `[start, end)`, {RANGE_RULES}, ranked by total duration (a Pareto):
`by_reason` and `by_station`, each longest first (ties by name), with how many stops and
each one's `share` of `total_stop_s`.

A **stop** is an interval in `down`, `setup`, `idle`, `starved`, `blocked` or `offline`
(not `running`, not `planned_stop`). Its reason is the machine event's `reason`, or the
state's name where it gave none (`"setup"`); the same reason in two states is two entries.
Every interval overlapping the range counts once in `count` and `stop_count`: a station that
goes from down (jam) to down (motor) has two stops. Durations are the parts inside the
range, in seconds (microsecond exact); stations' stops add up (two stations down for an hour
at once: two hours).

{_INTERVALS}"""

_TIMELINE: Final = f"""\
Each station's state intervals over `[start, end)`, {RANGE_RULES}, for a shift timeline:
stations in name order, each one's intervals in time order, `start` and `end` in UTC.
Stations with no interval in the range are left out.

At most {MAX_INTERVALS:,} intervals in all: a range with more is refused with 422 (ask for
a shorter range).

{_INTERVALS}"""

_NOT_FOUND: Final[dict[int | str, dict[str, Any]]] = {
    404: {"model": ErrorBody, "description": "No such line."}
}


async def _require_line(pool: Pool, caller: Principal, factory: str, line: str) -> None:
    if await store.get_line(pool, scope=caller.scope, factory=factory, line=line) is None:
        raise HTTPException(404, f"no line {line!r} in factory {factory!r}")


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
    await _require_line(pool, caller, factory, line)
    tallies = await intervals.line_stops(
        pool, scope=caller.scope, factory=factory, line=line, start=start, end=end, now=now
    )
    ranked = intervals.pareto(tallies)
    return LineDowntime(
        factory=factory,
        line=line,
        start=start,
        end=end,
        total_stop_s=ranked.total_stop_s,
        stop_count=ranked.stop_count,
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
    await _require_line(pool, caller, factory, line)
    spans = await intervals.line_timeline(
        pool,
        scope=caller.scope,
        factory=factory,
        line=line,
        start=start,
        end=end,
        now=now,
        limit=MAX_INTERVALS + 1,
    )
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
