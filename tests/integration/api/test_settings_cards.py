"""A line's settings ``PUT`` evaluates its materials' current stock against the new
``materials`` rules: the kanban cards a level event would have raised are raised then, in the
same transaction; against real PostgreSQL, with the floor-state processor's handler writing the
stock."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest

from services.floor.processor import retaining
from services.stack.embedded.stack import Endpoints
from tests.integration.api.support import AUTH
from tests.integration.floor.test_processor import (
    NOW,
    RETENTION,
    Floor,
    _apply,
    _at,
    _factory,
    _records,
)

pytestmark = pytest.mark.integration

RULE = {"reorder_point": 100.0, "container_quantity": 50.0}


@pytest.fixture
async def floor_db(stack: Endpoints, client: httpx.AsyncClient) -> AsyncIterator[Any]:
    """A connection of the processor's; the ``client`` app has migrated the database."""
    connection = await asyncpg.connect(stack.database_url)
    yield connection
    await connection.close()


async def put(client: httpx.AsyncClient, floor: Floor, **materials: Any) -> httpx.Response:
    answer = await client.put(
        f"/api/v1/factories/{floor.factory}/lines/l1",
        json={"name": "L1", "materials": materials},
        headers=AUTH,
    )
    assert answer.status_code == 200, answer.text
    return answer


async def cards(db: Any, factory: str) -> list[tuple[Any, ...]]:
    rows = await db.fetch(
        "SELECT material_id, slot, quantity, status, raised_at, raised_event_id"
        " FROM kanban_card WHERE factory = $1 ORDER BY material_id, slot, id",
        factory,
    )
    return [tuple(r.values()) for r in rows]


async def test_a_level_below_the_reorder_point_before_the_rules_raises_a_card_when_they_come(
    client: httpx.AsyncClient, floor_db: Any
) -> None:
    f = Floor(_factory())
    await _apply(
        floor_db,
        [
            f.material("x1", 5, "level", quantity=40.0),  # 60 below 100: two cards
            f.material("x2", 7, "consumed", quantity=3.0),  # its latest event
            f.material("y1", 5, "level", quantity=500.0, material_id="m2"),  # above
        ],
    )
    await put(client, f)  # settings, no rules: nothing
    assert await cards(floor_db, f.factory) == []

    await put(client, f, m1=RULE, m2=RULE, m3=RULE)  # m3: no stock known
    expected = [
        ("m1", 1, 50.0, "requested", _at(7), "x2"),
        ("m1", 2, 50.0, "requested", _at(7), "x2"),
    ]
    assert await cards(floor_db, f.factory) == expected
    listed = await client.get(f"/api/v1/factories/{f.factory}/kanban/cards", headers=AUTH)
    assert [(c["material_id"], c["slot"]) for c in listed.json()["cards"]] == [
        ("m1", 1),
        ("m1", 2),
    ]

    await put(client, f, m1=RULE)  # the same again: no second card
    await put(client, f)  # rules gone: the open cards stay until a replenishment
    assert await cards(floor_db, f.factory) == expected
    await _apply(floor_db, [f.material("x3", 9, "level", quantity=30.0)])  # no rules: none
    assert await cards(floor_db, f.factory) == expected


async def test_a_higher_reorder_point_raises_the_further_cards_it_needs(
    client: httpx.AsyncClient, floor_db: Any
) -> None:
    f = Floor(_factory())
    await put(client, f, m1=RULE)
    await _apply(floor_db, [f.material("x1", 5, "level", quantity=90.0)])
    assert [c[1] for c in await cards(floor_db, f.factory)] == [1]
    await put(client, f, m1={"reorder_point": 200.0, "container_quantity": 50.0})
    assert [(c[1], c[5]) for c in await cards(floor_db, f.factory)] == [
        (1, "x1"),
        (2, "x1"),
        (3, "x1"),
    ]


async def test_a_put_during_a_batch_that_lowers_the_stock_waits_for_it_and_raises_the_card(
    client: httpx.AsyncClient, floor_db: Any, stack: Endpoints
) -> None:
    """Without the lock, each transaction sees the other's table as it was before: the batch
    reads no rules, the PUT reads no stock, and no card is ever raised."""
    f = Floor(_factory())
    await put(client, f)
    handle = retaining(RETENTION, lambda: NOW)
    watcher = await asyncpg.connect(stack.database_url)
    try:
        async with floor_db.transaction():
            await handle(floor_db, _records([f.material("x1", 5, "level", quantity=10.0)]))
            task = asyncio.create_task(put(client, f, m1=RULE))
            await until(lambda: _waiting_on_a_lock(watcher), task)
    finally:
        await watcher.close()
    await asyncio.wait_for(task, 60)
    assert [c[:6] for c in await cards(floor_db, f.factory)][:1] == [
        ("m1", 1, 50.0, "requested", _at(5), "x1"),
    ]


async def _waiting_on_a_lock(watcher: Any) -> bool:
    waiting: bool = await watcher.fetchval(
        "SELECT count(*) > 0 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
    )
    return waiting


async def until(condition: Any, task: asyncio.Task[Any], timeout: float = 60) -> None:
    """Until ``condition()`` holds or ``task`` is done, whichever comes first."""
    deadline = time.monotonic() + timeout
    while not task.done() and not await condition():
        assert time.monotonic() < deadline, "timed out waiting for the PUT to wait"
        await asyncio.sleep(0.05)
