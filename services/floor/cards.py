"""The kanban step of the floor-state processor (step 6 of `processor`): close the cards that a
``replenished`` event answers, then raise the cards that the recomputed stocks need; and the
same raising when a line's settings change (`raise_for_settings`, called by the API in the
transaction that stores them).

Data access is keyword-only, one set-based statement per function, on the caller's connection
and inside its transaction: a batch re-applied after a crash was rolled back as a whole, and
the partial unique index ``kanban_card_open`` makes raising idempotent besides.

A batch and a settings change of the same line are serialized by `lock_lines` (a transaction
advisory lock per line: shared for batches, exclusive for a settings change). Without it, a
batch that lowers a stock and a settings change that adds its rule could each see the other's
state as it was before, and neither raise the card.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Collection, Iterable, Mapping
from typing import Final

from pydantic import TypeAdapter, ValidationError

from kanban.replenishment import cards_needed
from schemas import MaterialAction
from schemas.line_settings import MaterialKanban
from schemas.records import MaterialRecord
from schemas.types import LineKey
from services.floor.fold import Mark, MaterialKey, Stock, latest_per, mark
from services.runtime.database import Connection

__all__ = [
    "apply_cards",
    "close_replenished",
    "lock_lines",
    "material_rules",
    "raise_cards",
    "raise_for_settings",
    "wanted_cards",
]

log = logging.getLogger(f"floorstream.{__name__}")

Wanted = tuple[MaterialKey, int, float, Mark]
"""A card to raise: material, slot, container quantity, and the mark of the event raising it."""

_LOCK_SPACE: Final = 0x6B616E62  # "kanb": the first key of `lock_lines`' advisory locks

_RULES: TypeAdapter[dict[str, MaterialKanban]] = TypeAdapter(dict[str, MaterialKanban])


async def apply_cards(
    connection: Connection,
    *,
    events: Collection[MaterialRecord],
    stocks: Mapping[MaterialKey, Stock],
) -> None:
    """Step 6: after `lock_lines` (shared) on the batch's lines, (a) each material's latest new
    ``replenished`` event closes its open cards raised before it; (b) each touched material
    gets the cards its quantity needs (`wanted_cards`), raised by the batch's latest event of
    that material."""
    lines = {(e.factory, e.line) for e in events}
    await lock_lines(connection, lines=lines, exclusive=False)
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
        if rule is not None and key in latest:
            wanted += wanted_cards(key, stock.quantity, rule, mark(latest[key]))
    await raise_cards(connection, wanted=wanted)  # b


def wanted_cards(
    key: MaterialKey, quantity: float | None, rule: MaterialKanban, raised_by: Mark
) -> list[Wanted]:
    """The cards the material needs at ``quantity`` (`cards_needed`), slots 1..n, each to be
    raised by the event marked ``raised_by`` where its slot has no open card."""
    slots = range(1, cards_needed(quantity, rule) + 1)
    return [(key, slot, rule.container_quantity, raised_by) for slot in slots]


_LOCK = """
SELECT {}($1, k) FROM (
    SELECT DISTINCT hashtext(f || '/' || l) AS k FROM unnest($2::text[], $3::text[]) AS t(f, l)
    ORDER BY k
) AS keys
"""
_LOCK_SHARED = _LOCK.format("pg_advisory_xact_lock_shared")
_LOCK_EXCLUSIVE = _LOCK.format("pg_advisory_xact_lock")


async def lock_lines(
    connection: Connection, *, lines: Collection[LineKey], exclusive: bool
) -> None:
    """Take the lines' kanban locks until the transaction ends: shared ones for a batch
    (batches do not wait for each other), an exclusive one for a settings change."""
    if not lines:
        return
    factories, names = zip(*sorted(lines), strict=True)
    await connection.execute(
        _LOCK_EXCLUSIVE if exclusive else _LOCK_SHARED,
        _LOCK_SPACE,
        list(factories),
        list(names),
    )


_CURRENT = """
SELECT s.material_id, s.quantity,
       coalesce(e.ts, s.level_ts) AS ts, coalesce(e.event_id, s.level_event_id) AS event_id
FROM material_stock s
LEFT JOIN LATERAL (
    SELECT f.ts, f.event_id FROM floor_event f
    WHERE f.factory = s.factory AND f.line = s.line AND f.material_id = s.material_id
      AND f.kind = 'material'
    ORDER BY f.ts DESC, f.event_id COLLATE "C" DESC LIMIT 1
) e ON true
WHERE s.factory = $1 AND s.line = $2 AND s.material_id = ANY($3::text[])
  AND s.quantity IS NOT NULL
"""
"""Each material's quantity now and the mark of its latest event; the level's where retention
deleted every event of it (a known quantity always has a level)."""


async def raise_for_settings(
    connection: Connection, *, factory: str, line: str, rules: Mapping[str, MaterialKanban]
) -> int:
    """Raise the cards the line's materials need now under ``rules`` (the new settings'), as a
    level event would: by the material's latest event, where the slot has no open card.

    Call it after `lock_lines` (exclusive) on the line, in the transaction that stores the
    settings. An open card is never closed here: only a ``replenished`` event closes one,
    whatever the settings. Returns how many cards were wanted (raised or open already)."""
    if not rules:
        return 0
    rows = await connection.fetch(_CURRENT, factory, line, list(rules))
    wanted = []
    for r in rows:
        key = (factory, line, r["material_id"])
        raised_by = (r["ts"], r["event_id"])
        wanted += wanted_cards(key, r["quantity"], rules[r["material_id"]], raised_by)
    await raise_cards(connection, wanted=wanted)
    return len(wanted)


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
    connection: Connection, *, replenished: Iterable[MaterialRecord]
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


async def raise_cards(connection: Connection, *, wanted: Iterable[Wanted]) -> None:
    """Raise a card per (material, slot, container quantity, raising event's mark) where that
    slot has no open card."""
    rows = [(*key, slot, quantity, *raised_by) for key, slot, quantity, raised_by in wanted]
    if rows:
        await connection.execute(_RAISE, *(list(column) for column in zip(*rows, strict=True)))
