"""Data access of the line status: the live floor state, read in one consistent snapshot.

The floor-state processor keeps the tables (migration ``0004_floor.sql``); the per-minute
buckets of the efficiency processor (``0003_efficiency.sql``) give the running stations'
last minutes. One statement per table, whatever the number of stations, all in one read-only
repeatable-read transaction, so that stations, operators, materials and the order agree.

Each function takes the caller's ``scope`` and refuses a factory outside it before any
statement.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from asyncpg import Connection, Pool

from kanban.orders import WorkOrder
from kanban.performance import RunWindow
from kanban.status import FloorState, MaterialRow, OperatorRow, StationRow
from schemas.types import MachineState
from services.api.kanban_store import line_cards
from services.api.scope import Scope

__all__ = [
    "checked_in",
    "current_order",
    "material_stock",
    "read_floor",
    "recent_runs",
    "station_states",
]


async def read_floor(
    pool: Pool,
    *,
    scope: Scope,
    factory: str,
    line: str,
    window: tuple[datetime, datetime],
    now: datetime,
) -> FloorState:
    """The line's floor state; ``window`` (``[start, end)``) bounds the running stations' runs,
    ``now`` gives the open kanban cards' age."""
    scope.require(factory)
    async with (
        pool.acquire() as connection,
        connection.transaction(isolation="repeatable_read", readonly=True),
    ):
        rows = await station_states(connection, scope=scope, factory=factory, line=line)
        running = [row.station for row in rows if row.state is MachineState.RUNNING]
        return FloorState(
            stations=rows,
            runs=await recent_runs(
                connection,
                scope=scope,
                factory=factory,
                line=line,
                stations=running,
                window=window,
            ),
            operators=await checked_in(connection, scope=scope, factory=factory, line=line),
            materials=await material_stock(connection, scope=scope, factory=factory, line=line),
            order=await current_order(connection, scope=scope, factory=factory, line=line),
            cards=await line_cards(connection, scope=scope, factory=factory, line=line, now=now),
        )


async def station_states(
    connection: Connection, *, scope: Scope, factory: str, line: str
) -> list[StationRow]:
    """Every station of the line the floor state has heard of, by name."""
    scope.require(factory)
    records = await connection.fetch(
        "SELECT station, state, reason, since, last_seen FROM station_state"
        " WHERE factory = $1 AND line = $2 ORDER BY station",
        factory,
        line,
    )
    return [
        StationRow(
            station=r["station"],
            state=MachineState(r["state"]) if r["state"] is not None else None,
            reason=r["reason"],
            since=r["since"],
            last_seen=r["last_seen"],
        )
        for r in records
    ]


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


async def checked_in(
    connection: Connection, *, scope: Scope, factory: str, line: str
) -> list[OperatorRow]:
    """The operators whose latest people event on the line is a check-in."""
    scope.require(factory)
    records = await connection.fetch(
        "SELECT operator_id, station, role, ts FROM operator_presence"
        " WHERE factory = $1 AND line = $2 AND action = 'check_in'"
        " ORDER BY station, operator_id",
        factory,
        line,
    )
    return [OperatorRow(r["operator_id"], r["station"], r["role"], r["ts"]) for r in records]


async def material_stock(
    connection: Connection, *, scope: Scope, factory: str, line: str
) -> list[MaterialRow]:
    """Every material at the line, with its stock and shortage."""
    scope.require(factory)
    records = await connection.fetch(
        "SELECT material_id, station, quantity, unit, last_ts, consumed, shortage, status_ts"
        " FROM material_stock WHERE factory = $1 AND line = $2 ORDER BY station, material_id",
        factory,
        line,
    )
    return [
        MaterialRow(
            material_id=r["material_id"],
            station=r["station"],
            quantity=r["quantity"],
            unit=r["unit"],
            updated_at=r["last_ts"],
            consumed=r["consumed"],
            shortage=r["shortage"],
            status_ts=r["status_ts"],
        )
        for r in records
    ]


# The order started last (ties: the greatest id, so that the answer is stable). An order known
# only from its end event has no start and is not current.
_CURRENT_ORDER = """
SELECT order_id, product_id, target_quantity, ideal_cycle_time_s, started_at, ended_at,
       good_by_station, scrap_by_station
FROM work_order
WHERE factory = $1 AND line = $2 AND started_at IS NOT NULL
ORDER BY started_at DESC, order_id DESC
LIMIT 1
"""


def _counts(value: str) -> dict[str, int]:
    # asyncpg answers jsonb as text: {station: parts}.
    parsed: dict[str, Any] = json.loads(value)
    return {station: int(parts) for station, parts in parsed.items()}


async def current_order(
    connection: Connection, *, scope: Scope, factory: str, line: str
) -> WorkOrder | None:
    """The work order started last on the line, or None before any start."""
    scope.require(factory)
    r = await connection.fetchrow(_CURRENT_ORDER, factory, line)
    if r is None:
        return None
    return WorkOrder(
        order_id=r["order_id"],
        product_id=r["product_id"],
        # A start always names its target (OrderPayload); 0 only if a row lacks it anyway.
        target_quantity=r["target_quantity"] or 0,
        started_at=r["started_at"],
        ended_at=r["ended_at"],
        ideal_cycle_time_s=r["ideal_cycle_time_s"],
        good_by_station=_counts(r["good_by_station"]),
        scrap_by_station=_counts(r["scrap_by_station"]),
    )
