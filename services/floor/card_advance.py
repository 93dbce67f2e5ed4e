"""A kanban card advanced by a person: a scanner or a board's button, through the API.

The cards are the floor-state processor's (``kanban_card``): it raises and closes them
(`cards`), a person moves them on between (here), and the API reads them through `read`; so
every write of the table is in this package. Takes the caller's ``scope`` and refuses a
factory outside it before any statement."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from asyncpg import Pool

from kanban.replenishment import next_status
from schemas.kanban import KanbanCard
from services.floor import read as floor_read
from services.runtime.board_push import notify_changed
from services.runtime.database import Scope

__all__ = ["Stuck", "advance_card"]


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
        return await floor_read.card(
            connection, scope=scope, factory=factory, card_id=card_id, now=now
        )
