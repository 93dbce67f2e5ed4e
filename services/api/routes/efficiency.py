"""A line's efficiency (OEE) over a range, and per hour, shift or day."""

from __future__ import annotations

from typing import Annotated, Final

from fastapi import APIRouter, Query

from schemas.efficiency import EfficiencyPeriod, LineEfficiency
from services.api import figures
from services.api.auth import FloorReader
from services.api.deps import Database, FactoryPath, LinePath, Now, known_line
from services.api.models import ERRORS, ErrorBody
from services.api.ranges import RANGE_RULES, End, Start, require_range
from services.efficiency.core import Granularity

router = APIRouter(tags=["efficiency"])

_DESCRIPTION: Final = f"""\
OEE of the line over `[start, end)`, {RANGE_RULES}.
Figures are read from per-minute buckets: a minute counts when it starts inside the line's
scheduled time (its shifts minus breaks, in its time zone; all time without shifts). Time
with no known state (before a station's first event) is not planned time.

**No signal.** Time when nothing of any kind was heard from the station for longer than the
line's `stale_after_s` (from `stale_after_s` after its last event until its next one, or
now) is not run time: it is downtime (a breakdown) with the reason `no_signal`, whatever
state the station last reported, except `planned_stop`, which stays a planned stop. The
board shows such a station as stale; `/downtime` and `/timeline` show the same intervals.

**Whose figures.** A line's figures are those of one station, named in `station`: the line's
`constraint_station` where set; else its only station; else, where it has several and names
none, the station that made the most parts (`total_count`) in the range (ties: the first by
name). `station` is null, and every figure 0, while the line has no station yet.

**Now.** A station still in a state counts that state up to now: the minutes from its last
machine event to `min(end, now)` are computed at the time of the call.

**Settings** (`ideal_cycle_time_s`, shifts, time zone) are the line's as stored now, applied
to the whole range; a line with no settings yet is read as all time scheduled, in UTC.

**granularity** (`hour` and `day`: local hours and days of the line's time zone, every one
overlapping the range; `shift`: every shift occurrence overlapping it, with its `name`) adds
`buckets`, one per period clipped to the range, each with the figures of the top level.
Without `granularity` the answer has no `buckets` key.
"""


@router.get(
    "/factories/{factory}/lines/{line}/efficiency",
    summary="A line's efficiency (OEE) over a range",
    description=_DESCRIPTION,
    response_model=LineEfficiency,
    response_model_exclude_unset=True,
    responses={**ERRORS, 404: {"model": ErrorBody, "description": "No such line."}},
)
async def get_line_efficiency(
    factory: FactoryPath,
    line: LinePath,
    start: Start,
    end: End,
    caller: FloorReader,
    pool: Database,
    now: Now,
    granularity: Annotated[
        Granularity | None, Query(description="Add `buckets` per hour, shift or day.")
    ] = None,
) -> LineEfficiency:
    require_range(start, end)
    row = await known_line(pool, scope=caller.scope, factory=factory, line=line)
    settings = row.settings_or_defaults()
    found = await figures.line_figures(
        pool,
        scope=caller.scope,
        factory=factory,
        line=line,
        settings=settings,
        start=start,
        end=end,
        granularity=granularity,
        now=now,
    )
    body: dict[str, object] = {
        "factory": factory,
        "line": line,
        "start": start,
        "end": end,
        "station": found.station,
        **figures.as_body(found.total),
    }
    if granularity is not None:
        body["buckets"] = [
            EfficiencyPeriod.model_validate(
                {
                    "start": period.start,
                    "end": period.end,
                    "name": period.shift,
                    **figures.as_body(of),
                }
            )
            for period, of in found.periods
        ]
    # Validated from a dict, so that `buckets` is "set" (and answered) only when asked for.
    return LineEfficiency.model_validate(body)
