"""The efficiency processor's data access: keyword-only functions on one connection, each used
inside the batch's transaction (see `runtime.consumer`).

The batch functions are set-based: one statement (``unnest`` of the batch's keys, a
``LATERAL`` lookup per key) for every station or line a batch touches, so the round trips of
a batch do not grow with the number of stations it touches."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from operator import attrgetter
from typing import Any, Final, NamedTuple

from schemas.records import ProductionRecord, Record
from schemas.types import EventKey, Kind, LineKey, MachineState, OrderAction, StationKey
from services.efficiency.core import NOTHING_KNOWN, MinuteBucket
from services.runtime.database import Connection
from services.runtime.production_minutes import (
    merge_arguments,
    merge_statement,
    production_after_sql,
    production_before_sql,
)

_COLUMNS = (
    "factory",
    "line",
    "event_id",
    "station",
    "kind",
    "ts",
    "state",
    "reason",
    "good",
    "scrap",
    "action",
    "order_id",
    "ideal_cycle_time_s",
)


# Named tuples rather than dataclasses: one is made per row read, and they are cheaper to make.
class Change(NamedTuple):
    event_id: str
    ts: datetime
    state: MachineState
    reason: str | None


class Made(NamedTuple):
    event_id: str
    ts: datetime
    good: int
    scrap: int


class OrderRow(NamedTuple):
    event_id: str
    ts: datetime
    action: OrderAction
    order_id: str
    ideal_cycle_time_s: float | None


def _row(event: Record) -> tuple[Any, ...]:
    state = reason = good = scrap = action = order_id = cycle = None
    if event.kind is Kind.MACHINE:
        state, reason = event.state.value, event.reason
    elif event.kind is Kind.PRODUCTION:
        good, scrap = event.good, event.scrap
    elif event.kind is Kind.ORDER:
        action, order_id, cycle = event.action.value, event.order_id, event.ideal_cycle_time_s
    return (
        event.factory,
        event.line,
        event.event_id,
        event.station,
        event.kind.value,
        event.ts,
        state,
        reason,
        good,
        scrap,
        action,
        order_id,
        cycle,
    )


async def insert_new_events(connection: Connection, *, events: list[Record]) -> set[EventKey]:
    """Store the events not stored yet, one row each; return the keys ``(factory, line,
    event_id)`` stored now. Production reports go to `merge_production` instead.

    A repeat of an ``event_id`` on a line (a redelivery, a sender's retry) is not stored again.
    """
    if not events:
        return set()
    columns = list(zip(*(_row(event) for event in events), strict=True))
    rows = await connection.fetch(
        f"INSERT INTO station_event ({', '.join(_COLUMNS)})"  # noqa: S608 - constant columns
        " SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],"
        " $6::timestamptz[], $7::text[], $8::text[], $9::bigint[], $10::bigint[], $11::text[],"
        " $12::text[], $13::float8[]) ON CONFLICT DO NOTHING"
        " RETURNING factory, line, event_id",
        *columns,
    )
    return {(r[0], r[1], r[2]) for r in rows}


_MERGE_PRODUCTION: Final = merge_statement("production_minute")


async def merge_production(
    connection: Connection, *, reports: Sequence[ProductionRecord]
) -> list[ProductionRecord]:
    """Count each production report into ``production_minute`` unless its station and
    minute's row holds its ``event_id`` already; return the reports counted now, in order.

    A report's duplicate (a redelivery, a sender's retry) has its station, ``ts`` and
    ``event_id``, so it is found in that one row however late it comes. ``reports`` must be
    unique by ``(factory, line, event_id)``. One statement for all."""
    if not reports:
        return []
    rows = await connection.fetch(_MERGE_PRODUCTION, *merge_arguments(reports))
    return [reports[i - 1] for i in sorted(r[0] for r in rows)]


async def register_lines(connection: Connection, *, lines: set[LineKey]) -> None:
    """A line is known from its first valid event on."""
    await connection.execute(
        "INSERT INTO line (factory, line) SELECT * FROM unnest($1::text[], $2::text[])"
        " ON CONFLICT DO NOTHING",
        [f for f, _ in lines],
        [line for _, line in lines],
    )


class LineRules(NamedTuple):
    """The settings of a line that its buckets depend on."""

    small_stop_threshold_s: float
    stale_after_s: float


DEFAULT_RULES: Final = LineRules(0.0, 300.0)
"""A line's rules without settings (`LineSettings`' defaults)."""


async def line_rules(connection: Connection, *, lines: set[LineKey]) -> dict[LineKey, LineRules]:
    """Each line's ``small_stop_threshold_s`` and ``stale_after_s`` (absent: the defaults)."""
    rows = await connection.fetch(
        "SELECT factory, line,"
        " coalesce((settings->>'small_stop_threshold_s')::float8, $3) AS t,"
        " coalesce((settings->>'stale_after_s')::float8, $4) AS stale"
        " FROM line WHERE (factory, line) IN (SELECT * FROM unnest($1::text[], $2::text[]))",
        [f for f, _ in lines],
        [line for _, line in lines],
        *DEFAULT_RULES,
    )
    return {(r["factory"], r["line"]): LineRules(r["t"], r["stale"]) for r in rows}


EVENT_KINDS: Final = "ARRAY['machine', 'people', 'material', 'order']"
"""The kinds ``station_event`` holds (production: ``production_minute``)."""

# Per station with new events in [first, last]: the region (lo, hi) whose gaps they can
# change, from its event just before `first` (or `first`; not before $7, the retention cutoff)
# to its event just after `last` (or `last`), one index probe per kind (production: the rows
# of `production_minute` nearest); then its events in the region (read per station, a range
# of an index each: ``OFFSET 0`` keeps the planner from making the laterals joins, which
# hashed the whole of `production_minute` every batch once it held 300,000 rows), their
# gaps, and those longer than `stale_ms` as silences. Instants are floored to the
# millisecond, as the OEE core counts them.
_SILENCES: Final = f"""
WITH w AS (
    SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[],
                         $5::timestamptz[], $6::bigint[])
        WITH ORDINALITY AS w(f, l, s, first, last, stale_ms, i)
), b AS (
    SELECT w.*,
        greatest(coalesce(greatest((SELECT max(p.ts) FROM unnest({EVENT_KINDS}) AS k(kind)
            CROSS JOIN LATERAL (SELECT max(e.ts) AS ts FROM station_event e
                WHERE e.factory = w.f AND e.line = w.l AND e.station = w.s
                AND e.kind = k.kind AND e.ts < w.first) AS p),
            {production_before_sql("w.f", "w.l", "w.s", "w.first")}), w.first), $7) AS lo,
        coalesce(least((SELECT min(n.ts) FROM unnest({EVENT_KINDS}) AS k(kind)
            CROSS JOIN LATERAL (SELECT min(e.ts) AS ts FROM station_event e
                WHERE e.factory = w.f AND e.line = w.l AND e.station = w.s
                AND e.kind = k.kind AND e.ts > w.last) AS n),
            {production_after_sql("w.f", "w.l", "w.s", "w.last")}), w.last) AS hi
    FROM w
), r AS (
    SELECT b.i, b.stale_ms, date_trunc('milliseconds', e.ts) AS ts
    FROM b CROSS JOIN LATERAL (
        SELECT e.ts FROM station_event e
        WHERE e.factory = b.f AND e.line = b.l AND e.station = b.s
            AND e.kind = ANY({EVENT_KINDS}) AND e.ts >= b.lo AND e.ts <= b.hi
        OFFSET 0
    ) AS e
    UNION
    SELECT b.i, b.stale_ms, date_trunc('milliseconds', p.ts)
    FROM b CROSS JOIN LATERAL (
        SELECT p.ts FROM production_report p
        WHERE p.factory = b.f AND p.line = b.l AND p.station = b.s
            AND p.minute >= date_trunc('minute', b.lo, 'UTC') AND p.minute <= b.hi
            AND p.ts >= b.lo AND p.ts <= b.hi
        OFFSET 0
    ) AS p
), g AS (
    SELECT i, stale_ms, ts, lead(ts) OVER (PARTITION BY i ORDER BY ts) AS next FROM r
)
SELECT b.i, b.lo, b.hi, g.ts + g.stale_ms * interval '1 millisecond' AS start, g.next AS "end"
FROM b LEFT JOIN g ON g.i = b.i AND g.next - g.ts > g.stale_ms * interval '1 millisecond'
"""  # noqa: S608 - built from constants

_FORGET_SILENCES: Final = """
DELETE FROM station_silence x
USING unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::timestamptz[])
    AS b(f, l, s, lo, hi)
WHERE x.factory = b.f AND x.line = b.l AND x.station = b.s AND x.start > b.lo
    AND x.start < b.hi
RETURNING x.factory, x.line, x.station, x.start, x."end"
"""

Silence = tuple[datetime, datetime]


async def update_silences(
    connection: Connection,
    *,
    spans: Mapping[StationKey, tuple[datetime, datetime]],
    stale_ms: Mapping[StationKey, int],
    not_before: datetime | None,
) -> dict[StationKey, set[Silence]]:
    """Recompute the silences (``station_silence``) that new events can change: per station
    with the span ``(first, last)`` of its new events (already stored), those between its
    events around the span. Returns, per station, the silences that changed (gone or new):
    the minutes they cover must be folded again. Three statements for all stations."""
    if not spans:
        return {}
    keys = list(spans)
    floor = not_before if not_before is not None else datetime.min.replace(tzinfo=UTC)
    rows = await connection.fetch(
        _SILENCES, *_columns((*k, *spans[k], stale_ms[k]) for k in keys), floor
    )
    bounds: dict[StationKey, tuple[datetime, datetime]] = {}
    found: dict[StationKey, set[Silence]] = {}
    for i, lo, hi, start, end in rows:
        key = keys[i - 1]
        bounds[key] = (lo, hi)
        if start is not None:
            found.setdefault(key, set()).add((start, end))
    gone = await connection.fetch(_FORGET_SILENCES, *_columns((*k, *bounds[k]) for k in keys))
    changed: dict[StationKey, set[Silence]] = {k: set(v) for k, v in found.items()}
    for factory, line, station, start, end in gone:
        key = (factory, line, station)
        if (start, end) in changed.get(key, set()):
            changed[key].discard((start, end))  # the same as before
        else:
            changed.setdefault(key, set()).add((start, end))
    new = [(*k, start, end) for k, silences in found.items() for start, end in silences]
    if new:
        await connection.execute(
            'INSERT INTO station_silence (factory, line, station, start, "end")'
            " SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[],"
            " $5::timestamptz[])",
            *_columns(new),
        )
    return {k: v for k, v in changed.items() if v}


_WINDOW_SILENCES: Final = """
SELECT w.i, x.start, x."end"
FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::timestamptz[])
    WITH ORDINALITY AS w(f, l, s, since, until, i)
JOIN station_silence x ON x.factory = w.f AND x.line = w.l AND x.station = w.s
    AND x.start < w.until AND x."end" > w.since
"""


async def window_silences(
    connection: Connection, *, windows: Sequence[FoldWindow]
) -> list[list[Silence]]:
    """For each window, in order: the station's silences overlapping its context
    ``[since, until]``. One statement."""
    found: list[list[Silence]] = [[] for _ in windows]
    if not windows:
        return found
    rows = await connection.fetch(
        _WINDOW_SILENCES,
        *_columns((w.factory, w.line, w.station, w.since, w.until) for w in windows),
    )
    for i, start, end in rows:
        found[i - 1].append((start, end))
    return found


# Per station: its machine change just before `lo` and just after `hi` (one index probe each);
# whether any of its changes from the one to the other (`lo` and `hi` where there is none) is
# a setup: only then can changes in between move the end of a setup; and whether all its
# changes from the one before to `hi` are of one state and reason: then those in between
# repeat the state in force, and change no interval (a line's heartbeat).
_NEIGHBOURS = """
SELECT n.i, n.before, n.after, EXISTS (
    SELECT 1 FROM station_event e WHERE e.factory = n.f AND e.line = n.l AND e.station = n.s
        AND e.kind = 'machine' AND e.ts >= coalesce(n.before, n.lo)
        AND e.ts <= coalesce(n.after, n.hi) AND e.state = 'setup') AS setup,
    n.before IS NOT NULL AND (
        SELECT count(DISTINCT e.state || chr(31) || coalesce(e.reason, chr(30)))
        FROM station_event e WHERE e.factory = n.f AND e.line = n.l AND e.station = n.s
            AND e.kind = 'machine' AND e.ts >= n.before AND e.ts <= n.hi) = 1 AS repeats
FROM (
    SELECT w.*,
        (SELECT max(e.ts) FROM station_event e WHERE e.factory = w.f AND e.line = w.l
            AND e.station = w.s AND e.kind = 'machine' AND e.ts < w.lo) AS before,
        (SELECT min(e.ts) FROM station_event e WHERE e.factory = w.f AND e.line = w.l
            AND e.station = w.s AND e.kind = 'machine' AND e.ts > w.hi) AS after
    FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::timestamptz[])
        WITH ORDINALITY AS w(f, l, s, lo, hi, i)
) AS n
"""


class Neighbours(NamedTuple):
    """A station's machine changes around a span (see `machine_neighbours`)."""

    before: datetime | None
    after: datetime | None
    setup: bool
    repeats: bool


async def machine_neighbours(
    connection: Connection, *, spans: Mapping[StationKey, tuple[datetime, datetime]]
) -> dict[StationKey, Neighbours]:
    """Per station with its span ``(first, last)``: its machine change just before ``first``
    and the one just after ``last`` (``None``: there is none), whether a change from the one
    to the other is a setup, and whether those up to ``last`` all repeat the one before. One
    statement for all."""
    if not spans:
        return {}
    keys = list(spans)
    rows = await connection.fetch(_NEIGHBOURS, *_columns(k + spans[k] for k in keys))
    return {keys[r[0] - 1]: Neighbours(r[1], r[2], r[3], r[4]) for r in rows}


_ORDER_REACH = """
SELECT w.i,
    (SELECT min(e.ts) FROM station_event e WHERE e.factory = w.f AND e.line = w.l
        AND e.kind = 'order' AND e.ts > w.last) AS next_order,
    (SELECT max(p.ts) FROM production_report p WHERE p.factory = w.f AND p.line = w.l
        AND p.minute = (SELECT max(x.minute) FROM production_minute x
                        WHERE x.factory = w.f AND x.line = w.l)) AS last_production,
    ARRAY(SELECT DISTINCT e.station FROM station_event e WHERE e.factory = w.f
          AND e.line = w.l AND e.kind = 'machine'
          UNION
          SELECT s.station FROM stations_producing(w.f, w.l) AS s(station)) AS stations
FROM unnest($1::text[], $2::text[], $3::timestamptz[]) WITH ORDINALITY AS w(f, l, last, i)
"""


@dataclass(frozen=True, slots=True)
class OrderReach:
    """What bounds the reach of a line's order events (see `order_reach`)."""

    next_order: datetime | None
    last_production: datetime | None
    stations: list[str]


async def order_reach(
    connection: Connection, *, latest: Mapping[LineKey, datetime]
) -> dict[LineKey, OrderReach]:
    """Per line with ``latest``, the time of its latest order event in the batch: the line's
    next order event after it, its last production, and its stations (those with machine or
    production events). One statement for all lines."""
    if not latest:
        return {}
    keys = list(latest)
    rows = await connection.fetch(_ORDER_REACH, *_columns((*k, latest[k]) for k in keys))
    return {keys[r[0] - 1]: OrderReach(r[1], r[2], list(r[3])) for r in rows}


_STATION_INPUTS = """
SELECT w.i, e.machine, e.event_id, e.ts, e.state, e.reason, e.good, e.scrap
FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::timestamptz[],
            $6::timestamptz[], $7::timestamptz[])
    WITH ORDINALITY AS w(f, l, s, since, until, lo, hi, i)
CROSS JOIN LATERAL (
    SELECT true AS machine, event_id, ts, state, reason, good, scrap FROM station_event
    WHERE factory = w.f AND line = w.l AND station = w.s AND kind = 'machine'
        AND ts >= w.since AND ts <= w.until
    UNION ALL
    SELECT true, event_id, ts, state, reason, good, scrap FROM station_event
    WHERE factory = w.f AND line = w.l AND station = w.s AND kind = 'machine'
        AND ts = (SELECT max(ts) FROM station_event WHERE factory = w.f AND line = w.l
                  AND station = w.s AND kind = 'machine' AND ts < w.since)
    UNION ALL
    SELECT true, event_id, ts, state, reason, good, scrap FROM station_event
    WHERE factory = w.f AND line = w.l AND station = w.s AND kind = 'machine'
        AND ts = (SELECT min(ts) FROM station_event WHERE factory = w.f AND line = w.l
                  AND station = w.s AND kind = 'machine' AND ts > w.until)
    UNION ALL
    SELECT false, id::text, ts, NULL, NULL, good, scrap FROM production_report
    WHERE factory = w.f AND line = w.l AND station = w.s AND minute >= w.lo AND minute < w.hi
) AS e
"""


@dataclass(frozen=True, slots=True)
class FoldWindow:
    """A station's minutes ``[start, end)`` to fold, and the context ``[since, until]`` of
    machine changes they need (`context_bounds`)."""

    factory: str
    line: str
    station: str
    start: datetime
    end: datetime
    since: datetime
    until: datetime


async def station_inputs(
    connection: Connection, *, windows: Sequence[FoldWindow], production: bool = True
) -> list[tuple[list[Change], list[Made]]]:
    """For each window, in order: the station's machine changes in ``[since, until]`` with
    the one before and the one after (every change at those instants), and its production
    in ``[start, end)``, the only production a window's buckets count (none read when
    ``production`` is false). One statement."""
    found: list[tuple[list[Change], list[Made]]] = [([], []) for _ in windows]
    if not windows:
        return found
    rows = await connection.fetch(
        _STATION_INPUTS,
        *_columns(
            (
                w.factory,
                w.line,
                w.station,
                w.since,
                w.until,
                w.start,
                w.end if production else w.start,
            )
            for w in windows
        ),
    )
    for i, machine, event_id, ts, state, reason, good, scrap in rows:
        changes, made = found[i - 1]
        if machine:
            changes.append(Change(event_id, ts, MachineState(state), reason))
        else:
            made.append(Made(event_id, ts, good, scrap))
    return found


_ORDER_EVENTS_IN_CONTEXT = """
SELECT w.i, e.event_id, e.ts, e.action, e.order_id, e.ideal_cycle_time_s
FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::timestamptz[])
    WITH ORDINALITY AS w(f, l, since, until, i)
CROSS JOIN LATERAL (
    SELECT event_id, ts, action, order_id, ideal_cycle_time_s FROM station_event
    WHERE factory = w.f AND line = w.l AND kind = 'order' AND ts <= w.until
        AND ts >= coalesce(
            (SELECT max(ts) FROM station_event WHERE factory = w.f AND line = w.l
             AND kind = 'order' AND action = 'start' AND ts < w.since),
            w.since)
) AS e
"""


async def order_events_in_context(
    connection: Connection, *, spans: Mapping[LineKey, tuple[datetime, datetime]]
) -> dict[LineKey, list[OrderRow]]:
    """Per line with its context ``(since, until)``: its orders up to ``until`` from the last
    ``start`` before ``since`` on, as `read.fold_inputs`. One statement for all lines.

    Spanning several stations' windows at once is exact: orders before the last ``start``
    before a window change nothing in it, nor do those after it."""
    found: dict[LineKey, list[OrderRow]] = {key: [] for key in spans}
    if not spans:
        return found
    keys = list(spans)
    rows = await connection.fetch(_ORDER_EVENTS_IN_CONTEXT, *_columns(k + spans[k] for k in keys))
    for i, event_id, ts, action, order_id, cycle in rows:
        found[keys[i - 1]].append(OrderRow(event_id, ts, OrderAction(action), order_id, cycle))
    return found


BUCKET_COLUMNS = tuple(f.name for f in fields(MinuteBucket) if f.name != "down_by_reason")
"""The numeric columns of ``minute_bucket``: one per field of `MinuteBucket`."""

_NUMBERS = attrgetter(*BUCKET_COLUMNS)


@dataclass(frozen=True, slots=True)
class Replacement:
    """A station's buckets over ``[start, end)`` (`fold_station`'s answer for that window)."""

    factory: str
    line: str
    station: str
    start: datetime
    end: datetime
    buckets: Mapping[datetime, MinuteBucket]


# The rows are found window by window, a range of the primary key each (``OFFSET 0`` keeps
# the planner from turning the lateral into a join), then deleted by ``ctid``. Written as a
# join, the planner hashed the whole table for every batch once it held 300,000 rows (76 ms
# for 10 stations, measured).
_DELETE_MINUTES: Final = """
DELETE FROM minute_bucket WHERE ctid = ANY (ARRAY(
    SELECT m.ctid
    FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::timestamptz[])
        AS w(f, l, s, lo, hi)
    CROSS JOIN LATERAL (
        SELECT b.ctid FROM minute_bucket AS b
        WHERE b.factory = w.f AND b.line = w.l AND b.station = w.s
            AND b.minute >= w.lo AND b.minute < w.hi
        OFFSET 0
    ) AS m
))
"""


async def replace_buckets(connection: Connection, *, replaced: Sequence[Replacement]) -> None:
    """Replace each station's minutes in its ``[start, end)``; minutes with nothing known go.
    Two statements for all stations: one ``DELETE``, one ``COPY``. The stations' windows
    must not overlap (one window per station)."""
    if not replaced:
        return
    await connection.execute(
        _DELETE_MINUTES,
        *_columns((r.factory, r.line, r.station, r.start, r.end) for r in replaced),
    )
    rows = [
        (
            r.factory,
            r.line,
            r.station,
            minute,
            *_NUMBERS(b),
            json.dumps(dict(b.down_by_reason)) if b.down_by_reason else "{}",
        )
        for r in replaced
        for minute, b in r.buckets.items()
        if b is not NOTHING_KNOWN and b != NOTHING_KNOWN
    ]
    if rows:
        await connection.copy_records_to_table(
            "minute_bucket",
            records=rows,
            columns=["factory", "line", "station", "minute", *BUCKET_COLUMNS, "down_by_reason"],
        )


_COUNTS = ("total_count", "good_count", "scrap_count", "startup_scrap", "count_without_ideal")
_UNNEST = ", ".join(
    f"${n}::{'float8' if c == 'ideal_time_s' else 'bigint'}[]"
    for n, c in enumerate(BUCKET_COLUMNS, start=5)
)


def _hour_sum(column: str) -> str:
    """An hour's share of the added minutes: a minute row added anew counts whole (its
    unknown time too), an updated one only with what was added to it (the production)."""
    if column == "ideal_time_s":
        return "sum(d.ideal_time_s::text::numeric)"
    if column in _COUNTS:
        return f"sum(d.{column})"
    return f"sum(CASE WHEN m.added THEN d.{column} ELSE 0 END)"


# One statement: the minutes, then their hours (`rollup`: an hour row is the sum of its stored
# minutes and exists exactly when one of them does, so it gets what its minutes got). The
# ideal time is added as numeric: a bucket's is a whole number of microseconds, which its
# float's shortest text spells exactly, so the sum is the one a fold of all the events makes.
_ADD_PRODUCTION: Final = f"""
WITH d AS (
    SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], {_UNNEST})
        AS d(factory, line, station, minute, {", ".join(BUCKET_COLUMNS)})
), m AS (
    INSERT INTO minute_bucket (factory, line, station, minute, {", ".join(BUCKET_COLUMNS)})
    SELECT * FROM d
    ON CONFLICT (factory, line, station, minute) DO UPDATE SET
        {", ".join(f"{c} = minute_bucket.{c} + EXCLUDED.{c}" for c in _COUNTS)},
        ideal_time_s = (minute_bucket.ideal_time_s::text::numeric
                        + EXCLUDED.ideal_time_s::text::numeric)::float8
    RETURNING factory, line, station, minute, xmax = 0 AS added
)
INSERT INTO hour_bucket (factory, line, station, hour, {", ".join(BUCKET_COLUMNS)})
SELECT d.factory, d.line, d.station, date_trunc('hour', d.minute, 'UTC'),
       {", ".join(_hour_sum(c) for c in BUCKET_COLUMNS)}
FROM d JOIN m USING (factory, line, station, minute)
GROUP BY 1, 2, 3, 4
ON CONFLICT (factory, line, station, hour) DO UPDATE SET
    {", ".join(f"{c} = hour_bucket.{c} + EXCLUDED.{c}" for c in BUCKET_COLUMNS)}
"""  # noqa: S608 - built from constant column names


@dataclass(frozen=True, slots=True)
class Addition:
    """New production of a station (`tally_production`'s answer): added to its buckets."""

    factory: str
    line: str
    station: str
    buckets: Mapping[datetime, MinuteBucket]


async def add_production(connection: Connection, *, added: Sequence[Addition]) -> None:
    """Add each station's production buckets to its stored ones, column by column; a minute
    with no bucket yet (nothing known there) gets the one given. Their hours in
    ``hour_bucket`` get the same, so they need no `rollup.refresh_hours`. One statement for
    all. A station's minutes must be in ``added`` once."""
    rows = [
        (a.factory, a.line, a.station, minute, *_NUMBERS(b))
        for a in added
        for minute, b in a.buckets.items()
    ]
    if rows:
        await connection.execute(_ADD_PRODUCTION, *_columns(rows))


def _columns(rows: Iterable[tuple[Any, ...]]) -> list[list[Any]]:
    """Rows as one list per column, for ``unnest`` (``rows`` must not be empty)."""
    return [list(column) for column in zip(*rows, strict=True)]
