"""A factory's efficiency (OEE) over a range: each line, and the factory as a whole."""

from __future__ import annotations

from typing import Final

from fastapi import APIRouter, HTTPException

from schemas.manager import FactoryEfficiency, FactoryLineEfficiency
from services.api import figures, store
from services.api.auth import FloorReader
from services.api.deps import Database, FactoryPath, Now
from services.api.models import ERRORS, ErrorBody
from services.api.ranges import RANGE_RULES, End, Start, require_range

router = APIRouter(tags=["factory"])

_DESCRIPTION: Final = f"""\
OEE of every line of the factory over `[start, end)`, {RANGE_RULES}; the lines in `lines`,
in order of `line`, and the factory as a whole at the top level.

**Each line** reads exactly as `GET …/lines/{{line}}/efficiency` answers it for the same
range (no `granularity`): its own station, shifts, time zone and ideal cycle time.

**The whole is weighted by planned time**, not a mean of percentages: the lines' totals
(planned, run and ideal time, counts, losses) are summed and the figures computed once from
the sums. A line with little planned time weighs little; a line with none (no station yet,
or nothing scheduled in the range) adds nothing.

**A line without settings** (seen in events, never `PUT`) has no shifts, so all its time
counts as scheduled: a whole day of planned time against the other lines' shifts. While any
line of the factory has settings, such a line is left out of the whole, and says so with
`in_whole: false`; its own figures are still answered. When no line has settings, all count.

A factory is known by its lines (set with `PUT …/lines/{{line}}`, or seen in events); one
with none is 404.

Cost: the lines are read together, in as many statements as one line's call (plus a few
for each line whose station is still in a state now), whatever their number.
"""


@router.get(
    "/factories/{factory}/efficiency",
    summary="A factory's efficiency (OEE) over a range, per line and as a whole",
    description=_DESCRIPTION,
    response_model=FactoryEfficiency,
    responses={**ERRORS, 404: {"model": ErrorBody, "description": "No line in the factory."}},
)
async def get_factory_efficiency(
    factory: FactoryPath, start: Start, end: End, caller: FloorReader, pool: Database, now: Now
) -> FactoryEfficiency:
    require_range(start, end)
    rows = await store.factory_lines(pool, scope=caller.scope, factory=factory)
    if not rows:
        raise HTTPException(404, f"no line in factory {factory!r}")
    answers = await figures.lines_figures(
        pool,
        scope=caller.scope,
        factory=factory,
        lines=[figures.LineAsked(row.line, row.settings_or_defaults()) for row in rows],
        start=start,
        end=end,
        granularity=None,
        now=now,
    )
    found = list(zip(rows, answers, strict=True))
    any_set = any(row.settings is not None for row in rows)
    counted = [row.settings is not None or not any_set for row in rows]
    return FactoryEfficiency(
        factory=factory,
        start=start,
        end=end,
        **figures.as_body(
            figures.combined(of for (_, of), kept in zip(found, counted, strict=True) if kept)
        ),
        lines=[
            FactoryLineEfficiency(
                line=row.line,
                name=row.settings.name if row.settings is not None else None,
                station=of.station,
                in_whole=kept,
                **figures.as_body(of.total),
            )
            for (row, of), kept in zip(found, counted, strict=True)
        ],
    )
