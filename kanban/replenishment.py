"""Material replenishment kanban: when a line asks the warehouse for material, and how a card
moves on.

- A material with a rule in the line's settings (`MaterialKanban`) needs a card while its
  quantity on hand is at or below the ``reorder_point``; each further whole container below it
  needs one more: n = 1 + ⌊(reorder_point − quantity) / container_quantity⌋ cards (slots 1..n).
  A quantity not known yet (no level reported) needs none.
- A card is ``requested`` when raised, then advanced by the warehouse to ``in_transit`` and to
  ``delivered``; a later ``replenished`` material event of the line closes every open card of
  the material (``closed``). Only the processor closes; a delivered or closed card does not
  advance.
"""

from __future__ import annotations

import math
from typing import Final

from schemas.kanban import CardStatus
from schemas.line_settings import MaterialKanban

__all__ = ["ADVANCES", "CardStatus", "cards_needed", "next_status"]

ADVANCES: Final[dict[CardStatus, CardStatus]] = {
    "requested": "in_transit",
    "in_transit": "delivered",
}
"""The moves the warehouse makes; a card in no key here does not advance."""

MAX_CARDS: Final = 20
"""Cards one material may ask for at once: a misconfigured tiny container must not flood the
warehouse board."""


def cards_needed(quantity: float | None, rule: MaterialKanban) -> int:
    """How many open cards the material needs at ``quantity`` (see the module)."""
    if quantity is None or quantity > rule.reorder_point:
        return 0
    # Rounded before the floor so that float dust (0.3 / 0.1 = 2.999…) does not lose a card.
    below = math.floor(round((rule.reorder_point - quantity) / rule.container_quantity, 9))
    return min(MAX_CARDS, 1 + below)


def next_status(status: CardStatus) -> CardStatus | None:
    """The status the card advances to, or None where it cannot advance."""
    return ADVANCES.get(status)
