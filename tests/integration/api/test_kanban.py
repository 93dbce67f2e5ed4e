"""The kanban calls with a real PostgreSQL: replenishment cards (listing, advancing) and the
work-order cards of a line. Rows are written as the floor-state processor keeps them; the
clock is pinned at `NOW`; each test uses a factory of its own."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from tests.integration.api.support import AUTH, NOW, a_factory

pytestmark = pytest.mark.integration


async def a_card(
    db: asyncpg.Connection, factory: str, *, material: str = "m1", status: str = "requested",
    line: str = "l1", slot: int = 1, minutes_ago: float = 10,
) -> int:  # fmt: skip
    raised = NOW - timedelta(minutes=minutes_ago)
    closed = raised + timedelta(minutes=1) if status == "closed" else None
    card_id: int = await db.fetchval(
        "INSERT INTO kanban_card (factory, line, material_id, slot, quantity, status, raised_at,"
        " raised_event_id, updated_at, closed_at, closed_event_id)"
        " VALUES ($1, $2, $3, $4, 50, $5, $6, 'x1', $6, $7, $8) RETURNING id",
        factory, line, material, slot, status, raised, closed, "x2" if closed else None,
    )  # fmt: skip
    return card_id


def advance_url(factory: str, card_id: int) -> str:
    return f"/api/v1/factories/{factory}/kanban/cards/{card_id}/advance"


async def advance(api: httpx.AsyncClient, factory: str, card_id: int) -> httpx.Response:
    return await api.post(advance_url(factory, card_id), headers=AUTH)


async def cards(api: httpx.AsyncClient, factory: str, **params: str) -> list[dict[str, Any]]:
    answer = await api.get(f"/api/v1/factories/{factory}/kanban/cards", params=params, headers=AUTH)
    assert answer.status_code == 200, answer.text
    assert answer.json()["factory"] == factory
    found: list[dict[str, Any]] = answer.json()["cards"]
    return found


async def test_a_card_advances_requested_in_transit_delivered_then_409(
    api: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    factory = a_factory()
    card_id = await a_card(db, factory)
    await db.execute(
        "INSERT INTO material_stock (factory, line, material_id, station, unit, quantity,"
        " last_ts) VALUES ($1, 'l1', 'm1', 's1', 'kg', 12, $2)",
        factory, NOW,
    )  # fmt: skip
    moves = []
    for _ in range(2):
        answer = await advance(api, factory, card_id)
        assert answer.status_code == 200, answer.text
        moves.append(answer.json())
    assert [m["status"] for m in moves] == ["in_transit", "delivered"]
    assert moves[-1] | {"status": None} == {
        "id": card_id, "factory": factory, "line": "l1", "material_id": "m1", "slot": 1,
        "station": "s1", "quantity": 50.0, "unit": "kg", "status": None,
        "raised_at": "2026-11-02T23:50:00Z", "raised_event_id": "x1",
        "updated_at": "2026-11-03T00:00:00Z", "closed_at": None, "age_s": 600.0,
    }  # fmt: skip
    again = await advance(api, factory, card_id)
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "conflict"
    assert "delivered" in again.json()["error"]["message"]


async def test_a_closed_card_does_not_advance(
    api: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    factory = a_factory()
    card_id = await a_card(db, factory, status="closed")
    answer = await advance(api, factory, card_id)
    assert (answer.status_code, answer.json()["error"]["code"]) == (409, "conflict")


async def test_an_unknown_card_or_one_of_another_factory_is_404(
    api: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    factory, other = a_factory(), a_factory()
    card_id = await a_card(db, other)
    for answer in [await advance(api, factory, card_id), await advance(api, factory, 2**62)]:
        assert (answer.status_code, answer.json()["error"]["code"]) == (404, "not_found")
    assert (await cards(api, other))[0]["status"] == "requested"  # untouched
    assert (await advance(api, factory, 0)).status_code == 422
    assert (await api.post(advance_url(factory, card_id))).status_code == 401


async def test_the_listing_is_open_cards_oldest_first_or_all(
    api: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    factory = a_factory()
    newer = await a_card(db, factory, material="m2", minutes_ago=5)
    older = await a_card(db, factory, line="l2", minutes_ago=30, status="delivered")
    closed = await a_card(db, factory, minutes_ago=60, status="closed")
    await a_card(db, a_factory())  # another factory's
    assert [c["id"] for c in await cards(api, factory)] == [older, newer]
    everything = await cards(api, factory, status="all")
    assert [c["id"] for c in everything] == [closed, older, newer]
    assert everything[0]["age_s"] == 60.0  # until it closed
    assert everything[1]["station"] is None  # no stock row
    bad = await api.get(
        f"/api/v1/factories/{factory}/kanban/cards", params={"status": "x"}, headers=AUTH
    )
    assert bad.status_code == 422


async def test_the_line_status_lists_its_open_cards(
    api: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    factory = a_factory()
    await db.execute("INSERT INTO line (factory, line) VALUES ($1, 'l1')", factory)
    open_card = await a_card(db, factory)
    await a_card(db, factory, material="m2", status="closed")
    await a_card(db, factory, line="l2")
    answer = await api.get(f"/api/v1/factories/{factory}/lines/l1/status", headers=AUTH)
    assert answer.status_code == 200, answer.text
    assert [c["id"] for c in answer.json()["cards"]] == [open_card]


async def test_the_work_order_cards_are_queued_running_done_newest_first(
    api: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    factory = a_factory()
    await db.execute(
        "INSERT INTO line (factory, line, settings) VALUES ($1, 'l1', $2::jsonb)",
        factory, json.dumps({"name": "L1"}),
    )  # fmt: skip
    hour = timedelta(hours=1)
    rows = [
        ("WO-1", NOW - 3 * hour, NOW - 2 * hour, {"a": 90, "b": 95}),
        ("WO-2", NOW - hour, None, {"a": 10}),
        ("WO-3", NOW + hour, None, {}),
    ]
    for order_id, started, ended, good in rows:
        await db.execute(
            "INSERT INTO work_order (factory, line, order_id, product_id, target_quantity,"
            " started_at, start_event_id, ended_at, good_by_station)"
            " VALUES ($1, 'l1', $2, 'p', 100, $3, 'o', $4, $5::jsonb)",
            factory, order_id, started, ended, json.dumps(good),
        )  # fmt: skip
    await db.execute(
        "INSERT INTO work_order (factory, line, order_id, ended_at) VALUES ($1, 'l1', 'WO-0', $2)",
        factory, NOW,
    )  # fmt: skip
    answer = await api.get(f"/api/v1/factories/{factory}/lines/l1/orders", headers=AUTH)
    assert answer.status_code == 200, answer.text
    assert [
        (o["order_id"], o["status"], o["station"], o["good_count"]) for o in answer.json()["orders"]
    ] == [
        ("WO-3", "queued", None, 0),
        ("WO-2", "running", "a", 10),
        ("WO-1", "done", "b", 95),
    ]
    missing = await api.get(f"/api/v1/factories/{factory}/lines/nope/orders", headers=AUTH)
    assert missing.status_code == 404
