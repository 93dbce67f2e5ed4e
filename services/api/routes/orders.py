"""Work-order cards of a line: queued, running and done orders with their parts."""

from __future__ import annotations

from fastapi import APIRouter

from kanban.order_cards import order_card
from schemas.kanban import OrderCardList
from services.api.auth import FloorReader
from services.api.deps import Database, FactoryPath, LinePath, Now, known_line
from services.api.models import ERRORS, ErrorBody
from services.floor import read as floor_read

router = APIRouter(tags=["kanban"])


@router.get(
    "/factories/{factory}/lines/{line}/orders",
    summary="The line's work orders as cards: queued, running, done",
    description="The line's work orders from its `order` events, newest start first, at most "
    f"{floor_read.ORDERS_LIMIT}. An order is `queued` while its start is after now, `done` "
    "once its end is at or before now, else `running`. `good_count` is that of `station`: the "
    "line's `constraint_station`, else the station with the most good parts in the order "
    "(ties: first by name), as in the line status.",
    response_model=OrderCardList,
    responses={**ERRORS, 404: {"model": ErrorBody, "description": "No such line."}},
)
async def list_orders(
    factory: FactoryPath, line: LinePath, caller: FloorReader, pool: Database, now: Now
) -> OrderCardList:
    row = await known_line(pool, scope=caller.scope, factory=factory, line=line)
    settings = row.settings_or_defaults()
    orders = await floor_read.line_orders(pool, scope=caller.scope, factory=factory, line=line)
    return OrderCardList(
        factory=factory,
        line=line,
        orders=[order_card(order, settings=settings, now=now) for order in orders],
    )
