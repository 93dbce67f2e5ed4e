"""Material replenishment kanban: a factory's cards for the warehouse, and advancing one."""

from __future__ import annotations

from typing import Annotated, Final, Literal

from fastapi import APIRouter, HTTPException, Path, Query

from schemas.kanban import CardList, KanbanCard
from services.api.auth import CardMover, FloorReader
from services.api.deps import Database, FactoryPath, Now
from services.api.models import ERRORS, ErrorBody
from services.floor import card_advance
from services.floor import read as floor_read

router = APIRouter(tags=["kanban"])

_RULES: Final = """\
A card is raised by the floor-state processor when a material's quantity on hand falls to the
reorder point of the line's settings (`materials`: `reorder_point`, `container_quantity`):
one card per material, one more for each further whole container below the reorder point
(`slot`). The warehouse moves it `requested` → `in_transit` → `delivered`; a later
`replenished` material event of the line closes it (`closed`)."""

CardId = Annotated[int, Path(ge=1, le=2**63 - 1, description="The card's id.", examples=[42])]


@router.get(
    "/factories/{factory}/kanban/cards",
    summary="The factory's replenishment cards (the warehouse board)",
    description=f"{_RULES}\n\nOpen cards (all but `closed`) by default; `status=all` adds the "
    "closed ones. Oldest raised first; at most the 500 newest.",
    response_model=CardList,
    responses={
        **ERRORS,
        404: {"model": ErrorBody, "description": "The factory is not one of the token's."},
    },
)
async def list_cards(
    factory: FactoryPath,
    caller: FloorReader,
    pool: Database,
    now: Now,
    status: Annotated[
        Literal["open", "all"], Query(description="`open` (default) or `all`.")
    ] = "open",
) -> CardList:
    cards = await floor_read.list_cards(
        pool, scope=caller.scope, factory=factory, open_only=status == "open", now=now
    )
    return CardList(factory=factory, cards=cards)


@router.post(
    "/factories/{factory}/kanban/cards/{card_id}/advance",
    summary="Move a replenishment card on: requested → in transit → delivered",
    description=f"{_RULES}\n\nCalled from a warehouse screen or a scanner. Answers the card as "
    "it is now; the line's board screens are told at once.",
    response_model=KanbanCard,
    responses={
        **ERRORS,
        404: {"model": ErrorBody, "description": "The factory has no such card."},
        409: {
            "model": ErrorBody,
            "description": "The card is `delivered` or `closed`: it does not advance.",
        },
    },
)
async def advance_card(
    factory: FactoryPath, card_id: CardId, caller: CardMover, pool: Database, now: Now
) -> KanbanCard:
    moved = await card_advance.advance_card(
        pool, scope=caller.scope, factory=factory, card_id=card_id, now=now
    )
    if moved is None:
        raise HTTPException(404, f"no kanban card {card_id} in factory {factory!r}")
    if isinstance(moved, card_advance.Stuck):
        hint = " (a `replenished` material event closes it)" if moved.status == "delivered" else ""
        raise HTTPException(
            409, f"kanban card {card_id} is {moved.status}: it cannot advance{hint}"
        )
    return moved
