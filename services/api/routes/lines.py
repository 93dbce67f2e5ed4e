"""Lines: the list the caller may see, and one line's settings."""

from __future__ import annotations

from typing import Annotated, Final

from fastapi import APIRouter, Body

from schemas.line_settings import LineSettings
from services.api import store
from services.api.auth import LineLister, SettingsReader, SettingsWriter
from services.api.deps import Database, FactoryPath, LinePath, known_line
from services.api.limits import MAX_BODY_BYTES
from services.api.models import (
    ERRORS,
    SETTINGS_EXAMPLE,
    ErrorBody,
    Line,
    LinePage,
    LineSummary,
)
from services.api.pagination import DEFAULT_LIMIT, After, Limit, LinePosition, encode_cursor

router = APIRouter(tags=["lines"])

_PUT_DESCRIPTION: Final = f"""\
Store the line's settings, creating the line if it is not known yet. The body replaces the
whole settings object: a setting left out takes its default, it does not keep its old value.
An unknown setting is refused (422), so that a misspelt name cannot silently change nothing.
The body may be at most {MAX_BODY_BYTES // 1024} KiB (413 above).

**How a change applies to figures already computed.** Per-minute buckets hold only figures
that do not depend on the schedule.

- The schedule (`shifts` with their breaks, and `timezone`), `ideal_cycle_time_s` (used for
  parts whose order gives no cycle time) and `constraint_station` (whose figures are the
  line's) are applied when figures are read. A change of these applies to
  past and future figures alike.
- `small_stop_threshold_s` and `stale_after_s` are applied when figures are computed. A change
  of these applies to the minutes computed after it; minutes already computed keep the old
  value.
- `materials` (the kanban reorder rules) applies at once: each material's quantity on hand is
  checked against its new rule, and the cards it needs are raised then, as a level event would
  have raised them. An open card is closed only by a `replenished` material event, whatever
  the settings.
"""


def _line(row: store.LineRow) -> Line:
    return Line(
        factory=row.factory, line=row.line, settings=row.settings, updated_at=row.updated_at
    )


@router.get(
    "/lines",
    summary="The lines the caller may see",
    description="Lines in (factory, line) order, a page at a time. Follow `next` (as `after`) "
    "until it is null. A line known only from its events has a null `name`.",
    responses=ERRORS,
)
async def list_lines(
    caller: LineLister, pool: Database, after: After, limit: Limit = DEFAULT_LIMIT
) -> LinePage:
    rows = await store.list_lines(pool, scope=caller.scope, after=after, limit=limit + 1)
    page, more = rows[:limit], len(rows) > limit
    last = page[-1] if page else None
    return LinePage(
        items=[LineSummary(factory=r.factory, line=r.line, name=r.name) for r in page],
        next=encode_cursor(LinePosition(last.factory, last.line)) if more and last else None,
    )


@router.put(
    "/factories/{factory}/lines/{line}",
    summary="Set a line's settings",
    description=_PUT_DESCRIPTION,
    responses={
        **ERRORS,
        400: {
            "model": ErrorBody,
            "description": "The body cannot be decoded at all (not UTF-8; code bad_request).",
        },
        422: {
            "model": ErrorBody,
            "description": "A setting is invalid or unknown, or the body is not JSON "
            "(code invalid_request, the message naming the field).",
        },
        404: {"model": ErrorBody, "description": "The factory is not one of the token's."},
        413: {"model": ErrorBody, "description": "The body is over 64 KiB."},
    },
)
async def put_line_settings(
    factory: FactoryPath,
    line: LinePath,
    settings: Annotated[
        LineSettings,
        Body(
            openapi_examples={
                "press line": {
                    "summary": "Two shifts, one across midnight",
                    "value": SETTINGS_EXAMPLE,
                }
            }
        ),
    ],
    caller: SettingsWriter,
    pool: Database,
) -> Line:
    row = await store.upsert_line_settings(
        pool, scope=caller.scope, factory=factory, line=line, settings=settings
    )
    return _line(row)


@router.get(
    "/factories/{factory}/lines/{line}",
    summary="A line and its settings",
    description="The line's settings as last stored; `settings` is null for a line known only "
    "from its events. 404 for a line not known at all.",
    responses={**ERRORS, 404: {"model": ErrorBody, "description": "No such line."}},
)
async def get_line(
    factory: FactoryPath, line: LinePath, caller: SettingsReader, pool: Database
) -> Line:
    row = await known_line(pool, scope=caller.scope, factory=factory, line=line)
    return _line(row)
