"""The efficiency processor's tables as the API reads them: its read side, beside its store.

The processor writes ``station_event``, ``station_silence``, ``minute_bucket`` and
``hour_bucket`` (`store`); the API reads them only through this module. Keyword-only functions
over a connection, a few statements each whatever the number of lines: each line's station and
its stored buckets summed (whole UTC hours from ``hour_bucket``, the minutes at their edges
from ``minute_bucket``, in one statement: `rollup`), what a live tail folds again, and what a
timeline is drawn from. The caller opens the snapshot: one read-only repeatable-read
transaction around all the reads of one answer, so that they see the tables as one commit of
the processor left them.

A function that takes a ``scope`` refuses a factory outside it before any statement.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from kanban.performance import RunWindow
from schemas.types import MachineState, OrderAction
from services.efficiency.core import Interval, MinuteBucket
from services.efficiency.rollup import split
from services.efficiency.store import (
    BUCKET_COLUMNS,
    EVENT_KINDS,
    Change,
    Made,
    OrderRow,
    Silence,
)
from services.runtime.database import Connection, Scope

__all__ = [
    "Chosen",
    "Scope",
    "SumTarget",
    "TimelineInputs",
    "choose_stations",
    "fold_inputs",
    "heard_silences",
    "recent_runs",
    "sum_buckets",
    "timeline_inputs",
]


@dataclass(frozen=True, slots=True)
class Chosen:
    """A line's station (None: it has none yet) and that station's last machine change."""

    station: str | None
    last_change: datetime | None


# Per line (in order): the named station, else the only one, else the one with the most parts
# in [start, end) (ties: the first by name). Stations: a loose index scan of each table
# (distinct stations without reading every row). Parts: whole hours + edge minutes of the range.
_STATIONS: Final = """
SELECT c.station,
       (SELECT max(e.ts) FROM station_event AS e
        WHERE e.factory = $1 AND e.line = l.line AND e.station = c.station
          AND e.kind = 'machine') AS last_change
FROM unnest($2::text[], $3::text[]) WITH ORDINALITY AS l(line, named, i)
CROSS JOIN LATERAL (SELECT coalesce(l.named, (
    WITH RECURSIVE in_buckets(station) AS (
        SELECT min(station) FROM hour_bucket WHERE factory = $1 AND line = l.line
        UNION ALL
        SELECT (SELECT min(h.station) FROM hour_bucket AS h
                WHERE h.factory = $1 AND h.line = l.line AND h.station > s.station)
        FROM in_buckets AS s WHERE s.station IS NOT NULL
    ), in_events(station) AS (
        SELECT min(station) FROM station_event WHERE factory = $1 AND line = l.line
        UNION ALL
        SELECT (SELECT min(e.station) FROM station_event AS e
                WHERE e.factory = $1 AND e.line = l.line AND e.station > s.station)
        FROM in_events AS s WHERE s.station IS NOT NULL
    ), stations(station) AS (
        SELECT station FROM in_buckets WHERE station IS NOT NULL
        UNION
        SELECT s.station FROM in_events AS s
        WHERE s.station IS NOT NULL AND EXISTS (
            SELECT 1 FROM station_event AS e
            WHERE e.factory = $1 AND e.line = l.line AND e.station = s.station
              AND e.kind = 'machine')
    )
    SELECT s.station FROM stations AS s
    ORDER BY CASE WHEN (SELECT count(*) FROM stations) = 1 THEN 0 ELSE
        (SELECT coalesce(sum(h.total_count), 0) FROM hour_bucket AS h
         WHERE h.factory = $1 AND h.line = l.line AND h.station = s.station
           AND h.hour >= $4 AND h.hour < $5)
      + (SELECT coalesce(sum(m.total_count), 0)
         FROM unnest($6::timestamptz[], $7::timestamptz[]) AS x(low, high)
         JOIN minute_bucket AS m
           ON m.factory = $1 AND m.line = l.line AND m.station = s.station
          AND m.minute >= x.low AND m.minute < x.high)
    END DESC, s.station
    LIMIT 1)) AS station OFFSET 0) AS c  -- OFFSET 0: chosen once, not again per event row
ORDER BY l.i
"""


async def choose_stations(
    connection: Connection,
    *,
    scope: Scope,
    factory: str,
    lines: Sequence[tuple[str, str | None]],
    start: datetime,
    end: datetime,
) -> list[Chosen]:
    """Per ``(line, constraint_station)``, in order: the station whose figures are the line's
    over ``[start, end)`` (the named one; else the only station with buckets or machine
    events; else the one with most parts in the range, ties by name), and its last change."""
    scope.require(factory)
    if not lines:
        return []
    hours, edges = split([(start, end)])
    low, high = hours[0] if hours else (start, start)
    records = await connection.fetch(
        _STATIONS,
        factory,
        [line for line, _ in lines],
        [named for _, named in lines],
        low,
        high,
        [a for a, _ in edges],
        [b for _, b in edges],
    )
    return [Chosen(r["station"], r["last_change"]) for r in records]


@dataclass(frozen=True, slots=True)
class SumTarget:
    """What to sum for one line: its station's buckets over each group of intervals (UTC,
    disjoint within a group), only minutes before ``before``."""

    line: str
    station: str
    groups: Sequence[Sequence[Interval]]
    before: datetime


def _summed(column: str) -> str:
    kind = "double precision" if column == "ideal_time_s" else "bigint"
    return f"coalesce(sum(u.{column}), 0)::{kind} AS {column}"


def _piece(table: str, key: str, ideal: str, first: int) -> str:
    g, line, station, low, high = (f"${n}" for n in range(first, first + 5))
    columns = ", ".join(f"b.{c}" for c in BUCKET_COLUMNS if c != "ideal_time_s")
    return f"""
SELECT s.g, {columns}, {ideal} AS ideal_time_s
FROM unnest({g}::int[], {line}::text[], {station}::text[], {low}::timestamptz[],
            {high}::timestamptz[]) AS s(g, line, station, low, high)
JOIN {table} AS b ON b.factory = $1 AND b.line = s.line AND b.station = s.station
 AND b.{key} >= s.low AND b.{key} < s.high
"""  # noqa: S608 - built from constant names


# Every group of every line: its whole hours from hour_bucket, its edge minutes from
# minute_bucket, summed together. ideal_time_s is summed exactly as numeric (see `rollup`),
# turned into a float once. A group's intervals are disjoint, so no minute counts twice.
_UNION: Final = (
    _piece("hour_bucket", "hour", "b.ideal_time_s", 2)
    + "UNION ALL"
    + _piece("minute_bucket", "minute", "b.ideal_time_s::text::numeric", 7)
)
_SUM_GROUPS: Final = f"""
SELECT u.g AS grp, {", ".join(_summed(column) for column in BUCKET_COLUMNS)}
FROM ({_UNION}) AS u
GROUP BY u.g
"""  # noqa: S608 - built from constant column names


_NOTHING: Final = MinuteBucket(unknown_ms=0)


@dataclass(slots=True)
class _Pieces:
    groups: list[int]
    lines: list[str]
    stations: list[str]
    lows: list[datetime]
    highs: list[datetime]

    def add(self, group: int, target: SumTarget, intervals: Sequence[Interval]) -> None:
        for low, high in intervals:
            self.groups.append(group)
            self.lines.append(target.line)
            self.stations.append(target.station)
            self.lows.append(low)
            self.highs.append(high)

    def columns(self) -> tuple[list[int], list[str], list[str], list[datetime], list[datetime]]:
        return self.groups, self.lines, self.stations, self.lows, self.highs


async def sum_buckets(
    connection: Connection, *, scope: Scope, factory: str, targets: Sequence[SumTarget]
) -> list[list[MinuteBucket]]:
    """Per target, per group: the station's stored buckets summed column by column.

    A bucket counts in a group when its minute starts inside one of the group's intervals and
    before the target's ``before``. A missing row is unknown time and adds nothing; a group
    with no row sums to a bucket of zeros. One statement for all the targets.
    """
    scope.require(factory)
    hours, edges = _Pieces([], [], [], [], []), _Pieces([], [], [], [], [])
    index: list[tuple[int, int]] = []
    for number, target in enumerate(targets):
        for place, intervals in enumerate(target.groups):
            clipped = [(low, min(high, target.before)) for low, high in intervals]
            whole, edge = split((low, high) for low, high in clipped if low < high)
            hours.add(len(index), target, whole)
            edges.add(len(index), target, edge)
            index.append((number, place))
    sums = [[_NOTHING] * len(target.groups) for target in targets]
    if not hours.groups and not edges.groups:
        return sums
    records = await connection.fetch(_SUM_GROUPS, factory, *hours.columns(), *edges.columns())
    for record in records:
        number, place = index[record["grp"]]
        sums[number][place] = MinuteBucket(**{name: record[name] for name in BUCKET_COLUMNS})
    return sums


# --- What a live tail folds again ------------------------------------------------------

_ORDERS = """
SELECT event_id, ts, action, order_id, ideal_cycle_time_s FROM station_event
WHERE factory = $1 AND line = $2 AND kind = 'order' AND ts <= $4
  AND ts >= coalesce(
      (SELECT max(ts) FROM station_event
       WHERE factory = $1 AND line = $2 AND kind = 'order' AND action = 'start' AND ts < $3),
      $3)
"""


async def fold_inputs(
    connection: Connection,
    *,
    scope: Scope,
    factory: str,
    line: str,
    station: str,
    since: datetime,
    until: datetime,
) -> tuple[list[Change], list[Made], list[OrderRow]]:
    """What `fold_station` needs for a window whose context is ``[since, until]``: the station's
    changes in it with the one before and the one after, its production in it, and the line's
    orders up to ``until`` from the last ``start`` before ``since`` on."""
    scope.require(factory)
    changes = await connection.fetch(
        "(SELECT event_id, ts, state, reason FROM station_event WHERE factory = $1 AND line = $2"
        "  AND station = $3 AND kind = 'machine' AND ts >= $4 AND ts <= $5)"
        " UNION (SELECT event_id, ts, state, reason FROM station_event WHERE factory = $1"
        "  AND line = $2 AND station = $3 AND kind = 'machine' AND ts = (SELECT max(ts) FROM"
        "  station_event WHERE factory = $1 AND line = $2 AND station = $3 AND kind = 'machine'"
        "  AND ts < $4))"
        " UNION (SELECT event_id, ts, state, reason FROM station_event WHERE factory = $1"
        "  AND line = $2 AND station = $3 AND kind = 'machine' AND ts = (SELECT min(ts) FROM"
        "  station_event WHERE factory = $1 AND line = $2 AND station = $3 AND kind = 'machine'"
        "  AND ts > $5))",
        factory,
        line,
        station,
        since,
        until,
    )
    made = await connection.fetch(
        "SELECT id::text AS event_id, ts, good, scrap FROM production_report WHERE factory = $1"
        " AND line = $2 AND station = $3 AND minute >= date_trunc('minute', $4::timestamptz,"
        " 'UTC') AND minute <= $5 AND ts >= $4 AND ts <= $5",
        factory,
        line,
        station,
        since,
        until,
    )
    orders = await connection.fetch(_ORDERS, factory, line, since, until)
    return (
        [Change(r["event_id"], r["ts"], MachineState(r["state"]), r["reason"]) for r in changes],
        [Made(r["event_id"], r["ts"], r["good"], r["scrap"]) for r in made],
        [
            OrderRow(
                r["event_id"],
                r["ts"],
                OrderAction(r["action"]),
                r["order_id"],
                r["ideal_cycle_time_s"],
            )
            for r in orders
        ],
    )


async def heard_silences(
    connection: Connection,
    *,
    scope: Scope,
    factory: str,
    line: str,
    station: str,
    since: datetime,
    until: datetime,
) -> tuple[list[Silence], datetime | None]:
    """The station's stored silences overlapping ``[since, until]``, and the time of its last
    event of any kind up to ``until`` (where its open silence starts from)."""
    scope.require(factory)
    silences = await connection.fetch(
        'SELECT start, "end" FROM station_silence WHERE factory = $1 AND line = $2'
        ' AND station = $3 AND start < $5 AND "end" > $4 ORDER BY start',
        factory,
        line,
        station,
        since,
        until,
    )
    heard = await connection.fetchval(
        # the latest report up to $4 is the latest strictly before $4 + 1 µs
        "SELECT greatest(max(h.ts),"  # noqa: S608 - built from constants
        " production_before($1, $2, $3, $4::timestamptz + interval '1 microsecond'))"
        f" FROM unnest({EVENT_KINDS}) AS k(kind) CROSS JOIN LATERAL ("
        " SELECT max(e.ts) AS ts FROM station_event e WHERE e.factory = $1 AND e.line = $2"
        " AND e.station = $3 AND e.kind = k.kind AND e.ts <= $4) AS h",
        factory,
        line,
        station,
        until,
    )
    return [(r["start"], r["end"]) for r in silences], heard


# --- What a timeline is drawn from ----------------------------------------------------------

# $1 factory, $2 line, $3 since, $4 until. The stations come from a loose index scan, and
# each one's change before $3 and after $4 from an index probe each.
_CHANGES: Final = """
WITH RECURSIVE stations(station) AS (
    SELECT min(station) FROM station_event WHERE factory = $1 AND line = $2
    UNION ALL
    SELECT (SELECT min(e.station) FROM station_event AS e
            WHERE e.factory = $1 AND e.line = $2 AND e.station > s.station)
    FROM stations AS s WHERE s.station IS NOT NULL
), anchors(station, ts) AS (
    SELECT s.station, (SELECT max(e.ts) FROM station_event AS e
        WHERE e.factory = $1 AND e.line = $2 AND e.station = s.station
          AND e.kind = 'machine' AND e.ts < $3)
    FROM stations AS s WHERE s.station IS NOT NULL
    UNION ALL
    SELECT s.station, (SELECT min(e.ts) FROM station_event AS e
        WHERE e.factory = $1 AND e.line = $2 AND e.station = s.station
          AND e.kind = 'machine' AND e.ts > $4)
    FROM stations AS s WHERE s.station IS NOT NULL
)
SELECT station, ts, state, reason, event_id FROM station_event
WHERE factory = $1 AND line = $2 AND kind = 'machine' AND ts >= $3 AND ts <= $4
UNION ALL
SELECT e.station, e.ts, e.state, e.reason, e.event_id
FROM anchors AS a JOIN station_event AS e
  ON e.factory = $1 AND e.line = $2 AND e.station = a.station
 AND e.kind = 'machine' AND e.ts = a.ts
"""

_SILENCES: Final = """
SELECT station, start, "end" FROM station_silence
WHERE factory = $1 AND line = $2 AND start < $4 AND "end" > $3
"""

# Each station's last event of any kind up to $3: one index probe per station and kind (for
# production, of the nearest rows of ``production_minute``).
_LAST_HEARD: Final = f"""
SELECT s.station, greatest((SELECT max(h.ts) FROM unnest({EVENT_KINDS}) AS k(kind)
    CROSS JOIN LATERAL (SELECT max(e.ts) AS ts FROM station_event AS e
        WHERE e.factory = $1 AND e.line = $2 AND e.station = s.station
          AND e.kind = k.kind AND e.ts <= $3) AS h),
    production_before($1, $2, s.station, $3::timestamptz + interval '1 microsecond')) AS heard
FROM unnest($4::text[]) AS s(station)
"""  # noqa: S608 - built from constants


@dataclass(frozen=True, slots=True)
class TimelineInputs:
    """A line's stations as stored, for a timeline: per station, its machine changes in
    ``[since, until]`` with the one before and the one after (time order not promised), its
    stored silences overlapping ``[since, until]``, and its last event of any kind up to
    ``upto`` (None: none)."""

    changes: dict[str, list[Change]]
    silences: dict[str, list[Interval]]
    heard: dict[str, datetime | None]


async def timeline_inputs(
    connection: Connection,
    *,
    scope: Scope,
    factory: str,
    line: str,
    since: datetime,
    until: datetime,
    upto: datetime,
) -> TimelineInputs:
    """What the line's stations' intervals over ``[since, until]`` are drawn from, as of
    ``upto``: three statements."""
    scope.require(factory)
    changes: dict[str, list[Change]] = {}
    for r in await connection.fetch(_CHANGES, factory, line, since, until):
        changes.setdefault(r["station"], []).append(
            Change(r["event_id"], r["ts"], MachineState(r["state"]), r["reason"])
        )
    silences: dict[str, list[Interval]] = {}
    for r in await connection.fetch(_SILENCES, factory, line, since, until):
        silences.setdefault(r["station"], []).append((r["start"], r["end"]))
    heard = {
        r["station"]: r["heard"]
        for r in await connection.fetch(_LAST_HEARD, factory, line, upto, list(changes))
    }
    return TimelineInputs(changes, silences, heard)


# --- A status's running stations ------------------------------------------------------------

# One index range per station (the key is factory, line, station, minute), so a line's history
# is not scanned to find its last minutes.
_RUNS = """
SELECT s.station,
       coalesce(sum(b.running_ms + b.small_stop_ms), 0)::bigint AS run_ms,
       coalesce(sum(b.ideal_time_s), 0)::double precision AS ideal_time_s,
       coalesce(sum(b.count_without_ideal), 0)::bigint AS count_without_ideal,
       coalesce(sum(b.total_count), 0)::bigint AS total_count
FROM unnest($3::text[]) AS s(station)
JOIN minute_bucket AS b
  ON b.factory = $1 AND b.line = $2 AND b.station = s.station
 AND b.minute >= $4 AND b.minute < $5
GROUP BY s.station
"""


async def recent_runs(
    connection: Connection,
    *,
    scope: Scope,
    factory: str,
    line: str,
    stations: list[str],
    window: tuple[datetime, datetime],
) -> dict[str, RunWindow]:
    """Per station named, its buckets whose minute starts in ``window``, summed; a station
    with no bucket there is left out."""
    scope.require(factory)
    if not stations:
        return {}
    records = await connection.fetch(_RUNS, factory, line, stations, *window)
    return {
        r["station"]: RunWindow(
            run_ms=r["run_ms"],
            ideal_time_s=r["ideal_time_s"],
            count_without_ideal=r["count_without_ideal"],
            total_count=r["total_count"],
        )
        for r in records
    }
