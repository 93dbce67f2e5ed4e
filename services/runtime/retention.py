"""Retention: raw events older than the retention period are deleted, in small batches.

What is kept for ever: the per-minute figures (``minute_bucket``) and the live floor state
(``station_state``, ``operator_presence``, ``material_stock``, ``work_order``). What is
deleted: the raw events the processors re-read (``station_event``, ``production_minute``,
``floor_event``, ``floor_production_minute``) older than the cutoff, and the silences derived
from them (``station_silence``) that end before it, except the anchors a fold still needs:
per station its latest machine event before the cutoff (the state it was in when the retained
time begins) and per line its latest order event before the cutoff (the order running then).
The processors skip events older than the cutoff, which could only be folded against deleted
neighbours.

Several processor replicas may run this loop; a session advisory lock lets one work at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Final

import asyncpg
from asyncpg import Pool

from services.runtime.outage import Outage

log = logging.getLogger(f"floorstream.{__name__}")

_LOCK_KEY: Final = 0x7265746E  # "retn"
BATCH: Final = 10_000

_PURGE_STATION_EVENTS: Final = """
WITH keep AS (
    (SELECT DISTINCT ON (factory, line, station) factory, line, event_id
     FROM station_event WHERE kind = 'machine' AND ts < $1
     ORDER BY factory, line, station, ts DESC, event_id DESC)
    UNION ALL
    (SELECT DISTINCT ON (factory, line) factory, line, event_id
     FROM station_event WHERE kind = 'order' AND ts < $1
     ORDER BY factory, line, ts DESC, event_id DESC)
), doomed AS (
    SELECT e.factory, e.line, e.event_id FROM station_event e
    WHERE e.ts < $1 AND NOT EXISTS (
        SELECT 1 FROM keep k
        WHERE k.factory = e.factory AND k.line = e.line AND k.event_id = e.event_id)
    LIMIT $2
)
DELETE FROM station_event s USING doomed d
WHERE s.factory = d.factory AND s.line = d.line AND s.event_id = d.event_id
"""

# A row of `production_minute` holds reports of its minute only: all before the cutoff when
# its minute ends at or before it.
_PURGE_PRODUCTION: Final = """
WITH doomed AS (
    SELECT factory, line, station, minute FROM production_minute
    WHERE minute <= $1::timestamptz - interval '1 minute' LIMIT $2
)
DELETE FROM production_minute p USING doomed d
WHERE p.factory = d.factory AND p.line = d.line AND p.station = d.station
  AND p.minute = d.minute
"""

# The floor-state processor's production (migration 0014), by the same rule.
_PURGE_FLOOR_PRODUCTION: Final = """
WITH doomed AS (
    SELECT factory, line, station, minute FROM floor_production_minute
    WHERE minute <= $1::timestamptz - interval '1 minute' LIMIT $2
)
DELETE FROM floor_production_minute p USING doomed d
WHERE p.factory = d.factory AND p.line = d.line AND p.station = d.station
  AND p.minute = d.minute
"""

_PURGE_FLOOR_EVENTS: Final = """
WITH doomed AS (
    SELECT factory, line, event_id FROM floor_event WHERE ts < $1 LIMIT $2
)
DELETE FROM floor_event f USING doomed d
WHERE f.factory = d.factory AND f.line = d.line AND f.event_id = d.event_id
"""


_PURGE_SILENCES: Final = """
WITH doomed AS (
    SELECT factory, line, station, start FROM station_silence WHERE "end" < $1 LIMIT $2
)
DELETE FROM station_silence x USING doomed d
WHERE x.factory = d.factory AND x.line = d.line AND x.station = d.station
  AND x.start = d.start
"""


async def _purge_once(pool: Pool, *, before: datetime) -> None:
    async with pool.acquire() as connection:
        if not await connection.fetchval("SELECT pg_try_advisory_lock($1)", _LOCK_KEY):
            return  # another replica is at it
        try:
            deleted = await purge(pool, before=before)
        finally:
            await connection.execute("SELECT pg_advisory_unlock($1)", _LOCK_KEY)
    if deleted:
        log.info(
            "retention: deleted %d row(s) of raw events before %s", deleted, before.isoformat()
        )


def _deleted(status: str) -> int:
    # asyncpg answers a DELETE with its command tag, "DELETE <rows>".
    return int(status.rsplit(" ", 1)[-1])


async def purge(pool: Pool, *, before: datetime, batch: int = BATCH) -> int:
    """Delete the raw events older than ``before`` (anchors kept); return how many rows went
    (a row of ``production_minute`` or ``floor_production_minute`` holds a station's reports
    of one minute).

    Each batch is its own short transaction, so processors are never held up for long.
    """
    total = 0
    for statement in (
        _PURGE_STATION_EVENTS,
        _PURGE_PRODUCTION,
        _PURGE_FLOOR_EVENTS,
        _PURGE_FLOOR_PRODUCTION,
        _PURGE_SILENCES,
    ):
        while True:
            deleted = _deleted(await pool.execute(statement, before, batch))
            total += deleted
            if deleted < batch:
                break
    return total


async def keep_purging(
    pool: Pool,
    *,
    retention: timedelta,
    clock: Callable[[], datetime],
    stop: asyncio.Event,
    every: timedelta = timedelta(hours=1),
) -> None:
    """Purge at start-up and then every ``every`` until ``stop``; one replica at a time."""
    outage = Outage(log, "retention: database", detail=f"purging again every {every}")
    while not stop.is_set():
        try:
            await _purge_once(pool, before=clock() - retention)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
            outage.failed(error)  # try again at the next round
        else:
            outage.recovered()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every.total_seconds())
