"""Retention on a real PostgreSQL: old raw events go, the anchors a fold needs and every
per-minute figure stay; several replicas purging at once do no harm."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from asyncpg import Pool

from services.runtime.database import open_database
from services.runtime.production_minutes import event_hash
from services.runtime.retention import keep_purging, purge
from services.stack.embedded.stack import Endpoints
from tests.support.database import fresh_database

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
CUTOFF = NOW - timedelta(days=90)


def _days_ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


@pytest.fixture
async def pool(stack: Endpoints) -> AsyncIterator[Pool]:
    # A database of its own: a purge deletes every old event, other tests' too.
    async with fresh_database(stack.database_url, "retention") as url:
        async with open_database(url, max_size=4) as opened:
            yield opened


async def _station_event(
    pool: Pool, event_id: str, station: str, kind: str, days: float, line: str = "l1"
) -> None:
    if kind == "production":  # a report of its own minute's row, as the processor merges it
        ts = _days_ago(days)
        await pool.execute(
            "INSERT INTO production_minute (factory, line, station, minute, ids, at_us, good,"
            " scrap) VALUES ('f1', $1, $2, $3, ARRAY[$4::bigint], ARRAY[$5::integer],"
            " ARRAY[1::bigint], ARRAY[0::bigint])",
            line,
            station,
            ts.replace(second=0, microsecond=0),
            event_hash(event_id),
            ts.second * 1_000_000 + ts.microsecond,
        )
        _REPORTS[event_hash(event_id)] = event_id
        return
    await pool.execute(
        "INSERT INTO station_event (factory, line, event_id, station, kind, ts, state, good)"
        " VALUES ('f1', $1, $2, $3, $4, $5, $6, $7)",
        line,
        event_id,
        station,
        kind,
        _days_ago(days),
        "running" if kind == "machine" else None,
        1 if kind == "production" else None,
    )


async def _floor_event(pool: Pool, event_id: str, days: float) -> None:
    await pool.execute(
        "INSERT INTO floor_event (factory, line, event_id, station, kind, ts)"
        " VALUES ('f1', 'l1', $1, 's1', 'people', $2)",
        event_id,
        _days_ago(days),
    )


_REPORTS: dict[int, str] = {}  # the event_id of each production report's hash


async def _ids(pool: Pool, table: str) -> set[str]:
    """The events a table holds; for ``station_event``, with the production reports kept."""
    found = {r["event_id"] for r in await pool.fetch(f"SELECT event_id FROM {table}")}  # noqa: S608
    if table == "station_event":
        found |= {_REPORTS[r["id"]] for r in await pool.fetch("SELECT id FROM production_report")}
    return found


async def test_old_events_go_and_the_anchors_stay(pool: Pool) -> None:
    for event_id, station, kind, days in [
        ("m-old", "s1", "machine", 120),
        ("m-anchor", "s1", "machine", 95),
        ("m-new", "s1", "machine", 10),
        ("m2-anchor", "s2", "machine", 200),  # s2: no change since
        ("p-old", "s1", "production", 99),
        ("p-new", "s1", "production", 1),
        ("o-old", "s1", "order", 150),
        ("o-anchor", "s2", "order", 100),  # the line's latest order event, at another station
        ("o-new", "s1", "order", 5),
    ]:
        await _station_event(pool, event_id, station, kind, days)
    await _station_event(pool, "l2-old", "s1", "machine", 300, line="l2")
    await _station_event(pool, "l2-anchor", "s1", "machine", 91, line="l2")
    for event_id, days in [("f-old", 91), ("f-new", 89)]:
        await _floor_event(pool, event_id, days)
    await pool.execute(
        "INSERT INTO minute_bucket SELECT 'f1', 'l1', 's1', $1, 60000,"
        " 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 1.0, 0, '{}'::jsonb",
        _days_ago(365),
    )

    deleted = await purge(pool, before=CUTOFF, batch=2)  # small batches: the loop is exercised

    assert deleted == 5
    assert await _ids(pool, "station_event") == {
        "m-anchor",
        "m-new",
        "m2-anchor",
        "p-new",
        "o-anchor",
        "o-new",
        "l2-anchor",
    }
    assert await _ids(pool, "floor_event") == {"f-new"}
    assert await pool.fetchval("SELECT count(*) FROM minute_bucket") == 1
    assert await purge(pool, before=CUTOFF) == 0


async def test_replicas_purging_at_once_agree(pool: Pool) -> None:
    for index in range(50):
        await _station_event(pool, f"p-{index}", "s1", "production", 100 + index)
    await _station_event(pool, "keep", "s1", "production", 1)
    stop = asyncio.Event()
    loops = [
        asyncio.create_task(
            keep_purging(pool, retention=timedelta(days=90), clock=lambda: NOW, stop=stop)
        )
        for _ in range(3)
    ]
    try:
        deadline = asyncio.get_running_loop().time() + 60  # a deadline only
        while await _ids(pool, "station_event") != {"keep"} and not any(t.done() for t in loops):
            assert asyncio.get_running_loop().time() < deadline, "not purged in 60s"
            await asyncio.sleep(0.05)
    finally:
        stop.set()
        await asyncio.gather(*loops)
    assert await _ids(pool, "station_event") == {"keep"}
