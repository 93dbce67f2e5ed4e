"""Both processors against hostile timestamps (issue 14): far ahead of their clock (2090,
2099-12-31), far behind it, equal, out of order. No legal ts may make a batch's memory or time
grow with the span it names, and the figures are those of the same events without the ones
from the future, which are skipped.

Each example writes two factories of its own on the session's PostgreSQL: ``a`` gets every
event, ``b`` the same batches without the events ahead of the clock's tolerance, and every
table both processors keep must read the same for the two. The floor processor goes first: an
event from the future that it kept (as before the fix) fails the comparison before the
efficiency processor would fold the minutes up to 2090.
"""

from __future__ import annotations

import json
import time
import tracemalloc
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from aiokafka.structs import ConsumerRecord
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas import Event, validate_message
from services.efficiency import processor as efficiency
from services.floor import processor as floor
from services.runtime.consumer import Handler
from services.runtime.consumer_metrics import FROM_THE_FUTURE
from services.runtime.database import migrate
from services.runtime.handler import BatchResult
from services.stack.embedded.stack import Endpoints

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 2, 6, 0, tzinfo=UTC)
RETENTION = timedelta(days=90)
AHEAD = timedelta(seconds=300)
LIMIT = NOW + AHEAD
BATCH_SECONDS = 20.0
BATCH_BYTES = 50 * 1024 * 1024

HOSTILE = [
    datetime(2090, 1, 1, tzinfo=UTC),
    datetime(2099, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),
    LIMIT + timedelta(microseconds=1),
    NOW + timedelta(days=1),
    datetime(2000, 1, 1, tzinfo=UTC),  # legal, and past the retention period: skipped
    NOW - RETENTION - timedelta(seconds=1),
    LIMIT,  # at the tolerance: kept
    NOW,
]
# Sampled instants repeat, so equal timestamps are common; the rest lie in the two days to now.
instants = st.sampled_from(HOSTILE) | st.integers(-2 * 24 * 3600, 0).map(
    lambda s: NOW + timedelta(seconds=s)
)
STATES = ["running", "down", "idle", "setup", "planned_stop", "offline"]


@st.composite
def payloads(draw: st.DrawFn) -> tuple[str, str, dict[str, Any]]:
    """(station, kind, payload without its event_id)."""
    ts = draw(instants).isoformat()
    station = draw(st.sampled_from(["s1", "s2"]))
    kind = draw(st.sampled_from(["machine", "machine", "production", "order", "material"]))
    if kind == "machine":
        state = draw(st.sampled_from(STATES))
        fields: dict[str, Any] = {"state": state} | ({"reason": "jam"} if state == "down" else {})
    elif kind == "production":
        fields = {"good": draw(st.integers(0, 50)), "scrap": draw(st.integers(0, 3))}
    elif kind == "order":
        action = draw(st.sampled_from(["start", "end"]))
        fields = {"action": action, "order_id": draw(st.sampled_from(["WO-1", "WO-2"]))}
        if action == "start":
            fields |= {"product_id": "bracket", "target_quantity": 100, "ideal_cycle_time_s": 2.0}
    else:
        fields = {"action": "level", "material_id": "coil", "quantity": draw(st.integers(0, 99))}
    return station, kind, {"ts": ts, **fields}


@st.composite
def batches(draw: st.DrawFn) -> list[list[tuple[str, str, dict[str, Any]]]]:
    """1 to 30 events, in arrival order, cut into 1 to 3 batches."""
    drawn = draw(st.lists(payloads(), min_size=1, max_size=30))
    cuts = sorted(draw(st.lists(st.integers(0, len(drawn)), max_size=2)))
    bounds = [0, *cuts, len(drawn)]
    return [drawn[low:high] for low, high in zip(bounds, bounds[1:], strict=False)]


def _events(
    factory: str, batch: Sequence[tuple[str, str, dict[str, Any]]], first: int
) -> list[Event]:
    return [
        validate_message(
            f"floor/v1/{factory}/l1/{station}/{kind}",
            json.dumps({"event_id": f"e{first + n}", **payload}).encode(),
        )
        for n, (station, kind, payload) in enumerate(batch)
    ]


def _records(events: Sequence[Event]) -> list[ConsumerRecord[bytes, bytes]]:
    return [
        ConsumerRecord("t", 0, offset, 0, 0, None, e.to_kafka_value(), None, 0, 0, ())
        for offset, e in enumerate(events)
    ]


@pytest.fixture
async def connection(stack: Endpoints) -> AsyncIterator[Any]:
    connection = await asyncpg.connect(stack.database_url)
    try:
        await migrate(connection)
        yield connection
    finally:
        await connection.close()


async def _apply_bounded(connection: Any, handle: Handler, events: Sequence[Event]) -> BatchResult:
    """One batch in its own transaction, as the consumer loop runs it, within the bounds."""
    tracemalloc.start()
    started = time.monotonic()
    try:
        async with connection.transaction():
            result = await handle(connection, _records(events))
        seconds = time.monotonic() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert seconds < BATCH_SECONDS, f"a batch of {len(events)} events took {seconds:.1f} s"
    assert peak < BATCH_BYTES, f"a batch of {len(events)} events peaked at {peak / 2**20:.0f} MiB"
    assert isinstance(result, BatchResult)
    return result


_FLOOR_TABLES = {
    "floor_event": "line, event_id",
    "floor_production_minute": "line, station, minute",
    "station_state": "line, station",
    "material_stock": "line, material_id",
    "work_order": "line, order_id",
}
_EFFICIENCY_TABLES = {
    "station_event": "line, event_id",
    "production_minute": "line, station, minute",
    "minute_bucket": "line, station, minute",
    "hour_bucket": "line, station, hour",
}


async def _tables(connection: Any, tables: dict[str, str], factory: str) -> dict[str, Any]:
    found = {}
    for table, order in tables.items():
        rows = await connection.fetch(
            f"SELECT * FROM {table} WHERE factory = $1 ORDER BY {order}",  # noqa: S608
            factory,
        )
        found[table] = [{k: v for k, v in r.items() if k != "factory"} for r in rows]
    return found


async def _run(
    connection: Any, handle: Handler, factory: str, drawn: list[list[Any]], *, keep_all: bool
) -> int:
    """Apply the batches to ``factory`` (without the events from the future unless
    ``keep_all``); the events the handler skipped as from the future."""
    skipped, first = 0, 0
    for batch in drawn:
        events = _events(factory, batch, first)
        first += len(batch)
        if not keep_all:
            events = [e for e in events if e.ts <= LIMIT]
        result = await _apply_bounded(connection, handle, events)
        skipped += result.skipped.get(FROM_THE_FUTURE, 0)
    return skipped


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(drawn=batches())
async def test_hostile_timestamps_cost_bounded_memory_and_time_and_change_no_figure(
    connection: Any, drawn: list[list[tuple[str, str, dict[str, Any]]]]
) -> None:
    a, b = (f"h{uuid.uuid4().hex[:10]}" for _ in range(2))
    ahead = sum(
        1 for batch in drawn for _, _, p in batch if datetime.fromisoformat(p["ts"]) > LIMIT
    )
    for processor, tables in ((floor, _FLOOR_TABLES), (efficiency, _EFFICIENCY_TABLES)):
        handle = processor.retaining(RETENTION, lambda: NOW, AHEAD)
        assert await _run(connection, handle, a, drawn, keep_all=True) == ahead
        assert await _run(connection, handle, b, drawn, keep_all=False) == 0
        assert await _tables(connection, tables, a) == await _tables(connection, tables, b)
    states = await connection.fetch(
        "SELECT since, last_seen FROM station_state WHERE factory = $1", a
    )
    assert all(r["last_seen"] <= LIMIT and (r["since"] or NOW) <= LIMIT for r in states)


async def test_a_change_a_month_after_the_last_folds_in_bounded_memory(connection: Any) -> None:
    """Finding of issue 14, 1: a station in one state for a month, then a change, folds the
    whole month (its minutes are known); in rounds of bounded size, so memory stays bounded
    (a month at once peaked near 1 KiB a minute, 43 MiB here), and exactly."""
    factory = f"h{uuid.uuid4().hex[:10]}"
    month = timedelta(days=30)
    handle = efficiency.retaining(RETENTION, lambda: NOW, AHEAD)
    first = [("s1", "machine", {"ts": (NOW - month).isoformat(), "state": "running"})]
    then = [("s1", "machine", {"ts": NOW.isoformat(), "state": "down", "reason": "jam"})]
    await _apply_bounded(connection, handle, _events(factory, first, 0))
    tracemalloc.start()
    try:
        async with connection.transaction():
            await handle(connection, _records(_events(factory, then, 1)))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 25 * 1024 * 1024, f"a month's change peaked at {peak / 2**20:.0f} MiB"
    stored = await connection.fetchrow(
        "SELECT count(*) AS minutes, sum(running_ms) AS running, sum(unknown_ms) AS unknown"
        " FROM minute_bucket WHERE factory = $1",
        factory,
    )
    # Heard of at both ends only: all but the first stale_after_s (300 s) is no signal.
    silent = await connection.fetchval(
        "SELECT sum((down_by_reason->>'no_signal')::bigint) FROM minute_bucket WHERE factory = $1",
        factory,
    )
    assert stored["minutes"] == month // timedelta(minutes=1)
    assert (stored["running"], stored["unknown"]) == (300_000, 0)
    assert silent == month // timedelta(milliseconds=1) - 300_000
