"""Hourly rollups of the minute buckets (``hour_bucket``, migration 0007): how the processor
keeps them exact, and how a reader splits a range between them and the minutes.

**Kept exact.** An hour row is the column-by-column sum of the station's stored minute rows of
that whole UTC hour (``down_by_reason`` summed per reason), and exists exactly when one of them
does. The processor calls `refresh_hours` in the batch's transaction, after it has replaced
the minutes of every station it touched: each hour overlapping a window is recomputed from
``minute_bucket``, so a reader (one statement, one snapshot) never sees the two disagree.

**Read.** `split` cuts intervals into whole UTC hours, read from ``hour_bucket``, and the
minutes at their edges, read from ``minute_bucket``: a minute counts where it *starts* inside
an interval, and a whole hour holds exactly the minutes that start in it, so the sum is that
of the minutes alone. The split is on UTC hours, the intervals being instants already, so a
zone 5:30 or 5:45 from UTC needs nothing more (its local hours are edge minutes and UTC hours).

``ideal_time_s``, the one float, is summed exactly (as numeric, from each minute's shortest
decimal) and turned into a float once per answer, so any grouping of the same minutes gives
the same bits (see the migration).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Final

from services.efficiency.core import Interval
from services.efficiency.store import BUCKET_COLUMNS
from services.runtime.database import Connection

__all__ = ["HOUR", "StationWindow", "ceil_hour", "floor_hour", "refresh_hours", "split"]


StationWindow = tuple[str, str, str, datetime, datetime]
"""``(factory, line, station, start, end)``: minutes of a station replaced over [start, end)."""

HOUR: Final = timedelta(hours=1)


def floor_hour(instant: datetime) -> datetime:
    """The start of the UTC hour of ``instant`` (aware)."""
    return instant.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def ceil_hour(instant: datetime) -> datetime:
    """The first start of a UTC hour at or after ``instant`` (aware)."""
    floor = floor_hour(instant)
    return floor if floor == instant else floor + HOUR


def split(intervals: Iterable[Interval]) -> tuple[list[Interval], list[Interval]]:
    """``(hours, edges)``: per interval ``[a, b)``, the whole UTC hours inside it (one interval
    of hour starts) and the rest at its two ends, together exactly the instants of ``[a, b)``."""
    hours: list[Interval] = []
    edges: list[Interval] = []
    for low, high in intervals:
        first, last = ceil_hour(low), floor_hour(high)
        if first >= last:
            edges.append((low, high))
            continue
        hours.append((first, last))
        edges.extend(piece for piece in ((low, first), (last, high)) if piece[0] < piece[1])
    return hours, edges


def _hour_windows(windows: Iterable[StationWindow]) -> list[StationWindow]:
    """The windows widened to whole UTC hours, merged per station (overlapping or touching)."""
    spans: dict[tuple[str, str, str], list[Interval]] = defaultdict(list)
    for factory, line, station, start, end in windows:
        if start < end:
            spans[(factory, line, station)].append((floor_hour(start), ceil_hour(end)))
    merged: list[StationWindow] = []
    for key, found in spans.items():
        found.sort()
        low, high = found[0]
        for start, end in found[1:]:
            if start > high:
                merged.append((*key, low, high))
                low = start
            high = max(high, end)
        merged.append((*key, low, high))
    return merged


def _summed(column: str) -> str:
    value = "b.ideal_time_s::text::numeric" if column == "ideal_time_s" else f"b.{column}"
    return f"sum({value}) AS {column}"


_REASONS = """coalesce((SELECT jsonb_object_agg(r.key, r.ms ORDER BY r.key)
     FROM (SELECT e.key, sum(e.value::bigint) AS ms
           FROM jsonb_array_elements(
                    jsonb_agg(b.down_by_reason) FILTER (WHERE b.down_by_reason <> '{}')
                ) AS x(reasons),
                jsonb_each_text(x.reasons) AS e
           GROUP BY e.key) AS r), '{}'::jsonb) AS down_by_reason"""

# One statement: the hours of the windows that still have minutes are upserted from their
# sums; those that have none any more are deleted (disjoint rows, so the two do not meet).
# "None any more" is asked of ``minute_bucket`` through its key, one probe per hour row: asked
# of ``summed``, a CTE without an index, it was a nested loop over both (quadratic in the
# stations a batch touches: 3.4 s of a 5,000-station batch). The windows' rows are read
# window by window, a range of the primary key each: ``OFFSET 0`` keeps the planner from
# making the laterals joins, which hashed the whole of both tables every batch once they held
# 300,000 minutes (68 ms for 10 stations, measured).
_REFRESH: Final = f"""
WITH w AS (
    SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[],
                         $5::timestamptz[]) AS w(factory, line, station, low, high)
), summed AS (
    SELECT b.factory, b.line, b.station, date_trunc('hour', b.minute, 'UTC') AS hour,
           {", ".join(_summed(column) for column in BUCKET_COLUMNS)},
           {_REASONS}
    FROM w CROSS JOIN LATERAL (
        SELECT * FROM minute_bucket AS b
        WHERE b.factory = w.factory AND b.line = w.line AND b.station = w.station
            AND b.minute >= w.low AND b.minute < w.high
        OFFSET 0
    ) AS b
    GROUP BY b.factory, b.line, b.station, date_trunc('hour', b.minute, 'UTC')
), gone AS (
    DELETE FROM hour_bucket WHERE ctid = ANY (ARRAY(
        SELECT x.ctid FROM w CROSS JOIN LATERAL (
            SELECT h.ctid FROM hour_bucket AS h
            WHERE h.factory = w.factory AND h.line = w.line AND h.station = w.station
              AND h.hour >= w.low AND h.hour < w.high
              AND NOT EXISTS (SELECT 1 FROM minute_bucket AS b
                              WHERE b.factory = h.factory AND b.line = h.line
                                AND b.station = h.station
                                AND b.minute >= h.hour
                                AND b.minute < h.hour + interval '1 hour')
            OFFSET 0
        ) AS x
    ))
)
INSERT INTO hour_bucket (factory, line, station, hour, {", ".join(BUCKET_COLUMNS)},
                         down_by_reason)
SELECT * FROM summed
ON CONFLICT (factory, line, station, hour) DO UPDATE SET
    {", ".join(f"{c} = EXCLUDED.{c}" for c in (*BUCKET_COLUMNS, "down_by_reason"))}
"""  # noqa: S608 - built from constant column names


async def refresh_hours(connection: Connection, *, windows: Iterable[StationWindow]) -> None:
    """Recompute, from ``minute_bucket``, the stations' hour rows of every UTC hour that
    overlaps their window; one statement for all the windows. Call it in the transaction that
    replaced those minutes, after the last replacement."""
    rows = _hour_windows(windows)
    if not rows:
        return
    columns = list(zip(*rows, strict=True))
    await connection.execute(_REFRESH, *columns)
