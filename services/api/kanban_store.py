"""Data access of the kanban calls: replenishment cards (``0005_kanban.sql``) and the work
orders of a line as cards (``work_order``, ``0004_floor.sql``). Keyword-only functions; each
takes the caller's ``scope`` and refuses a factory outside it before any statement."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from asyncpg import Connection, Pool

from kanban.orders import WorkOrder
from kanban.replenishment import next_status
from kanban.status import seconds
from schemas.kanban import KanbanCard
from services.api.scope import Scope
from services.runtime.board_push import notify_changed

__all__ = ["Stuck", "advance_card", "line_cards", "line_orders", "list_cards"]

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
_ONE = f"{_SELECT} WHERE c.id = $1"  # noqa: S608 - constant SQL


def _card(r: Any, now: datetime) -> KanbanCard:
    until = r["closed_at"] if r["closed_at"] is not None else now
    return KanbanCard(**dict(r), age_s=seconds(r["raised_at"], until))


async def list_cards(
    pool: Pool, *, scope: Scope, factory: str, open_only: bool, now: datetime, limit: int = 500
) -> list[KanbanCard]:
    """The factory's cards (only the open ones, or all), oldest raised first, at most
    ``limit`` (the newest ones where there are more)."""
    scope.require(factory)
    records = await pool.fetch(_FACTORY, factory, not open_only, limit)
    return [_card(r, now) for r in records]


async def line_cards(
    connection: Connection, *, scope: Scope, factory: str, line: str, now: datetime
) -> list[KanbanCard]:
    """The line's open cards, oldest raised first."""
    scope.require(factory)
    records = await connection.fetch(_LINE, factory, line)
    return [_card(r, now) for r in records]


@dataclass(frozen=True, slots=True)
class Stuck:
    """The card exists but cannot advance from its status."""

    status: str


async def advance_card(
    pool: Pool, *, scope: Scope, factory: str, card_id: int, now: datetime
) -> KanbanCard | Stuck | None:
    """Move the card of the factory one step on (`next_status`) and tell its line's boards;
    None where the factory has no such card. The row is locked, so two scanners advancing the
    same card at once move it on one step each, one after the other."""
    scope.require(factory)
    async with pool.acquire() as connection, connection.transaction():
        status: (
            Literal["requested", "in_transit", "delivered", "closed"] | None
        ) = await connection.fetchval(
            "SELECT status FROM kanban_card WHERE factory = $1 AND id = $2 FOR UPDATE",
            factory,
            card_id,
        )
        if status is None:
            return None
        after = next_status(status)
        if after is None:
            return Stuck(status)
        line = await connection.fetchval(
            "UPDATE kanban_card SET status = $3, updated_at = $4 WHERE factory = $1 AND id = $2"
            " RETURNING line",
            factory,
            card_id,
            after,
            now,
        )
        await notify_changed(connection, [(factory, line)])
        record = await connection.fetchrow(_ONE, card_id)
        return _card(record, now)


def _counts(value: str) -> dict[str, int]:
    # asyncpg answers jsonb as text: {station: parts}.
    parsed: dict[str, Any] = json.loads(value)
    return {station: int(parts) for station, parts in parsed.items()}


async def line_orders(pool: Pool, *, scope: Scope, factory: str, line: str) -> list[WorkOrder]:
    """The line's work orders, newest start first, at most `ORDERS_LIMIT`; an order known only
    from its end event has no start and is left out."""
    scope.require(factory)
    records = await pool.fetch(
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
