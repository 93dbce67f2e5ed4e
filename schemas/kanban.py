"""Kanban cards: material replenishment cards (the warehouse board) and work-order cards.

The rules behind them are in `kanban.replenishment` and
`kanban.order_cards`.
"""

from __future__ import annotations

from typing import Final, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from pydantic.config import JsonDict

__all__ = [
    "CardList",
    "CardStatus",
    "KanbanCard",
    "OrderCard",
    "OrderCardList",
    "OrderCardStatus",
]

CardStatus = Literal["requested", "in_transit", "delivered", "closed"]
"""Where a replenishment card is; every status but ``closed`` is open."""

OrderCardStatus = Literal["queued", "running", "done"]
"""A work order is ``queued`` before its start, ``done`` once its end is at or before now."""

_CARD: Final[JsonDict] = {
    "id": 42,
    "factory": "f1",
    "line": "l1",
    "material_id": "steel-coil-2mm",
    "slot": 1,
    "station": "press-1",
    "quantity": 1000.0,
    "unit": "kg",
    "status": "in_transit",
    "raised_at": "2026-11-02T01:40:00Z",
    "raised_event_id": "x-981",
    "updated_at": "2026-11-02T01:47:12Z",
    "closed_at": None,
    "age_s": 720.0,
}
_ORDER: Final[JsonDict] = {
    "order_id": "WO-881",
    "product_id": "bracket-a",
    "target_quantity": 5000,
    "started_at": "2026-11-01T22:00:00Z",
    "ended_at": None,
    "station": "press-2",
    "good_count": 3120,
    "status": "running",
}


class KanbanCard(BaseModel):
    """A material replenishment card: the line asks the warehouse for one container."""

    model_config = ConfigDict(frozen=True, json_schema_extra={"examples": [_CARD]})

    id: int = Field(description="The card's id, for `POST .../kanban/cards/{id}/advance`.")
    factory: str
    line: str
    material_id: str
    slot: int = Field(
        description="1 for the first card of the material; n for the n-th container asked for "
        "at once, where the quantity is n − 1 containers below the reorder point."
    )
    station: str | None = Field(description="Where the material is used, from its latest event.")
    quantity: float = Field(description="What the card asks for: the container quantity.")
    unit: str | None = Field(description="The material's unit, if its events give one.")
    status: CardStatus = Field(
        description="`requested` → `in_transit` → `delivered` (the warehouse), then `closed` "
        "by a later `replenished` material event."
    )
    raised_at: AwareDatetime = Field(description="Event time of the material event raising it.")
    raised_event_id: str
    updated_at: AwareDatetime = Field(description="When it was raised, advanced or closed.")
    closed_at: AwareDatetime | None = Field(
        description="Event time of the `replenished` event that closed it; null while open."
    )
    age_s: float = Field(
        description="Seconds from `raised_at` to now (to `closed_at` once closed), at least 0."
    )


class CardList(BaseModel):
    """A factory's replenishment cards, oldest raised first."""

    model_config = ConfigDict(
        frozen=True, json_schema_extra={"examples": [{"factory": "f1", "cards": [_CARD]}]}
    )

    factory: str
    cards: list[KanbanCard]


class OrderCard(BaseModel):
    """A work order of the line as a card: its target against the good parts made."""

    model_config = ConfigDict(frozen=True, json_schema_extra={"examples": [_ORDER]})

    order_id: str
    product_id: str | None
    target_quantity: int = Field(description="Good parts the order asks for.")
    started_at: AwareDatetime = Field(description="Its latest start event.")
    ended_at: AwareDatetime | None = Field(description="Its end; null while not ended.")
    station: str | None = Field(
        description="The station whose parts count: the line's `constraint_station`, else the "
        "one with the most good parts in the order (ties: first by name); null before any part."
    )
    good_count: int = Field(description="Good parts of `station` while the order ran.")
    status: OrderCardStatus = Field(
        description="`queued` while its start is after now, `done` once its end is at or "
        "before now, else `running`."
    )


class OrderCardList(BaseModel):
    """A line's work orders, newest start first."""

    model_config = ConfigDict(
        frozen=True,
        json_schema_extra={"examples": [{"factory": "f1", "line": "l1", "orders": [_ORDER]}]},
    )

    factory: str
    line: str
    orders: list[OrderCard]
