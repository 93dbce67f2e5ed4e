"""A line now: stations and their andon, operators, materials, and the current order."""

from __future__ import annotations

from typing import Final

from fastapi import APIRouter

from kanban.performance import recent_window
from kanban.status import line_status
from schemas.floor_state import LineStatus
from services.api import floor_status
from services.api.auth import FloorReader
from services.api.deps import Database, FactoryPath, LinePath, Now, known_line
from services.api.models import ERRORS, ErrorBody

router = APIRouter(tags=["status"])

_DESCRIPTION: Final = """\
The line's live floor state at `at` (now): every station heard of, the operators checked in
(one checked out is not listed), every material with its level and shortage, and the work
order started last with its target against the parts made. Thresholds are the line's settings
(`stale_after_s` 300, `stop_alert_after_s` 600, `slow_below` 0.8 by default). A line known but
with no floor state yet answers empty lists, a null `order` and `andon` `unknown`.

**A station's andon**, the first rule that applies: `stale` when silent (no event of any kind)
for more than `stale_after_s`, whatever its state; `unknown` before its first machine event;
state `running`: `running_slow` when `performance_10min` is below `slow_below`, else `running`;
`planned_stop`: `stopped`, never escalated; `down`, `setup`, `idle`, `starved`, `blocked`,
`offline`: `stopped_too_long` once in that state for `stop_alert_after_s` or more, else
`stopped`.

**The line's andon** is the worst of its stations': `stopped_too_long` > `stopped` > `stale` >
`running_slow` > `running` > `unknown` (`unknown` without stations). The line is `stale` when its
latest event is older than `stale_after_s`, or when there is none.

**performance_10min** (running stations only) is ideal time / run time over the 10 whole
minutes before the current one, from the per-minute buckets: run time is time running plus
small stops; ideal time is that of the parts made under an order naming its cycle time, plus
the other parts × the line's `ideal_cycle_time_s`. It is null without run time in those
minutes, or when the line has no `ideal_cycle_time_s` and some part (or no part at all) had no
cycle time from its order.

**The order** is the one started last, `done` once its end is at or before now. Its parts are
those of `station`: the line's `constraint_station`, else the station with the most good parts
in the order (ties: first by name). With elapsed = min(now, ended_at) − started_at and the
order's ideal cycle time (else the line's): `expected_count` = min(target, ⌊elapsed / cycle⌋)
(null without a cycle time), `efficiency` = good / expected (null when expected is 0 or null),
`remaining` = max(0, target − good), `projected_finish` = now + remaining × elapsed / good
while running with a good part made and parts remaining (else null).

**cards** are the line's open material replenishment cards (see the kanban calls).
"""


@router.get(
    "/factories/{factory}/lines/{line}/status",
    summary="A line now: stations, operators, materials and the current order",
    description=_DESCRIPTION,
    response_model=LineStatus,
    responses={**ERRORS, 404: {"model": ErrorBody, "description": "No such line."}},
)
async def get_line_status(
    factory: FactoryPath, line: LinePath, caller: FloorReader, pool: Database, now: Now
) -> LineStatus:
    row = await known_line(pool, scope=caller.scope, factory=factory, line=line)
    floor = await floor_status.read_floor(
        pool,
        scope=caller.scope,
        factory=factory,
        line=line,
        window=recent_window(now),
        now=now,
    )
    return line_status(
        floor,
        factory=factory,
        line=line,
        name=row.settings.name if row.settings is not None else None,
        settings=row.settings_or_defaults(),
        now=now,
    )
