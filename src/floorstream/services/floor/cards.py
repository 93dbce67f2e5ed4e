"""The floor-state processor's kanban step (step 6 of `processor`): close the cards that a
``replenished`` event answers, then raise the cards that the recomputed stocks need.

Data access is keyword-only, one set-based statement per function, on the batch's connection
and inside its transaction: a batch re-applied after a crash was rolled back as a whole, and
the partial unique index ``kanban_card_open`` makes raising idempotent besides.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Collection, Iterable, Mapping
from typing import Any

from pydantic import TypeAdapter, ValidationError

from floorstream.kanban.replenishment import cards_needed
from floorstream.schemas import MaterialAction, MaterialEvent
from floorstream.schemas.line_settings import MaterialKanban
from floorstream.services.floor.fold import MaterialKey, Stock, latest_per

__all__ = ["apply_cards", "close_replenished", "material_rules", "raise_cards"]

log = logging.getLogger(__name__)

Connection = Any  # an asyncpg connection
LineKey = tuple[str, str]

_RULES: TypeAdapter[dict[str, MaterialKanban]] = TypeAdapter(dict[str, MaterialKanban])


async def apply_cards(
    connection: Connection,
    *,
    events: Collection[MaterialEvent],
    stocks: Mapping[MaterialKey, Stock],
) -> None:
    """Step 6: (a) each material's latest new ``replenished`` event closes its open cards
    raised before it; (b) each touched material gets the cards its quantity needs
    (`cards_needed`), raised by the batch's latest event of that material."""
    replenished = latest_per(
        (e for e in events if e.action is MaterialAction.REPLENISHED),
        lambda e: (e.factory, e.line, e.material_id),
    )
    await close_replenished(connection, replenished=replenished.values())  # a
    rules = await material_rules(connection, lines={(f, line) for f, line, _ in stocks})
    latest = latest_per(events, lambda e: (e.factory, e.line, e.material_id))
    wanted = []
    for key, stock in stocks.items():
        rule = rules.get(key)
        if rule is None or key not in latest:
            continue
        for slot in range(1, cards_needed(stock.quantity, rule) + 1):
            wanted.append((key, slot, rule.container_quantity, latest[key]))
    await raise_cards(connection, wanted=wanted)  # b


async def material_rules(
    connection: Connection, *, lines: Collection[LineKey]
) -> dict[MaterialKey, MaterialKanban]:
    """The kanban rules of the lines' settings, per material; a line without any has none."""
    if not lines:
        return {}
    factories, names = zip(*lines, strict=True)
    rows = await connection.fetch(
        "SELECT factory, line, settings -> 'materials' AS materials FROM line"
        " WHERE (factory, line) IN (SELECT * FROM unnest($1::text[], $2::text[]))"
        " AND jsonb_typeof(settings -> 'materials') = 'object'",
        list(factories),
        list(names),
    )
    rules: dict[MaterialKey, MaterialKanban] = {}
    for row in rows:
        try:
            parsed = _RULES.validate_python(json.loads(row["materials"]))
        except ValidationError as error:  # stored by the API, so validated: a bug, not a line's
            log.warning("ignored kanban settings of %s/%s: %s", row["factory"], row["line"], error)
            continue
        for material_id, rule in parsed.items():
            rules[(row["factory"], row["line"], material_id)] = rule
    return rules


_CLOSE = """
UPDATE kanban_card c
SET status = 'closed', closed_at = r.ts, closed_event_id = r.event_id, updated_at = r.ts
FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::text[])
    AS r(factory, line, material_id, ts, event_id)
WHERE c.factory = r.factory AND c.line = r.line AND c.material_id = r.material_id
  AND c.status <> 'closed'
  AND (c.raised_at, c.raised_event_id COLLATE "C") < (r.ts, r.event_id)
"""


async def close_replenished(
    connection: Connection, *, replenished: Iterable[MaterialEvent]
) -> None:
    """Close the open cards of each event's material raised before the event (by ts, then
    event_id); one event per material."""
    rows = [(e.factory, e.line, e.material_id, e.ts, e.event_id) for e in replenished]
    if rows:
        await connection.execute(_CLOSE, *(list(column) for column in zip(*rows, strict=True)))


_RAISE = """
INSERT INTO kanban_card (factory, line, material_id, slot, quantity, raised_at, raised_event_id,
                         updated_at)
SELECT factory, line, material_id, slot, quantity, ts, event_id, ts
FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::float8[], $6::timestamptz[],
            $7::text[]) AS w(factory, line, material_id, slot, quantity, ts, event_id)
ON CONFLICT (factory, line, material_id, slot) WHERE status <> 'closed' DO NOTHING
"""


async def raise_cards(
    connection: Connection, *, wanted: Iterable[tuple[MaterialKey, int, float, MaterialEvent]]
) -> None:
    """Raise a card per (material, slot, container quantity, raising event) where that slot
    has no open card."""
    rows = [
        (*key, slot, quantity, event.ts, event.event_id) for key, slot, quantity, event in wanted
    ]
    if rows:
        await connection.execute(_RAISE, *(list(column) for column in zip(*rows, strict=True)))
