"""GET .../lines/{line}/status with a real PostgreSQL.

The floor-state rows are written directly, as the floor-state processor keeps them
(``0004_floor.sql``), with the per-minute buckets of the efficiency processor. The clock is
pinned at `NOW`; the session's database is shared, so each test uses a factory of its own.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from services.stack.embedded.stack import Endpoints
from tests.integration.api.support import AUTH, a_factory, serve

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 2, 2, 0, 30, tzinfo=UTC)
SETTINGS = {"name": "Press line 1", "ideal_cycle_time_s": 1.0}


def ago(seconds: float) -> datetime:
    return NOW - timedelta(seconds=seconds)


def at(text: str) -> datetime:
    """An instant of the day of `NOW`, "HH:MM:SS" UTC."""
    return datetime.fromisoformat(f"2026-11-02T{text}+00:00")


def url(factory: str, line: str) -> str:
    return f"/api/v1/factories/{factory}/lines/{line}/status"


@pytest.fixture
async def api(stack: Endpoints) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the API whose clock is pinned at this module's `NOW`."""
    async with serve(stack.database_url, clock=lambda: NOW) as http:
        yield http


async def get(api: httpx.AsyncClient, factory: str, line: str) -> dict[str, Any]:
    response = await api.get(url(factory, line), headers=AUTH)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def add_line(
    db: asyncpg.Connection, factory: str, line: str, settings: dict[str, Any] | None = None
) -> None:
    await db.execute(
        "INSERT INTO line (factory, line, settings) VALUES ($1, $2, $3::jsonb)",
        factory,
        line,
        json.dumps(settings or {}),
    )


async def add_stations(
    db: asyncpg.Connection, factory: str, line: str, rows: list[tuple[Any, ...]]
) -> None:
    """rows: (station, state, reason, since, last_seen)."""
    await db.executemany(
        "INSERT INTO station_state (factory, line, station, state, reason, since,"
        " state_event_id, last_seen) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        [
            (factory, line, s, state, reason, since, f"m-{s}" if state else None, seen)
            for s, state, reason, since, seen in rows
        ],
    )


async def add_minutes(
    db: asyncpg.Connection,
    factory: str,
    line: str,
    station: str,
    minutes: list[datetime],
    *,
    running_ms: int,
    small_stop_ms: int = 0,
    total: int = 0,
    ideal_time_s: float = 0.0,
    without_ideal: int = 0,
) -> None:
    """Buckets of the same figures for each of ``minutes``; the rest of a minute is down."""
    down_ms = 60_000 - running_ms - small_stop_ms
    await db.executemany(
        "INSERT INTO minute_bucket (factory, line, station, minute, running_ms, idle_ms,"
        " starved_ms, blocked_ms, down_ms, setup_ms, planned_stop_ms, offline_ms,"
        " small_stop_ms, unknown_ms, total_count, good_count, scrap_count, startup_scrap,"
        " ideal_time_s, count_without_ideal)"
        " VALUES ($1, $2, $3, $4, $5, 0, 0, 0, $6, 0, 0, 0, $7, 0, $8, $8, 0, 0, $9, $10)",
        [
            (factory, line, station, minute, running_ms, down_ms, small_stop_ms, total,
             ideal_time_s, without_ideal)
            for minute in minutes
        ],
    )  # fmt: skip


async def add_operators(
    db: asyncpg.Connection, factory: str, line: str, rows: list[tuple[Any, ...]]
) -> None:
    """rows: (operator_id, station, role, action, ts)."""
    await db.executemany(
        "INSERT INTO operator_presence (factory, line, operator_id, station, role, action, ts,"
        " event_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        [(factory, line, *row, f"p-{row[0]}") for row in rows],
    )


async def add_materials(
    db: asyncpg.Connection, factory: str, line: str, rows: list[tuple[Any, ...]]
) -> None:
    """rows: (material_id, station, unit, quantity, last_ts, consumed, shortage, status_ts)."""
    await db.executemany(
        "INSERT INTO material_stock (factory, line, material_id, station, unit, quantity,"
        " last_ts, consumed, shortage, status_ts) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9,"
        " $10)",
        [(factory, line, *row) for row in rows],
    )


async def add_order(
    db: asyncpg.Connection,
    factory: str,
    line: str,
    order_id: str,
    *,
    started_at: datetime | None,
    ended_at: datetime | None = None,
    target: int | None = 5000,
    ideal_cycle_time_s: float | None = None,
    good: dict[str, int] | None = None,
    scrap: dict[str, int] | None = None,
) -> None:
    await db.execute(
        "INSERT INTO work_order (factory, line, order_id, product_id, target_quantity,"
        " ideal_cycle_time_s, started_at, ended_at, good_by_station, scrap_by_station)"
        " VALUES ($1, $2, $3, 'bracket-a', $4, $5, $6, $7, $8::jsonb, $9::jsonb)",
        factory,
        line,
        order_id,
        target,
        ideal_cycle_time_s,
        started_at,
        ended_at,
        json.dumps(good or {}),
        json.dumps(scrap or {}),
    )


async def test_an_unknown_line_is_a_json_404(
    api: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    factory = a_factory()
    await add_line(db, factory, "l1")
    for asked in (url(factory, "l2"), url(a_factory(), "l1")):
        response = await api.get(asked, headers=AUTH)
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("path", [url("F1", "l1"), url("f1", "l 1"), url("f1", "x" * 65)])
async def test_a_bad_path_segment_is_a_422(api: httpx.AsyncClient, path: str) -> None:
    response = await api.get(path, headers=AUTH)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_request"


async def test_no_token_is_a_401(api: httpx.AsyncClient, db: asyncpg.Connection) -> None:
    factory = a_factory()
    await add_line(db, factory, "l1")
    response = await api.get(url(factory, "l1"))
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"


async def test_a_line_with_no_floor_state_yet(
    api: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    factory = a_factory()
    await add_line(db, factory, "l1")  # known, no settings: no name
    assert await get(api, factory, "l1") == {
        "factory": factory,
        "line": "l1",
        "name": None,
        "at": "2026-11-02T02:00:30Z",
        "andon": "unknown",
        "stale": True,
        "last_seen": None,
        "stations": [],
        "operators": [],
        "materials": [],
        "order": None,
        "cards": [],
    }


async def full_line(db: asyncpg.Connection) -> str:
    """A line at `NOW` with stations in every andon level, operators, materials, orders."""
    factory = a_factory()
    await add_line(db, factory, "l1", SETTINGS)
    await add_stations(db, factory, "l1", [
        ("press-1", "running", None, at("01:30:00"), at("02:00:25")),
        ("press-2", "running", None, at("01:40:00"), at("02:00:29")),
        ("press-3", "down", "jam", at("01:45:00"), at("01:59:00")),
        ("press-4", "planned_stop", "lunch", at("00:00:00"), at("02:00:00")),
        ("press-5", "running", None, at("01:30:00"), at("01:55:00")),
        ("press-6", "idle", None, at("01:58:00"), at("02:00:10")),
        ("press-7", None, None, None, at("02:00:00")),
    ])  # fmt: skip
    window = [at("01:50:00") + timedelta(minutes=n) for n in range(10)]
    outside = [at("01:49:00"), at("02:00:00")]  # before the window, and the current minute
    # press-1: 57 parts a minute at the line's 1 s: 570 s ideal over 600 s run.
    await add_minutes(db, factory, "l1", "press-1", window, running_ms=60_000, total=57,
                      without_ideal=57)  # fmt: skip
    await add_minutes(db, factory, "l1", "press-1", outside, running_ms=60_000)
    # press-2: 40 parts of an order's 1 s a minute over 50 s running + 10 s small stops.
    await add_minutes(db, factory, "l1", "press-2", window, running_ms=50_000,
                      small_stop_ms=10_000, total=40, ideal_time_s=40.0)  # fmt: skip
    # press-3 is down now: its earlier run is not shown.
    await add_minutes(db, factory, "l1", "press-3", window[:5], running_ms=60_000, total=60,
                      without_ideal=60)  # fmt: skip
    await add_operators(db, factory, "l1", [
        ("op-1", "press-1", "operator", "check_in", at("01:00:30")),
        ("op-2", "press-1", None, "check_out", at("01:30:00")),
        ("op-3", "press-3", "setter", "check_in", at("01:46:00")),
    ])  # fmt: skip
    await add_materials(db, factory, "l1", [
        ("coil", "press-1", "kg", 0.0, at("01:45:00"), 412.5, True, at("01:45:00")),
        ("bolts", "press-1", "pcs", 1200.0, at("01:50:00"), None, False, at("01:30:00")),
        ("film", "press-6", None, None, at("01:20:00"), None, False, None),
    ])  # fmt: skip
    await add_order(db, factory, "l1", "WO-1", started_at=at("00:00:00"),
                    ended_at=at("01:00:00"), good={"press-2": 3000})  # fmt: skip
    await add_order(db, factory, "l1", "WO-2", started_at=at("01:00:30"),
                    good={"press-1": 3000, "press-2": 3100}, scrap={"press-2": 12})  # fmt: skip
    await add_order(db, factory, "l1", "WO-3", started_at=None, ended_at=at("01:59:00"))
    return factory


async def test_a_full_line(api: httpx.AsyncClient, db: asyncpg.Connection) -> None:
    factory = await full_line(db)
    body = await get(api, factory, "l1")

    assert (body["name"], body["at"], body["andon"]) == (
        "Press line 1",
        "2026-11-02T02:00:30Z",
        "stopped_too_long",
    )
    assert (body["stale"], body["last_seen"]) == (False, "2026-11-02T02:00:29Z")
    stations = {s["station"]: s for s in body["stations"]}
    assert list(stations) == [f"press-{n}" for n in range(1, 8)]
    assert {name: s["andon"] for name, s in stations.items()} == {
        "press-1": "running",
        "press-2": "running_slow",
        "press-3": "stopped_too_long",
        "press-4": "stopped",
        "press-5": "stale",
        "press-6": "stopped",
        "press-7": "unknown",
    }
    assert {name: s["performance_10min"] for name, s in stations.items()} == {
        "press-1": 0.95,
        "press-2": 0.6667,
        "press-3": None,  # not running
        "press-4": None,
        "press-5": None,  # running, but no minutes
        "press-6": None,
        "press-7": None,
    }
    assert stations["press-3"] == {
        "station": "press-3",
        "state": "down",
        "reason": "jam",
        "since": "2026-11-02T01:45:00Z",
        "state_for_s": 930.0,
        "last_seen": "2026-11-02T01:59:00Z",
        "stale": False,
        "andon": "stopped_too_long",
        "performance_10min": None,
    }
    assert [name for name, s in stations.items() if s["stale"]] == ["press-5"]
    assert (stations["press-7"]["state"], stations["press-7"]["state_for_s"]) == (None, None)

    assert body["operators"] == [
        {"operator_id": "op-1", "station": "press-1", "role": "operator",
         "since": "2026-11-02T01:00:30Z", "present_for_s": 3600.0},
        {"operator_id": "op-3", "station": "press-3", "role": "setter",
         "since": "2026-11-02T01:46:00Z", "present_for_s": 870.0},
    ]  # fmt: skip
    assert body["materials"] == [
        {"material_id": "bolts", "station": "press-1", "quantity": 1200.0, "unit": "pcs",
         "updated_at": "2026-11-02T01:50:00Z", "consumed": None, "shortage": False,
         "shortage_since": None},
        {"material_id": "coil", "station": "press-1", "quantity": 0.0, "unit": "kg",
         "updated_at": "2026-11-02T01:45:00Z", "consumed": 412.5, "shortage": True,
         "shortage_since": "2026-11-02T01:45:00Z"},
        {"material_id": "film", "station": "press-6", "quantity": None, "unit": None,
         "updated_at": "2026-11-02T01:20:00Z", "consumed": None, "shortage": False,
         "shortage_since": None},
    ]  # fmt: skip

    order = body["order"]
    projected = datetime.fromisoformat(order.pop("projected_finish"))
    assert projected == NOW + timedelta(seconds=3600) * 1900 / 3100  # at 3100 parts an hour
    assert order == {
        "order_id": "WO-2",  # started last
        "product_id": "bracket-a",
        "target_quantity": 5000,
        "started_at": "2026-11-02T01:00:30Z",
        "ended_at": None,
        "ideal_cycle_time_s": 1.0,  # the line's: the order names none
        "station": "press-2",  # the most good parts
        "good_count": 3100,
        "scrap_count": 12,
        "expected_count": 3600,
        "efficiency": 0.8611,
        "remaining": 1900,
        "status": "running",
    }


async def test_a_done_order_counts_its_constraint_station_until_its_end(
    api: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    factory = a_factory()
    await add_line(db, factory, "l1", {**SETTINGS, "constraint_station": "press-1"})
    await add_stations(db, factory, "l1", [("press-1", "idle", None, ago(1800), ago(10))])
    await add_order(db, factory, "l1", "WO-9", started_at=ago(5400), ended_at=ago(1800),
                    ideal_cycle_time_s=2.0, good={"press-1": 1700, "press-2": 1900})  # fmt: skip
    body = await get(api, factory, "l1")
    assert body["andon"] == "stopped_too_long"
    order = body["order"]
    assert (order["status"], order["ended_at"]) == ("done", "2026-11-02T01:30:30Z")
    assert (order["station"], order["good_count"], order["scrap_count"]) == ("press-1", 1700, 0)
    assert (order["ideal_cycle_time_s"], order["expected_count"]) == (2.0, 1800)
    assert (order["efficiency"], order["remaining"], order["projected_finish"]) == (
        0.9444,
        3300,
        None,
    )


async def test_the_openapi_documents_the_call(api: httpx.AsyncClient) -> None:
    spec = (await api.get("/openapi.json")).json()
    call = spec["paths"]["/api/v1/factories/{factory}/lines/{line}/status"]["get"]
    assert call["summary"] and "stopped_too_long" in call["description"]
    assert {"200", "401", "404", "422"} <= set(call["responses"])
    example = spec["components"]["schemas"]["LineStatus"]["examples"][0]
    assert example["andon"] == "stopped_too_long" and example["order"]["order_id"] == "WO-881"
