"""Target against actual: how far the current work order is, and when it will be done.

The current order is the one started last (the caller reads it so). Its figures, at ``now``:

- ``station``, whose parts count: the line's ``constraint_station`` where set, else the station
  with the most good parts in the order (ties: the first by name), else None (no part yet);
- ideal cycle time: the order's, else the line's ``ideal_cycle_time_s``, else None;
- elapsed = min(now, ended_at or now, heard) − started_at (not below 0), where ``heard`` is
  ``stale_after_s`` after the line's last event: a line silent for longer is measured up to
  where it went silent, not against the wall clock (its parts may be made, unreported);
- expected = min(target, ⌊elapsed / ideal cycle time⌋), None without a cycle time;
- efficiency = good / expected, 4 decimals, None when expected is 0 or None;
- remaining = max(0, target − good);
- status ``done`` once ended at or before now, else ``running``;
- projected finish = now + remaining × elapsed / good, at the pace so far, while running with
  parts remaining and at least one good part (None otherwise).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from schemas.floor_state import OrderProgress, OrderStatus
from schemas.line_settings import LineSettings

__all__ = ["WorkOrder", "counted_station", "expected_count", "order_progress"]


@dataclass(frozen=True, slots=True)
class WorkOrder:
    """A work order as the floor state keeps it, with its parts per station while it ran."""

    order_id: str
    product_id: str | None
    target_quantity: int
    started_at: datetime
    ended_at: datetime | None = None
    ideal_cycle_time_s: float | None = None
    good_by_station: Mapping[str, int] = field(default_factory=dict)
    scrap_by_station: Mapping[str, int] = field(default_factory=dict)


def counted_station(order: WorkOrder, settings: LineSettings) -> str | None:
    """The station whose parts count for the order (see the module)."""
    if settings.constraint_station is not None:
        return settings.constraint_station
    if not order.good_by_station:
        return None
    return min(order.good_by_station.items(), key=lambda item: (-item[1], item[0]))[0]


def expected_count(elapsed: timedelta, ideal_cycle_time_s: float | None, target: int) -> int | None:
    """min(target, ⌊elapsed / cycle⌋), None without a cycle time."""
    if ideal_cycle_time_s is None:
        return None
    # Rounded before the floor so that float dust (3.0 / 0.1 = 29.999…) does not lose a part.
    cycles = math.floor(round(elapsed.total_seconds() / ideal_cycle_time_s, 9))
    return min(target, max(0, cycles))


def _status(order: WorkOrder, now: datetime) -> OrderStatus:
    return "done" if order.ended_at is not None and order.ended_at <= now else "running"


def _projected_finish(
    *, now: datetime, elapsed: timedelta, good: int, remaining: int, running: bool
) -> datetime | None:
    if not running or good <= 0 or remaining <= 0:
        return None
    return now + elapsed * remaining / good


def order_progress(
    order: WorkOrder,
    *,
    settings: LineSettings,
    now: datetime,
    last_seen: datetime | None = None,
) -> OrderProgress:
    """The order's target against its parts at ``now`` (see the module for each figure);
    ``last_seen`` is the time of the line's last event (None: not known)."""
    station = counted_station(order, settings)
    good = order.good_by_station.get(station, 0) if station is not None else 0
    scrap = order.scrap_by_station.get(station, 0) if station is not None else 0
    cycle = order.ideal_cycle_time_s
    if cycle is None:
        cycle = settings.ideal_cycle_time_s
    until = min(now, order.ended_at) if order.ended_at is not None else now
    if last_seen is not None:
        until = min(until, last_seen + timedelta(seconds=settings.stale_after_s))
    elapsed = max(timedelta(0), until - order.started_at)
    expected = expected_count(elapsed, cycle, order.target_quantity)
    remaining = max(0, order.target_quantity - good)
    status = _status(order, now)
    return OrderProgress(
        order_id=order.order_id,
        product_id=order.product_id,
        target_quantity=order.target_quantity,
        started_at=order.started_at,
        ended_at=order.ended_at,
        ideal_cycle_time_s=cycle,
        station=station,
        good_count=good,
        scrap_count=scrap,
        expected_count=expected,
        efficiency=round(good / expected, 4) if expected else None,
        remaining=remaining,
        projected_finish=_projected_finish(
            now=now, elapsed=elapsed, good=good, remaining=remaining, running=status == "running"
        ),
        status=status,
    )
