"""Data access of the API: keyword-only functions over the asyncpg pool, one statement each.

The efficiency reads sum the stored ``minute_bucket`` columns in SQL; only a live tail reads
a few ``station_event`` rows (see `floorstream.services.api.figures`).

``line.settings`` is ``{}`` for a line known only from its events; such a line has no
settings yet, which these functions answer as ``None``.

Every function takes the caller's ``scope``: one of a single factory refuses a factory outside
it (`floorstream.services.api.scope.OutOfScope`) before any statement; `list_lines` filters by
it in SQL.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from asyncpg import Pool

from floorstream.schemas.line_settings import LineSettings
from floorstream.services.api.pagination import LineKey
from floorstream.services.api.scope import Scope
from floorstream.services.efficiency.core import Interval, MinuteBucket
from floorstream.services.efficiency.store import BUCKET_COLUMNS


@dataclass(frozen=True, slots=True)
class LineRow:
    """A line and its settings as stored (None before any PUT)."""

    factory: str
    line: str
    settings: LineSettings | None
    updated_at: datetime

    def settings_or_defaults(self) -> LineSettings:
        """The stored settings, or the defaults (UTC, no shifts) for a line that has none."""
        return self.settings if self.settings is not None else LineSettings(name=self.line)


@dataclass(frozen=True, slots=True)
class LineListing:
    """A line as listed: its key and the name from its settings, if any."""

    factory: str
    line: str
    name: str | None


def _settings(value: str) -> LineSettings | None:
    # asyncpg answers jsonb as text: validated as JSON once, here. "{}" means "none yet".
    return None if json.loads(value) == {} else LineSettings.model_validate_json(value)


def _line_row(record: Any) -> LineRow:
    return LineRow(
        factory=record["factory"],
        line=record["line"],
        settings=_settings(record["settings"]),
        updated_at=record["updated_at"],
    )


_UPSERT = """
INSERT INTO line (factory, line, settings) VALUES ($1, $2, $3::jsonb)
ON CONFLICT (factory, line) DO UPDATE SET settings = EXCLUDED.settings, updated_at = now()
RETURNING factory, line, settings, updated_at
"""


async def upsert_line_settings(
    pool: Pool, *, scope: Scope, factory: str, line: str, settings: LineSettings
) -> LineRow:
    """Store ``settings`` as the line's whole settings, creating the line if it is new."""
    scope.require(factory)
    record = await pool.fetchrow(_UPSERT, factory, line, settings.model_dump_json())
    return _line_row(record)


async def get_line(pool: Pool, *, scope: Scope, factory: str, line: str) -> LineRow | None:
    """The line, or None where it is not known."""
    scope.require(factory)
    record = await pool.fetchrow(
        "SELECT factory, line, settings, updated_at FROM line WHERE factory = $1 AND line = $2",
        factory,
        line,
    )
    return None if record is None else _line_row(record)


async def factory_lines(pool: Pool, *, scope: Scope, factory: str) -> list[LineRow]:
    """The factory's lines with their settings, in order of ``line`` (code points)."""
    scope.require(factory)
    records = await pool.fetch(
        "SELECT factory, line, settings, updated_at FROM line WHERE factory = $1"
        ' ORDER BY line COLLATE "C"',
        factory,
    )
    return [_line_row(record) for record in records]


_PAGE = """
SELECT factory, line, settings->>'name' AS name FROM line
WHERE ($1::text IS NULL OR (factory, line) > ($1::text, $2::text))
  AND ($4::text[] IS NULL OR factory = ANY($4::text[]))
ORDER BY factory, line
LIMIT $3
"""


async def list_lines(
    pool: Pool, *, scope: Scope, after: LineKey | None, limit: int
) -> list[LineListing]:
    """Up to ``limit`` lines of the scope's factories in (factory, line) order, from just
    after ``after``."""
    factory, line = after if after is not None else (None, None)
    records = await pool.fetch(_PAGE, factory, line, limit, scope.sql())
    return [LineListing(r["factory"], r["line"], r["name"]) for r in records]


# --- Efficiency: the per-minute buckets and the few events of a live tail -------------------


def _summed(column: str) -> str:
    kind = "double precision" if column == "ideal_time_s" else "bigint"
    return f"coalesce(sum(b.{column}), 0)::{kind} AS {column}"


# The columns of ``minute_bucket`` summed per group of intervals (``down_by_reason`` is not:
# no answer here reads it). A group's intervals are disjoint (scheduled time, or one period's
# share of it), so a minute joins at most one interval of a group: none counts twice.
_SUM_GROUPS = f"""
SELECT s.g AS grp, {", ".join(_summed(column) for column in BUCKET_COLUMNS)}
FROM unnest($5::int[], $6::timestamptz[], $7::timestamptz[]) AS s(g, a, b_end)
JOIN minute_bucket AS b
  ON b.factory = $1 AND b.line = $2 AND b.station = $3
 AND b.minute >= s.a AND b.minute < s.b_end AND b.minute < $4
GROUP BY s.g
"""  # noqa: S608 - built from constant column names


async def sum_buckets(
    pool: Pool,
    *,
    scope: Scope,
    factory: str,
    line: str,
    station: str,
    groups: Sequence[Sequence[Interval]],
    before: datetime,
) -> list[MinuteBucket]:
    """Per group of UTC intervals, the station's stored buckets summed column by column.

    A bucket counts in a group when its minute starts inside one of the group's intervals
    (disjoint within a group) and before ``before``. A missing row is unknown time and adds
    nothing; a group with no row sums to a bucket of zeros. One statement, one aggregate.
    """
    scope.require(factory)
    ids, starts, ends = [], [], []
    for index, intervals in enumerate(groups):
        for low, high in intervals:
            ids.append(index)
            starts.append(low)
            ends.append(high)
    sums = [MinuteBucket(unknown_ms=0) for _ in groups]
    if not ids:
        return sums
    records = await pool.fetch(_SUM_GROUPS, factory, line, station, before, ids, starts, ends)
    for record in records:
        sums[record["grp"]] = MinuteBucket(**{name: record[name] for name in BUCKET_COLUMNS})
    return sums


# Stations of the line: a loose index scan of each table (distinct stations without reading
# every row), then each one's parts in the range, from the buckets.
_STATIONS = """
WITH RECURSIVE in_buckets(station) AS (
    SELECT min(station) FROM minute_bucket WHERE factory = $1 AND line = $2
    UNION ALL
    SELECT (SELECT min(m.station) FROM minute_bucket m
            WHERE m.factory = $1 AND m.line = $2 AND m.station > s.station)
    FROM in_buckets s WHERE s.station IS NOT NULL
), in_events(station) AS (
    SELECT min(station) FROM station_event WHERE factory = $1 AND line = $2
    UNION ALL
    SELECT (SELECT min(e.station) FROM station_event e
            WHERE e.factory = $1 AND e.line = $2 AND e.station > s.station)
    FROM in_events s WHERE s.station IS NOT NULL
), stations(station) AS (
    SELECT station FROM in_buckets WHERE station IS NOT NULL
    UNION
    SELECT s.station FROM in_events s
    WHERE s.station IS NOT NULL AND EXISTS (
        SELECT 1 FROM station_event e
        WHERE e.factory = $1 AND e.line = $2 AND e.station = s.station AND e.kind = 'machine')
)
SELECT s.station,
       (SELECT coalesce(sum(m.total_count), 0) FROM minute_bucket m
        WHERE m.factory = $1 AND m.line = $2 AND m.station = s.station
          AND m.minute >= $3 AND m.minute < $4) AS parts
FROM stations s
ORDER BY parts DESC, s.station
"""


async def stations_by_parts(
    pool: Pool, *, scope: Scope, factory: str, line: str, start: datetime, end: datetime
) -> list[tuple[str, int]]:
    """The line's stations (with buckets, or with machine events) and their parts made in
    ``[start, end)``, most parts first, then by name."""
    scope.require(factory)
    records = await pool.fetch(_STATIONS, factory, line, start, end)
    return [(r["station"], r["parts"]) for r in records]


async def last_machine_change(
    pool: Pool, *, scope: Scope, factory: str, line: str, station: str
) -> datetime | None:
    """When the station's state last changed, or None before its first machine event."""
    scope.require(factory)
    value: datetime | None = await pool.fetchval(
        "SELECT max(ts) FROM station_event"
        " WHERE factory = $1 AND line = $2 AND station = $3 AND kind = 'machine'",
        factory,
        line,
        station,
    )
    return value
