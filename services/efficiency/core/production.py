"""Which order, and which ideal cycle time, a production event's parts were made under.

Parts reported at ``ts`` were finished since the previous production event, that is *before*
``ts``. So a production event belongs to the order in force just before its ``ts``: order
events strictly earlier than it. For the same reason, its scrap is startup scrap when a setup
ended at ``e`` with ``e < ts <= e + startup_window_s``.

Orders: a ``start`` makes its order the running one (replacing any other); an ``end`` stops
the running order only if it names it. Order events are made unique by ``event_id`` and sorted
by ``(ts, action, order_id, event_id)`` with ``end`` before ``start`` at the same instant.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple

from schemas.types import OrderAction
from services.efficiency.core.types import Millis, OrderChange, Production, to_ms

__all__ = ["OrderTimeline", "Produced", "normalise_production"]


class Produced(NamedTuple):
    """A production event in the core's units; the field order is the sort order.

    A named tuple: one is made per production event folded, and a tuple is the cheapest
    value that sorts and compares field by field."""

    ts: Millis
    good: int
    scrap: int
    event_id: str


_new = tuple.__new__


def normalise_production(production: Iterable[Production]) -> list[Produced]:
    """Unique by ``event_id`` (the first in sort order kept), sorted."""
    unique: dict[str, Produced] = {}
    for event in production:
        event_id = event.event_id
        item: Produced = _new(Produced, (to_ms(event.ts), event.good, event.scrap, event_id))
        kept = unique.get(event_id)
        if kept is None or item < kept:
            unique[event_id] = item
    return sorted(unique.values())


@dataclass(frozen=True, slots=True, order=True)
class _Order:
    ts: Millis
    starts: bool  # False (end) sorts before True (start) at the same instant
    order_id: str
    cycle_s: float  # 0.0: the order names no ideal cycle time (a real one is > 0)
    event_id: str


class OrderTimeline:
    """The ideal cycle time of the running order at any instant (``None``: none known)."""

    def __init__(self, orders: Iterable[OrderChange]) -> None:
        unique: dict[str, _Order] = {}
        for order in orders:
            item = _Order(
                to_ms(order.ts),
                order.action is OrderAction.START,
                order.order_id,
                order.ideal_cycle_time_s or 0.0,
                order.event_id,
            )
            kept = unique.get(item.event_id)
            unique[item.event_id] = item if kept is None else min(kept, item)
        self._instants: list[Millis] = []
        self._cycle: list[float | None] = []
        running: _Order | None = None
        for item in sorted(unique.values()):
            if item.starts:
                running = item
            elif running is not None and running.order_id == item.order_id:
                running = None
            self._instants.append(item.ts)
            self._cycle.append(running.cycle_s or None if running is not None else None)

    def cycle_before(self, instant: Millis) -> float | None:
        """Ideal cycle time of the order in force just before `instant`, if it names one."""
        index = bisect_left(self._instants, instant) - 1
        return self._cycle[index] if index >= 0 else None
