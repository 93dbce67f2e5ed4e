"""Work-order cards of a line: each order's target against its good parts, and where it is.

- ``queued`` while its start is after now (an order announced ahead), ``done`` once its end is
  at or before now, else ``running``;
- its parts are those of `orders.counted_station` (the constraint station, else the station
  with the most good parts), as in the line status.
"""

from __future__ import annotations

from datetime import datetime

from kanban.orders import WorkOrder, counted_station
from schemas.kanban import OrderCard, OrderCardStatus
from schemas.line_settings import LineSettings

__all__ = ["order_card", "order_status"]


def order_status(order: WorkOrder, now: datetime) -> OrderCardStatus:
    """Where the order is at ``now`` (see the module)."""
    if order.started_at > now:
        return "queued"
    if order.ended_at is not None and order.ended_at <= now:
        return "done"
    return "running"


def order_card(order: WorkOrder, *, settings: LineSettings, now: datetime) -> OrderCard:
    """The order as a card at ``now``."""
    station = counted_station(order, settings)
    return OrderCard(
        order_id=order.order_id,
        product_id=order.product_id,
        target_quantity=order.target_quantity,
        started_at=order.started_at,
        ended_at=order.ended_at,
        station=station,
        good_count=order.good_by_station.get(station, 0) if station is not None else 0,
        status=order_status(order, now),
    )
