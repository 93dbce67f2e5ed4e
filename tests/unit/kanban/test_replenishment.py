"""Pure rules of the material replenishment kanban."""

from __future__ import annotations

import pytest

from kanban.replenishment import MAX_CARDS, cards_needed, next_status
from schemas.line_settings import MaterialKanban

RULE = MaterialKanban(reorder_point=100, container_quantity=50)


@pytest.mark.parametrize(
    ("quantity", "cards"),
    [
        (None, 0),
        (100.01, 0),
        (100, 1),
        (51, 1),
        (50, 2),
        (0, 3),
        (-60, 4),
    ],
)
def test_cards_needed(quantity: float | None, cards: int) -> None:
    assert cards_needed(quantity, RULE) == cards


def test_float_dust_does_not_lose_a_card_and_a_tiny_container_is_capped() -> None:
    assert cards_needed(0.0, MaterialKanban(reorder_point=0.3, container_quantity=0.1)) == 4
    tiny = MaterialKanban(reorder_point=100, container_quantity=0.001)
    assert cards_needed(0, tiny) == MAX_CARDS


def test_a_zero_reorder_point_raises_at_zero_only() -> None:
    rule = MaterialKanban(reorder_point=0, container_quantity=10)
    assert (cards_needed(0.5, rule), cards_needed(0, rule)) == (0, 1)


def test_cards_advance_requested_in_transit_delivered_and_no_further() -> None:
    assert next_status("requested") == "in_transit"
    assert next_status("in_transit") == "delivered"
    assert next_status("delivered") is None
    assert next_status("closed") is None
