"""The floor-state processor: the live floor (stations, operators, materials, work orders) from
each batch of ``floor.events.v1``, inside its transaction (the consumer loop of
`runtime.consumer` stores the offsets in the same one; consumer group ``floor_group``):

1. read the records; one that is not an event of the contract is logged and skipped (policy:
   skip, never stop: the gateway validated it, so it is a producer bug, not a line's); so is an
   event older than the retention period (``not_before``), which retention would delete anyway
   (one warning per batch, with the count);
2. store the events not stored yet; only those are applied: a repeated ``event_id`` on a line
   is applied once (the first of a batch's copies; a later batch's by the database). Machine,
   people, material and order events get a row each in ``floor_event``; production reports do
   not: each is merged into its station and minute's row of ``floor_production_minute``,
   which holds a hash of every ``event_id`` counted there, in one statement for the batch that
   tells which were new and does step 7a for them (`store.merge_production`);
3. stations: every event raises its station's ``last_seen``; a machine event newer by
   ``(ts, event_id)`` than the station's state replaces it;
4. operators: a people event newer than the operator's row replaces it;
5. materials: each material the batch touched is recomputed from ``floor_event`` (latest level,
   plus what was loaded or replenished after it; latest consumed; latest shortage or
   replenished; unit and station of its latest event), keeping the stored level as the base
   where retention deleted it (`fold.merge_stock`);
6. kanban cards (`cards`), under the batch's lines' shared kanban locks (so that a settings
   change of a line, which raises the cards its new rules need, waits for this batch or this
   batch for it: `cards.lock_lines`): (a) a material's latest new ``replenished`` event closes
   its open cards raised before it; (b) a material whose recomputed quantity is at or below the
   reorder point of the line's settings gets the cards it needs
   (`kanban.replenishment.cards_needed`) where it has none open, an ``INSERT`` that the
   partial unique index makes idempotent; a card's later moves (warehouse advances) are the
   API's;
7. work orders: (a) new production is added to every order of its line whose span
   ``[started_at, ended_at)`` covers its ts (by step 2's merge, so the batch's production is
   sent once and only the new reports count; the orders are as the previous batch left them);
   (b) the latest start and end of each order are taken where they are newer; (c) an order
   whose span changed is recounted from ``floor_production_minute``, which holds production
   that arrived before its start;
8. tell the board screens of the lines changed (`board_push.notify_changed`: a NOTIFY that
   PostgreSQL sends only when this transaction commits).

Every step is one set-based statement or a few, whatever the number of events, stations,
materials or orders in the batch: at most 15 statements per batch; 4 for one of production
and machine events only (two in step 2, then steps 3 and 8), 5 with people events. Events are
told apart by ``kind`` (`schemas.records`), never by ``isinstance``.

Each step keeps a row a function of the set of events applied, so neither duplicates nor the
order of arrival change the floor state. Kanban cards (step 6) are the exception: they are a
workflow the warehouse moves on, so a card depends on when its material crossed the reorder
point; a repeated event still raises or closes nothing twice.

It returns what it did (`BatchResult`: applied, duplicates, late, skipped by reason), which
the consumer loop turns into the processor's metrics.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from schemas import Kind, OrderAction
from schemas.records import MaterialRecord, OrderRecord, Record
from services.floor import cards, store
from services.floor.fold import (
    MaterialKey,
    Stock,
    additions,
    latest_per,
    merge_stock,
    stations_seen,
)
from services.runtime import batch_input
from services.runtime.board_push import notify_changed
from services.runtime.consumer import Handler, Records
from services.runtime.handler import BatchResult

log = logging.getLogger(f"floorstream.{__name__}")


def retaining(
    retention: timedelta,
    clock: Callable[[], datetime],
    future_tolerance: timedelta = batch_input.FUTURE_TOLERANCE,
) -> Handler:
    """`apply_batch` with the retention, future and lateness cut-offs (`batch_input.retaining`)."""
    return batch_input.retaining(apply_batch, retention, clock, future_tolerance)


async def apply_batch(
    connection: Any,
    records: Records,
    *,
    not_before: datetime | None = None,
    not_after: datetime | None = None,
    late_before: datetime | None = None,
) -> BatchResult:
    """Steps 1–8 for one batch, on the batch's connection (inside its transaction)."""
    received, skipped = batch_input.read_events(records, not_before, not_after)  # 1
    # production is ~98 % of events and needs nothing after step 3: split it off once
    reports, events = batch_input.split_production(received)
    others = await store.store_events(connection, events=events)  # 2
    made = await store.merge_production(connection, reports=reports)  # 2, 7a
    new: list[Record] = [*others, *made]
    late = 0 if late_before is None else sum(1 for e in new if e.ts < late_before)
    result = BatchResult(
        applied=len(new), duplicates=len(received) - len(new), late=late, skipped=skipped
    )
    if not new:
        return result
    await store.upsert_stations(connection, seen=stations_seen(new))  # 3
    people = [e for e in others if e.kind is Kind.PEOPLE]
    if people:  # 4
        latest = latest_per(people, lambda e: (e.factory, e.line, e.operator_id))
        await store.upsert_operators(connection, latest=latest.values())
    materials = [e for e in others if e.kind is Kind.MATERIAL]
    stocks = await _materials(connection, materials)  # 5
    if materials:  # 6
        await cards.apply_cards(connection, events=materials, stocks=stocks)
    await _orders(connection, [e for e in others if e.kind is Kind.ORDER])  # 7b, 7c
    await notify_changed(connection, {(e.factory, e.line) for e in new})  # 8
    return result


async def _materials(connection: Any, events: list[MaterialRecord]) -> dict[MaterialKey, Stock]:
    """Step 5; return the stocks recomputed."""
    if not events:
        return {}
    touched = {(e.factory, e.line, e.material_id) for e in events}
    found = await store.found_stocks(connection, materials=touched)
    stored = await store.stored_stocks(connection, materials=touched)
    added = additions(events)
    stocks = {
        key: merge_stock(found[key], stored.get(key), added.get(key, []))
        for key in touched
        if key in found  # always: the batch's own events are in floor_event
    }
    await store.write_stocks(connection, stocks=stocks)
    return stocks


async def _orders(connection: Any, orders: list[OrderRecord]) -> None:
    """Steps 7b and 7c (7a is done by step 2's merge)."""
    if not orders:
        return
    changed: set[store.OrderKey] = set()
    for action, upsert in (
        (OrderAction.START, store.upsert_starts),
        (OrderAction.END, store.upsert_ends),
    ):  # b
        latest = latest_per(
            (e for e in orders if e.action is action), lambda e: (e.factory, e.line, e.order_id)
        )
        if latest:
            changed |= await upsert(connection, latest=latest.values())
    await store.recount_orders(connection, orders=changed)  # c
