"""The floor-state processor's data access: keyword-only functions on one connection, each one
set-based statement used inside the batch's transaction (see `runtime.consumer`).

Machine, people, material and order events are stored one row each in ``floor_event``;
production reports, most events, one row per station and UTC minute in
``floor_production_minute`` (migration 0014), which holds a hash of every ``event_id``
counted there (`merge_production`).

Marks ``(ts, event_id)`` are compared with ``event_id COLLATE "C"`` (code point order), the
order `fold.mark` uses in Python, whatever the database's default collation.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

from schemas import Kind
from schemas.records import OrderRecord, PeopleRecord, ProductionRecord, Record
from services.floor.fold import MaterialKey, StationSeen, Stock, StockFound
from services.runtime.database import Connection
from services.runtime.production_minutes import merge_arguments, merge_statement

OrderKey = tuple[str, str, str]  # (factory, line, order_id)
E = TypeVar("E", bound=Record)


def _columns(rows: Iterable[tuple[Any, ...]], width: int) -> list[list[Any]]:
    """Rows as one list per column, for ``unnest``; ``width`` empty lists for no rows."""
    columns = [list(column) for column in zip(*rows, strict=True)]
    return columns or [[] for _ in range(width)]


def _event_columns(events: Iterable[Record]) -> list[list[Any]]:
    """The ``floor_event`` columns of the events, one list each, built without a tuple per
    event; dispatched on ``kind``, so that the pydantic events tests pass work as well.
    Production reports are not among them (`merge_production`)."""
    factory: list[str] = []
    line: list[str] = []
    event_id: list[str] = []
    station: list[str] = []
    kind: list[str] = []
    ts: list[datetime] = []
    action: list[str | None] = []
    material_id: list[str | None] = []
    quantity: list[float | None] = []
    unit: list[str | None] = []
    state: list[str | None] = []
    reason: list[str | None] = []
    for e in events:
        factory.append(e.factory)
        line.append(e.line)
        event_id.append(e.event_id)
        station.append(e.station)
        kind.append(e.kind.value)
        ts.append(e.ts)
        if e.kind is Kind.MACHINE:
            state.append(e.state.value)
            reason.append(e.reason)
        else:
            state.append(None)
            reason.append(None)
        if e.kind is Kind.MATERIAL:
            action.append(e.action.value)
            material_id.append(e.material_id)
            quantity.append(e.quantity)
            unit.append(e.unit)
        else:
            action.append(e.action.value if e.kind is Kind.PEOPLE or e.kind is Kind.ORDER else None)
            material_id.append(None)
            quantity.append(None)
            unit.append(None)
    return [factory, line, event_id, station, kind, ts, action, material_id, quantity, unit,
            state, reason]  # fmt: skip


_STORE_EVENTS = """
WITH batch AS (
    SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],
                         $6::timestamptz[], $7::text[], $8::text[], $9::float8[], $10::text[],
                         $11::text[], $12::text[]) WITH ORDINALITY
        AS b(factory, line, event_id, station, kind, ts, action, material_id, quantity, unit,
             state, reason, n)
), stored AS (
    INSERT INTO floor_event (factory, line, event_id, station, kind, ts, action, material_id,
                             quantity, unit, state, reason)
    SELECT factory, line, event_id, station, kind, ts, action, material_id, quantity, unit,
           state, reason
    FROM batch
    ON CONFLICT DO NOTHING
    RETURNING factory, line, event_id
)
SELECT coalesce(array_agg(b.n), '{}') FROM batch b
WHERE NOT EXISTS (
    SELECT 1 FROM stored s
    WHERE s.factory = b.factory AND s.line = b.line AND s.event_id = b.event_id)
"""
"""Step 2 of `processor` for the events other than production; returns the positions (from
1) of the events stored already."""


async def store_events(connection: Connection, *, events: Sequence[E]) -> list[E]:
    """Store the events not stored yet, one row each in ``floor_event``; return the events
    stored now (to be applied), in their order. Production reports go to `merge_production`
    instead.

    ``events`` must hold no repeat of a key (see `batch_input.unique`).
    """
    if not events:
        return []
    repeated = set(await connection.fetchval(_STORE_EVENTS, *_event_columns(events)))
    if not repeated:
        return list(events)
    return [e for n, e in enumerate(events, 1) if n not in repeated]


_MERGE_PRODUCTION = merge_statement(
    "floor_production_minute",
    """, per_station AS (
    SELECT o.factory, o.line, o.order_id, m.s AS station, sum(m.good) AS good,
           sum(m.scrap) AS scrap
    FROM fresh m JOIN work_order o ON o.factory = m.f AND o.line = m.l
        AND o.started_at <= m.ts AND (o.ended_at IS NULL OR m.ts < o.ended_at)
    GROUP BY o.factory, o.line, o.order_id, m.s
), per_order AS (
    SELECT p.factory, p.line, p.order_id,
        jsonb_object_agg(p.station,
            coalesce((o.good_by_station ->> p.station)::numeric, 0) + p.good) AS good,
        jsonb_object_agg(p.station,
            coalesce((o.scrap_by_station ->> p.station)::numeric, 0) + p.scrap) AS scrap
    FROM per_station p JOIN work_order o USING (factory, line, order_id)
    GROUP BY p.factory, p.line, p.order_id
), added AS (
    UPDATE work_order w
    SET good_by_station = w.good_by_station || p.good,
        scrap_by_station = w.scrap_by_station || p.scrap
    FROM per_order p
    WHERE w.factory = p.factory AND w.line = p.line AND w.order_id = p.order_id
)""",
)
"""Steps 2 and 7a of `processor` for production reports, in one statement (`merge_statement`):
``added`` adds the reports of ``fresh`` to every order of their line whose span covers their
ts, so it counts exactly the reports that ``merged`` stored, against the orders as the
previous batch left them."""


async def merge_production(
    connection: Connection, *, reports: Sequence[ProductionRecord]
) -> list[ProductionRecord]:
    """Count each production report into ``floor_production_minute`` unless its station and
    minute's row holds its ``event_id`` already, and add the reports counted now to the counts
    of every order of their line whose span covers their ts; return those reports, in their
    order.

    A report's duplicate (a redelivery, a sender's retry) has its station, ``ts`` and
    ``event_id``, so it is found in that one row however late it comes. ``reports`` must hold
    no repeat of a key (see `batch_input.unique`).
    """
    if not reports:
        return []
    rows = await connection.fetch(_MERGE_PRODUCTION, *merge_arguments(reports))
    return [reports[i - 1] for i in sorted(r[0] for r in rows)]


_UPSERT_STATIONS = """
WITH batch AS (
    SELECT w.*, e.factory IS NOT NULL AS known, e.state AS old_state, e.reason AS old_reason,
           e.since AS old_since, e.state_ts AS old_ts, e.state_event_id AS old_event_id,
           w.state_ts IS NOT NULL AND (e.state_ts IS NULL OR (w.state_ts, w.event_id COLLATE "C")
               > (e.state_ts, e.state_event_id)) AS newer
    FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::timestamptz[],
                $7::text[], $8::timestamptz[], $9::timestamptz[], $10::timestamptz[],
                $11::boolean[])
        AS w(f, l, s, state, reason, began, event_id, last_seen, state_ts, first, whole)
    LEFT JOIN station_state AS e ON e.factory = w.f AND e.line = w.l AND e.station = w.s
), chosen AS (
    SELECT f, l, s, last_seen,
           CASE WHEN newer THEN state ELSE old_state END AS state,
           CASE WHEN newer THEN reason ELSE old_reason END AS reason,
           CASE WHEN newer THEN event_id ELSE old_event_id END AS event_id,
           CASE WHEN newer THEN state_ts ELSE old_ts END AS state_ts,
           CASE
               -- no machine event: nothing changes
               WHEN state_ts IS NULL THEN old_since
               -- the first machine events of the station: all of them are in the batch
               WHEN old_ts IS NULL THEN began
               -- the batch only continues the state in force after its latest event
               WHEN whole AND first > old_ts AND state = old_state
                    AND reason IS NOT DISTINCT FROM old_reason THEN old_since
               -- else recomputed from the events kept, this batch's among them
               ELSE NULL
           END AS since,
           state_ts IS NOT NULL AND old_ts IS NOT NULL
               AND NOT (whole AND first > old_ts AND state = old_state
                        AND reason IS NOT DISTINCT FROM old_reason) AS recompute
    FROM batch
)
INSERT INTO station_state AS s (factory, line, station, state, reason, since, state_event_id,
                                last_seen, state_ts)
SELECT f, l, s, state, reason,
       CASE WHEN recompute THEN coalesce(station_since(f, l, s, state, reason), state_ts)
            ELSE since END,
       event_id, last_seen, state_ts
FROM chosen
ON CONFLICT (factory, line, station) DO UPDATE SET
    last_seen = greatest(s.last_seen, EXCLUDED.last_seen),
    state = EXCLUDED.state,
    reason = EXCLUDED.reason,
    since = EXCLUDED.since,
    state_event_id = EXCLUDED.state_event_id,
    state_ts = EXCLUDED.state_ts
"""
"""One row per station of the batch, its values chosen against the row stored (read once, in
the statement's snapshot): the latest machine event by (ts, event_id) wins; ``since`` is when
its state began (migration 0010's ``station_since``), carried on where the batch only repeats
the state in force, as a station's heartbeats do, and recomputed from ``floor_event`` (which
holds this batch's events already) where a late event may have split or joined a run."""


async def upsert_stations(connection: Connection, *, seen: Sequence[StationSeen]) -> None:
    """Raise each station's ``last_seen``; take its latest machine event where it is newer,
    keeping its ``since`` where that event repeats the state in force."""
    rows = [
        (
            s.factory,
            s.line,
            s.station,
            s.machine.state.value if s.machine else None,
            s.machine.reason if s.machine else None,
            s.began if s.machine else None,
            s.machine.event_id if s.machine else None,
            s.last_seen,
            s.machine.ts if s.machine else None,
            s.first if s.machine else None,
            s.whole,
        )
        for s in seen
    ]
    await connection.execute(_UPSERT_STATIONS, *_columns(rows, 11))


_UPSERT_OPERATORS = """
INSERT INTO operator_presence AS o (factory, line, operator_id, station, role, action, ts,
                                    event_id)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                     $7::timestamptz[], $8::text[])
ON CONFLICT (factory, line, operator_id) DO UPDATE SET
    station = EXCLUDED.station, role = EXCLUDED.role, action = EXCLUDED.action,
    ts = EXCLUDED.ts, event_id = EXCLUDED.event_id
WHERE (EXCLUDED.ts, EXCLUDED.event_id COLLATE "C") > (o.ts, o.event_id)
"""


async def upsert_operators(connection: Connection, *, latest: Iterable[PeopleRecord]) -> None:
    """Each operator's row becomes their latest people event (one per operator given)."""
    rows = [
        (e.factory, e.line, e.operator_id, e.station, e.role, e.action.value, e.ts, e.event_id)
        for e in latest
    ]
    await connection.execute(_UPSERT_OPERATORS, *_columns(rows, 8))


_FOUND = """
SELECT t.factory, t.line, t.material_id, latest.station, latest.ts AS last_ts, unit.unit,
       lvl.ts AS level_ts, lvl.event_id AS level_event_id, lvl.quantity AS level_quantity,
       coalesce(added.quantity, 0) AS added, consumed.quantity AS consumed,
       status.ts AS status_ts, status.event_id AS status_event_id,
       coalesce(status.action = 'shortage', false) AS shortage
FROM unnest($1::text[], $2::text[], $3::text[]) AS t(factory, line, material_id)
CROSS JOIN LATERAL (
    SELECT e.station, e.ts FROM floor_event e
    WHERE e.factory = t.factory AND e.line = t.line AND e.material_id = t.material_id
      AND e.kind = 'material'
    ORDER BY e.ts DESC, e.event_id COLLATE "C" DESC LIMIT 1
) latest
LEFT JOIN LATERAL (
    SELECT e.unit FROM floor_event e
    WHERE e.factory = t.factory AND e.line = t.line AND e.material_id = t.material_id
      AND e.kind = 'material' AND e.unit IS NOT NULL
    ORDER BY e.ts DESC, e.event_id COLLATE "C" DESC LIMIT 1
) unit ON true
LEFT JOIN LATERAL (
    SELECT e.ts, e.event_id, e.quantity FROM floor_event e
    WHERE e.factory = t.factory AND e.line = t.line AND e.material_id = t.material_id
      AND e.kind = 'material' AND e.action = 'level' AND e.quantity IS NOT NULL
    ORDER BY e.ts DESC, e.event_id COLLATE "C" DESC LIMIT 1
) lvl ON true
LEFT JOIN LATERAL (
    SELECT sum(e.quantity) AS quantity FROM floor_event e
    WHERE e.factory = t.factory AND e.line = t.line AND e.material_id = t.material_id
      AND e.kind = 'material' AND e.action IN ('loaded', 'replenished')
      AND (e.ts, e.event_id COLLATE "C") > (lvl.ts, lvl.event_id)
) added ON true
LEFT JOIN LATERAL (
    SELECT e.quantity FROM floor_event e
    WHERE e.factory = t.factory AND e.line = t.line AND e.material_id = t.material_id
      AND e.kind = 'material' AND e.action = 'consumed' AND e.quantity IS NOT NULL
    ORDER BY e.ts DESC, e.event_id COLLATE "C" DESC LIMIT 1
) consumed ON true
LEFT JOIN LATERAL (
    SELECT e.ts, e.event_id, e.action FROM floor_event e
    WHERE e.factory = t.factory AND e.line = t.line AND e.material_id = t.material_id
      AND e.kind = 'material' AND e.action IN ('shortage', 'replenished')
    ORDER BY e.ts DESC, e.event_id COLLATE "C" DESC LIMIT 1
) status ON true
"""
"""Per material: what `StockFound` holds, from its rows in ``floor_event``."""


async def found_stocks(
    connection: Connection, *, materials: Collection[MaterialKey]
) -> dict[MaterialKey, StockFound]:
    """What ``floor_event`` holds of each material (only materials it holds a row of)."""
    rows = await connection.fetch(_FOUND, *_columns(materials, 3))
    return {
        (r["factory"], r["line"], r["material_id"]): StockFound(
            station=r["station"],
            last_ts=r["last_ts"],
            unit=r["unit"],
            level=None if r["level_ts"] is None else (r["level_ts"], r["level_event_id"]),
            level_quantity=r["level_quantity"],
            added_after_level=r["added"],
            consumed=r["consumed"],
            status=None if r["status_ts"] is None else (r["status_ts"], r["status_event_id"]),
            shortage=r["shortage"],
        )
        for r in rows
    }


async def stored_stocks(
    connection: Connection, *, materials: Collection[MaterialKey]
) -> dict[MaterialKey, Stock]:
    """The ``material_stock`` rows of the materials (those that have one)."""
    rows = await connection.fetch(
        "SELECT * FROM material_stock WHERE (factory, line, material_id) IN"
        " (SELECT * FROM unnest($1::text[], $2::text[], $3::text[]))",
        *_columns(materials, 3),
    )
    return {
        (r["factory"], r["line"], r["material_id"]): Stock(
            station=r["station"],
            unit=r["unit"],
            quantity=r["quantity"],
            level=None if r["level_ts"] is None else (r["level_ts"], r["level_event_id"]),
            last_ts=r["last_ts"],
            consumed=r["consumed"],
            shortage=r["shortage"],
            status=None if r["status_ts"] is None else (r["status_ts"], r["status_event_id"]),
        )
        for r in rows
    }


_WRITE_STOCKS = """
INSERT INTO material_stock (factory, line, material_id, station, unit, quantity, level_ts,
                            level_event_id, last_ts, consumed, shortage, status_ts,
                            status_event_id)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::float8[],
                     $7::timestamptz[], $8::text[], $9::timestamptz[], $10::float8[],
                     $11::bool[], $12::timestamptz[], $13::text[])
ON CONFLICT (factory, line, material_id) DO UPDATE SET
    station = EXCLUDED.station, unit = EXCLUDED.unit, quantity = EXCLUDED.quantity,
    level_ts = EXCLUDED.level_ts, level_event_id = EXCLUDED.level_event_id,
    last_ts = EXCLUDED.last_ts, consumed = EXCLUDED.consumed, shortage = EXCLUDED.shortage,
    status_ts = EXCLUDED.status_ts, status_event_id = EXCLUDED.status_event_id
"""


async def write_stocks(connection: Connection, *, stocks: Mapping[MaterialKey, Stock]) -> None:
    """Replace the materials' rows."""
    rows = [
        (
            *key,
            s.station,
            s.unit,
            s.quantity,
            *(s.level or (None, None)),
            s.last_ts,
            s.consumed,
            s.shortage,
            *(s.status or (None, None)),
        )
        for key, s in stocks.items()
    ]
    await connection.execute(_WRITE_STOCKS, *_columns(rows, 13))


def _keys(rows: Iterable[Any]) -> set[OrderKey]:
    return {(r["factory"], r["line"], r["order_id"]) for r in rows}


_END_AFTER_START = (
    '(w.ended_at, w.end_event_id COLLATE "C") > (EXCLUDED.started_at, EXCLUDED.start_event_id)'
)
_UPSERT_STARTS = f"""
INSERT INTO work_order AS w (factory, line, order_id, product_id, target_quantity,
                             ideal_cycle_time_s, started_at, start_event_id)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[],
                     $6::float8[], $7::timestamptz[], $8::text[])
ON CONFLICT (factory, line, order_id) DO UPDATE SET
    product_id = EXCLUDED.product_id, target_quantity = EXCLUDED.target_quantity,
    ideal_cycle_time_s = EXCLUDED.ideal_cycle_time_s,
    started_at = EXCLUDED.started_at, start_event_id = EXCLUDED.start_event_id,
    ended_at = CASE WHEN {_END_AFTER_START} THEN w.ended_at END,
    end_event_id = CASE WHEN {_END_AFTER_START} THEN w.end_event_id END
WHERE w.started_at IS NULL
   OR (EXCLUDED.started_at, EXCLUDED.start_event_id COLLATE "C")
      > (w.started_at, w.start_event_id)
RETURNING factory, line, order_id
"""  # noqa: S608 - constant SQL


async def upsert_starts(connection: Connection, *, latest: Iterable[OrderRecord]) -> set[OrderKey]:
    """Each order takes its latest start where it is newer than the stored one; an end not
    after the new start is dropped (the order runs again). Return the orders changed."""
    rows = [
        (
            e.factory,
            e.line,
            e.order_id,
            e.product_id,
            e.target_quantity,
            e.ideal_cycle_time_s,
            e.ts,
            e.event_id,
        )
        for e in latest
    ]
    return _keys(await connection.fetch(_UPSERT_STARTS, *_columns(rows, 8)))


_UPSERT_ENDS = """
INSERT INTO work_order AS w (factory, line, order_id, ended_at, end_event_id)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::text[])
ON CONFLICT (factory, line, order_id) DO UPDATE SET
    ended_at = EXCLUDED.ended_at, end_event_id = EXCLUDED.end_event_id
WHERE (w.ended_at IS NULL
       OR (EXCLUDED.ended_at, EXCLUDED.end_event_id COLLATE "C") > (w.ended_at, w.end_event_id))
  AND (w.started_at IS NULL
       OR (EXCLUDED.ended_at, EXCLUDED.end_event_id COLLATE "C")
          > (w.started_at, w.start_event_id))
RETURNING factory, line, order_id
"""


async def upsert_ends(connection: Connection, *, latest: Iterable[OrderRecord]) -> set[OrderKey]:
    """Each order takes its latest end where it is newer than the stored end and after the
    stored start. Return the orders changed."""
    rows = [(e.factory, e.line, e.order_id, e.ts, e.event_id) for e in latest]
    return _keys(await connection.fetch(_UPSERT_ENDS, *_columns(rows, 5)))


_RECOUNT = """
WITH counts AS (
    SELECT o.factory, o.line, o.order_id,
        jsonb_object_agg(p.station, p.good) FILTER (WHERE p.station IS NOT NULL) AS good,
        jsonb_object_agg(p.station, p.scrap) FILTER (WHERE p.station IS NOT NULL) AS scrap
    FROM unnest($1::text[], $2::text[], $3::text[]) AS t(factory, line, order_id)
    JOIN work_order o USING (factory, line, order_id)
    LEFT JOIN LATERAL (
        SELECT e.station, sum(e.good) AS good, sum(e.scrap) AS scrap
        FROM floor_production_report e
        WHERE e.factory = o.factory AND e.line = o.line
          AND e.minute >= date_trunc('minute', o.started_at, 'UTC')
          AND (o.ended_at IS NULL OR e.minute < o.ended_at)
          AND e.ts >= o.started_at AND (o.ended_at IS NULL OR e.ts < o.ended_at)
        GROUP BY e.station
    ) p ON true
    GROUP BY o.factory, o.line, o.order_id
)
UPDATE work_order w
SET good_by_station = coalesce(c.good, '{}'::jsonb),
    scrap_by_station = coalesce(c.scrap, '{}'::jsonb)
FROM counts c
WHERE w.factory = c.factory AND w.line = c.line AND w.order_id = c.order_id
"""
"""Per order, its parts per station: the production reports in ``[started_at, ended_at)``,
read through ``floor_production_report`` with ``minute`` bounded too, so that only the rows of
the order's minutes are unnested."""


async def recount_orders(connection: Connection, *, orders: Collection[OrderKey]) -> None:
    """Recount the orders' parts per station from the production stored
    (``floor_production_minute``), which holds production that arrived before their start."""
    if orders:
        await connection.execute(_RECOUNT, *_columns(orders, 3))
