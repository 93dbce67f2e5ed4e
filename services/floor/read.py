"""The floor-state processor's tables as the API reads them: its read side, beside its store.

The processor keeps ``station_state``, ``operator_presence``, ``material_stock``,
``work_order`` and ``kanban_card`` (`store`, `cards`); the API reads them only through this
module: a line's stations, operators, materials, current order and open cards (the status
call, which reads them in one read-only repeatable-read transaction it opens), its work
orders, and a factory's cards. One statement each, whatever the number of stations.

Each function takes the caller's ``scope`` and refuses a factory outside it before any
statement.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from kanban.orders import WorkOrder
from kanban.status import MaterialRow, OperatorRow, StationRow, seconds
from schemas.kanban import KanbanCard
from schemas.types import MachineState
from services.runtime.database import Connection, Scope

__all__ = [
    "ORDERS_LIMIT",
    "card",
    "checked_in",
    "current_order",
    "line_cards",
    "line_orders",
    "list_cards",
    "material_stock",
    "station_states",
]


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


# --- Cards and work orders ----------------------------------------------------------------

ORDERS_LIMIT = 50

# The material's station and unit come from its stock row, where the floor state has one.
_SELECT = """
SELECT c.id, c.factory, c.line, c.material_id, c.slot, s.station, c.quantity, s.unit, c.status,
       c.raised_at, c.raised_event_id, c.updated_at, c.closed_at
FROM kanban_card c
LEFT JOIN material_stock s USING (factory, line, material_id)
"""
_FACTORY = f"""
SELECT * FROM ({_SELECT} WHERE c.factory = $1 AND ($2 OR c.status <> 'closed')
               ORDER BY c.raised_at DESC, c.id DESC LIMIT $3) AS newest
ORDER BY raised_at, id
"""  # noqa: S608 - constant SQL
_LINE = f"""{_SELECT} WHERE c.factory = $1 AND c.line = $2 AND c.status <> 'closed'
ORDER BY c.raised_at, c.id"""  # noqa: S608 - constant SQL
_ONE = f"{_SELECT} WHERE c.factory = $1 AND c.id = $2"  # noqa: S608 - constant SQL


def _card(r: Any, now: datetime) -> KanbanCard:
    until = r["closed_at"] if r["closed_at"] is not None else now
    return KanbanCard(**dict(r), age_s=seconds(r["raised_at"], until))


async def list_cards(
    connection: Connection,
    *,
    scope: Scope,
    factory: str,
    open_only: bool,
    now: datetime,
    limit: int = 500,
) -> list[KanbanCard]:
    """The factory's cards (only the open ones, or all), oldest raised first, at most
    ``limit`` (the newest ones where there are more)."""
    scope.require(factory)
    records = await connection.fetch(_FACTORY, factory, not open_only, limit)
    return [_card(r, now) for r in records]


async def card(
    connection: Connection, *, scope: Scope, factory: str, card_id: int, now: datetime
) -> KanbanCard | None:
    """The factory's card ``card_id``, or None where it has none of that id."""
    scope.require(factory)
    record = await connection.fetchrow(_ONE, factory, card_id)
    return None if record is None else _card(record, now)


async def line_cards(
    connection: Connection, *, scope: Scope, factory: str, line: str, now: datetime
) -> list[KanbanCard]:
    """The line's open cards, oldest raised first."""
    scope.require(factory)
    records = await connection.fetch(_LINE, factory, line)
    return [_card(r, now) for r in records]


async def line_orders(
    connection: Connection, *, scope: Scope, factory: str, line: str
) -> list[WorkOrder]:
    """The line's work orders, newest start first, at most `ORDERS_LIMIT`; an order known only
    from its end event has no start and is left out."""
    scope.require(factory)
    records = await connection.fetch(
        "SELECT order_id, product_id, target_quantity, ideal_cycle_time_s, started_at, ended_at,"
        " good_by_station, scrap_by_station FROM work_order"
        " WHERE factory = $1 AND line = $2 AND started_at IS NOT NULL"
        " ORDER BY started_at DESC, order_id DESC LIMIT $3",
        factory,
        line,
        ORDERS_LIMIT,
    )
    return [
        WorkOrder(
            order_id=r["order_id"],
            product_id=r["product_id"],
            target_quantity=r["target_quantity"] or 0,
            started_at=r["started_at"],
            ended_at=r["ended_at"],
            ideal_cycle_time_s=r["ideal_cycle_time_s"],
            good_by_station=_counts(r["good_by_station"]),
            scrap_by_station=_counts(r["scrap_by_station"]),
        )
        for r in records
    ]
