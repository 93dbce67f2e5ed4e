"""Material stock at a line: consumption per part, reorders, deliveries, shortages.

A delivery is ordered when the stock falls to its reorder point. Most arrive in time; a late one
lets the stock run out, the line starves (``shortage``) until it arrives (``replenished``).
Times here are working time (seconds inside shifts, outside breaks) of the line simulation.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from services.simulator import params
from services.simulator.layout import Material
from services.simulator.types import JsonScalar


@dataclass(slots=True)
class Stock:
    """The stock of one material at a line."""

    spec: Material
    level: float
    next_report: float
    due: float | None = None  # when the ordered delivery arrives
    short: bool = False
    consumed: float = 0.0  # since the running order started

    def consume(self, parts: float) -> None:
        used = parts * self.spec.per_part
        self.level = max(0.0, self.level - used)
        self.consumed += used

    def run_seconds_to_empty(self, cycle_s: float) -> float:
        """Running seconds until the stock is out, at ``cycle_s`` seconds a part."""
        return self.level / self.spec.per_part * cycle_s

    def run_seconds_to_reorder(self, cycle_s: float) -> float:
        return max(0.0, self.level - self.spec.reorder_at) / self.spec.per_part * cycle_s

    def order_delivery(self, rng: random.Random, now: float) -> None:
        late = rng.random() < params.LATE_DELIVERY_PROBABILITY
        lead = rng.uniform(*(params.LATE_DELIVERY_S if late else params.DELIVERY_S))
        self.due = now + lead

    def receive(self) -> str:
        """Book the delivery in; the material action to report: ``replenished`` (it answers the
        reorder, so it closes the line's kanban card, and ends a shortage if there is one)."""
        self.level += self.spec.lot
        self.due = None
        self.short = False
        return "replenished"

    def payload(self, action: str, quantity: float) -> dict[str, JsonScalar]:
        return {
            "action": action,
            "material_id": self.spec.material_id,
            "quantity": float(round(quantity)) if self.spec.unit == "pcs" else round(quantity, 1),
            "unit": self.spec.unit,
        }


def initial_stock(spec: Material, rng: random.Random, index: int) -> Stock:
    """A stock somewhere between just above its reorder point and a full lot above it."""
    level = spec.reorder_at + rng.uniform(0.3, 1.0) * spec.lot
    return Stock(spec=spec, level=level, next_report=30.0 * index)
