"""What stops a line, the order it runs, and the machine state each station shows for it.

At any instant a line either runs or is held by one :class:`Stop`. Stations show the stop as the
contract's machine states: a breakdown or a shortage at one station leaves the stations upstream
``blocked`` and those downstream ``starved``; a setup or a wait for the crew holds every station.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from services.simulator.layout import Product
from services.simulator.types import JsonScalar, MachineState

StopKind = Literal["idle", "setup", "down", "short_stop", "starved"]
StationState = tuple[MachineState, str | None]  # state and reason


@dataclass(slots=True)
class Stop:
    """The line is held: for ``remaining`` more seconds of working time, or until resolved (None).

    ``station`` is where it happened, for ``down``, ``short_stop`` (the constraint station) and
    ``starved`` (the station the missing material feeds).
    """

    kind: StopKind
    remaining: float | None
    station: int | None
    reason: str


@dataclass(slots=True)
class ActiveOrder:
    """The running work order; ``parts_left`` counts good and scrap parts still to make."""

    order_id: str
    product: Product
    target_quantity: int
    parts_left: float
    cycle_s: float  # the actual cycle: the ideal one stretched by this order's speed loss

    def payload(self, action: Literal["start", "end"]) -> dict[str, JsonScalar]:
        return {
            "action": action,
            "order_id": self.order_id,
            "product_id": self.product.product_id,
            "target_quantity": self.target_quantity,
            "ideal_cycle_time_s": self.product.ideal_cycle_time_s,
        }


def planned_states(count: int, reason: str) -> list[StationState]:
    return [("planned_stop", reason)] * count


def station_states(
    count: int, stop: Stop | None, short_stops: Mapping[int, str]
) -> list[StationState]:
    """The state of each of ``count`` stations while the line runs or is held by ``stop``.

    ``short_stops`` are stations other than the constraint briefly down (their buffers keep the
    line going); they show only while the line runs.
    """
    if stop is None or stop.kind == "short_stop":
        states: list[StationState] = [
            ("down", short_stops[i]) if i in short_stops else ("running", None)
            for i in range(count)
        ]
        if stop is not None and stop.station is not None:
            states[stop.station] = ("down", stop.reason)
        return states
    if stop.kind == "idle" or stop.kind == "setup":
        return [(stop.kind, stop.reason)] * count
    where = stop.station if stop.station is not None else 0
    cause: StationState = ("down" if stop.kind == "down" else "starved", stop.reason)
    return [
        ("blocked", "downstream_stop")
        if i < where
        else cause
        if i == where
        else ("starved", "upstream_stop")
        for i in range(count)
    ]
