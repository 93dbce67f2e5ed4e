"""The API under test: an app on a given database, reached through httpx in-process; and
the rows the processor would have stored, written directly."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any, Final

import asyncpg
import httpx
from pydantic import SecretStr

from schemas import (
    Kind,
    MachinePayload,
    OrderPayload,
    ProductionEvent,
    ProductionPayload,
    TopicAddress,
    route,
)
from services.api.app import create_app
from services.efficiency import rollup
from services.efficiency.core import fold_station, silent_intervals
from services.efficiency.store import merge_production
from services.runtime.settings import ApiSettings

TOKEN: Final = "t" * 32
AUTH: Final = {"Authorization": f"Bearer {TOKEN}"}

NOW: Final = datetime(2026, 11, 3, 0, 0, tzinfo=UTC)
""""Now" of the ``api`` fixture's app."""


@asynccontextmanager
async def serve(
    database_url: str, *, clock: Callable[[], datetime] | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of a started app (lifespan run) on ``database_url``; ``clock`` pins "now"."""
    settings = ApiSettings(database_url=database_url, bootstrap_token=SecretStr(TOKEN))
    app = create_app(settings, clock=clock)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as http:
            yield http


def a_factory() -> str:
    """A factory name of its own: the session's database is shared."""
    return f"t-{uuid.uuid4().hex[:12]}"


async def store_station(
    db: asyncpg.Connection,
    factory: str,
    line: str,
    station: str,
    *,
    changes: Sequence[MachinePayload] = (),
    production: Sequence[ProductionPayload] = (),
    orders: Sequence[OrderPayload] = (),
    window: tuple[datetime, datetime],
    small_stop_threshold_s: float = 0,
) -> None:
    """Store the events and, as the processor does, their buckets over `window` (whole UTC
    minutes), folded with ``open_until=None``, and their hours; a minute with nothing known is
    not stored."""
    rows: list[tuple[Any, ...]] = []
    for m in changes:
        rows.append((m.event_id, "machine", m.ts, m.state.value, m.reason, None, None))
    reports = [route(p, TopicAddress(factory, line, station, Kind.PRODUCTION)) for p in production]
    await merge_production(db, reports=[r for r in reports if isinstance(r, ProductionEvent)])
    await db.executemany(
        "INSERT INTO station_event (factory, line, station, event_id, kind, ts, state, reason,"
        " good, scrap) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        [(factory, line, station, *row) for row in rows],
    )
    await db.executemany(
        "INSERT INTO station_event (factory, line, station, event_id, kind, ts, action,"
        " order_id, ideal_cycle_time_s) VALUES ($1, $2, $3, $4, 'order', $5, $6, $7, $8)",
        [
            (factory, line, station, o.event_id, o.ts, o.action.value, o.order_id,
             o.ideal_cycle_time_s)
            for o in orders
        ],
    )  # fmt: skip
    # The silences, as the processor keeps them, with the line's stale_after_s.
    stale = await db.fetchval(
        "SELECT coalesce((settings->>'stale_after_s')::float8, 300) FROM line"
        " WHERE factory = $1 AND line = $2",
        factory,
        line,
    )
    heard = await db.fetch(
        "SELECT ts FROM station_event WHERE factory = $1 AND line = $2 AND station = $3"
        " UNION ALL SELECT ts FROM production_report WHERE factory = $1 AND line = $2"
        " AND station = $3",
        factory,
        line,
        station,
    )
    silent = silent_intervals([r["ts"] for r in heard], stale_after_s=stale or 300)
    await db.execute(
        "DELETE FROM station_silence WHERE factory = $1 AND line = $2 AND station = $3",
        factory,
        line,
        station,
    )
    await db.executemany(
        'INSERT INTO station_silence (factory, line, station, start, "end")'
        " VALUES ($1, $2, $3, $4, $5)",
        [(factory, line, station, low, high) for low, high in silent],
    )
    buckets = fold_station(
        changes,
        production,
        orders,
        window_start=window[0],
        window_end=window[1],
        small_stop_threshold_s=small_stop_threshold_s,
        silent=silent,
    )
    records = [
        (
            factory, line, station, minute,
            b.running_ms, b.idle_ms, b.starved_ms, b.blocked_ms, b.down_ms, b.setup_ms,
            b.planned_stop_ms, b.offline_ms, b.small_stop_ms, b.unknown_ms,
            b.total_count, b.good_count, b.scrap_count, b.startup_scrap,
            b.ideal_time_s, b.count_without_ideal, json.dumps(dict(b.down_by_reason)),
        )
        for minute, b in buckets.items()
        if b.covered_ms or b.total_count
    ]  # fmt: skip
    await db.copy_records_to_table("minute_bucket", records=records)
    await rollup.refresh_hours(db, windows=[(factory, line, station, *window)])


QUIET_S: Final = 86_400.0
"""A ``stale_after_s`` for test lines whose stations send only their changes, hours apart:
with it none of them is silent (no ``no_signal`` time), unless a test says so."""


async def put_line(api: httpx.AsyncClient, factory: str, line: str, **settings: Any) -> None:
    response = await api.put(
        f"/api/v1/factories/{factory}/lines/{line}", json=settings, headers=AUTH
    )
    assert response.status_code == 200, response.text


BAD_RANGES: Final[list[tuple[dict[str, str], str]]] = [
    ({"start": "yesterday", "end": "2026-11-03T00:00:00Z"}, "start"),
    ({"start": "2026-11-02T00:00:00", "end": "2026-11-03T00:00:00Z"}, "start"),
    ({"start": "2026-11-02T00:00:00Z", "end": "2026-11-03T00:00:00"}, "end"),
    ({"end": "2026-11-03T00:00:00Z"}, "start"),
    ({"start": "2026-11-02T00:00:00Z"}, "end"),
    ({"start": "2026-11-03T00:00:00Z", "end": "2026-11-02T00:00:00Z"}, "end"),
    ({"start": "2026-11-02T00:00:00Z", "end": "2026-11-02T00:00:00Z"}, "end"),
    ({"start": "2025-09-01T00:00:00Z", "end": "2026-10-06T00:00:01Z"}, "end"),
    ({"start": "0001-01-01T00:00:00+01:00", "end": "0001-01-02T00:00:00Z"}, "start"),
    ({"start": "1969-12-31T23:59:59Z", "end": "1970-01-02T00:00:00Z"}, "start"),
    ({"start": "9998-12-31T00:00:00Z", "end": "9999-12-31T23:59:59-05:00"}, "end"),
]
"""Query ranges a call over time refuses (422), and the field its message names first."""
