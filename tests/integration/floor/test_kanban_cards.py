"""Step 6 of the floor-state processor: kanban cards raised at the reorder point, once, and
closed by a later ``replenished`` event; against real PostgreSQL, through the handler."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from services.runtime.database import migrate
from services.stack.embedded.stack import Endpoints
from tests.integration.floor.test_processor import Floor, _apply, _at, _factory

pytestmark = pytest.mark.integration

RULES = {"m1": {"reorder_point": 100.0, "container_quantity": 50.0}}


@pytest.fixture
async def db(stack: Endpoints) -> AsyncIterator[Any]:
    connection = await asyncpg.connect(stack.database_url)
    try:
        await migrate(connection)
        yield connection
    finally:
        await connection.close()


async def a_line(db: Any, rules: dict[str, Any] = RULES) -> Floor:
    floor = Floor(_factory())
    await db.execute(
        "INSERT INTO line (factory, line, settings) VALUES ($1, 'l1', $2::jsonb)",
        floor.factory,
        json.dumps({"name": "L1", "materials": rules}),
    )
    return floor


async def cards(db: Any, factory: str) -> list[tuple[Any, ...]]:
    rows = await db.fetch(
        "SELECT material_id, slot, quantity, status, raised_at, raised_event_id, closed_at,"
        " closed_event_id FROM kanban_card WHERE factory = $1 ORDER BY id",
        factory,
    )
    return [tuple(r.values()) for r in rows]


async def test_a_level_at_the_reorder_point_raises_one_card_once(db: Any) -> None:
    f = await a_line(db)
    await _apply(db, [f.material("x1", 0, "level", quantity=400.0)])
    assert await cards(db, f.factory) == []
    low = [f.material("x2", 5, "level", quantity=100.0)]
    await _apply(db, low, low)  # re-delivered: applied once
    await _apply(db, [f.material("x3", 6, "consumed", quantity=20.0)])  # still low, card open
    await _apply(db, [f.material("x4", 7, "level", quantity=90.0)])
    assert await cards(db, f.factory) == [
        ("m1", 1, 50.0, "requested", _at(5), "x2", None, None),
    ]


async def test_a_material_without_a_rule_or_a_level_raises_nothing(db: Any) -> None:
    f = await a_line(db)
    await _apply(
        db,
        [
            f.material("x1", 0, "level", quantity=1.0, material_id="other"),
            f.material("x2", 0, "shortage"),  # m1: no level known
        ],
    )
    assert await cards(db, f.factory) == []


async def test_a_later_replenished_event_closes_the_cards_and_a_new_low_raises_again(
    db: Any,
) -> None:
    f = await a_line(db)
    await _apply(db, [f.material("x1", 10, "level", quantity=10.0)])  # 90 below: 2 cards
    assert [c[1] for c in await cards(db, f.factory)] == [1, 2]
    await _apply(db, [f.material("x0", 5, "replenished", quantity=5.0)])  # older: keeps them
    assert {c[3] for c in await cards(db, f.factory)} == {"requested"}
    await _apply(db, [f.material("x2", 20, "replenished", quantity=500.0)])
    assert [c[3:] for c in await cards(db, f.factory)] == [
        ("closed", _at(10), "x1", _at(20), "x2"),
        ("closed", _at(10), "x1", _at(20), "x2"),
    ]
    await _apply(db, [f.material("x3", 30, "level", quantity=60.0)])
    assert [c[:4] for c in await cards(db, f.factory)][2:] == [("m1", 1, 50.0, "requested")]


async def test_a_replenishment_in_the_same_batch_that_leaves_it_low_raises_a_fresh_card(
    db: Any,
) -> None:
    f = await a_line(db)
    await _apply(db, [f.material("x1", 0, "level", quantity=80.0)])
    await _apply(
        db,
        [
            f.material("x2", 5, "replenished", quantity=10.0),  # 90: still low
            f.material("x2", 5, "replenished", quantity=10.0),  # a repeat in the batch
        ],
    )
    assert [(c[3], c[5]) for c in await cards(db, f.factory)] == [
        ("closed", "x1"),
        ("requested", "x2"),
    ]
