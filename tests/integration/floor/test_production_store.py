"""The floor-state processor's production reports without a row each
(``floor_production_minute``, migration 0014): every report doubled, shuffled and split over
random batches gives the floor of one undisturbed in-order batch; a repeat long after counts
once; the production stored in ``floor_event`` before the migration moved over with its
duplicates still known and its orders recounted from it; and retention deletes whole minutes."""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import pytest

from schemas import Event, OrderEvent, ProductionEvent, validate_message
from services.floor import processor
from services.runtime.database import load_migrations, migrate, open_database
from services.runtime.handler import BatchResult
from services.runtime.production_minutes import event_hash
from services.runtime.retention import purge
from services.stack.embedded.stack import Endpoints
from tests.support.buckets import START, simulated_hour
from tests.support.database import fresh_database

pytestmark = pytest.mark.integration

# The floor state a batch leaves, each table in an order that does not depend on arrival
# (kanban cards do: a card is raised when its material crosses the reorder point).
_TABLES = {
    "floor_event": "line, event_id",
    "station_state": "line, station",
    "operator_presence": "line, operator_id",
    "material_stock": "line, material_id",
    "work_order": "line, order_id",
}


@dataclass(frozen=True, slots=True)
class _Record:
    value: bytes
    offset: int
    topic: str = "t"
    partition: int = 0


async def _apply(connection: asyncpg.Connection, batch: list[Event]) -> BatchResult:
    records = [_Record(e.to_kafka_value(), n) for n, e in enumerate(batch)]
    async with connection.transaction():
        return await processor.apply_batch(connection, records)  # type: ignore[arg-type]


async def _connect(url: str) -> asyncpg.Connection:
    async with open_database(url, max_size=1):  # migrated
        pass
    return await asyncpg.connect(url)


def _order(factory: str, event_id: str, ts: datetime, action: str, order_id: str) -> Event:
    fields: dict[str, Any] = {"action": action, "order_id": order_id}
    if action == "start":
        fields |= {"product_id": "bracket", "target_quantity": 500}
    payload = json.dumps({"event_id": event_id, "ts": ts.isoformat(), **fields}).encode()
    return validate_message(f"floor/v1/{factory}/l1/press/order", payload)


def _orders(factory: str, reports: list[ProductionEvent]) -> list[Event]:
    """Orders over the first 40 minutes of production (the simulated line starts producing
    late in its first hour) that reach every rule of a span: one ending at a report's ts where
    the next starts (the report is the next one's), an older end ignored, a restart that drops
    an end before it, two orders covering the same ts, an end without a start."""
    first = min(r.ts for r in reports).replace(second=0, microsecond=0)
    boundary = min(r.ts for r in reports if r.ts >= first + timedelta(minutes=20))

    def minute(m: float) -> datetime:
        return first + timedelta(minutes=m)

    return [
        _order(factory, "oa1", minute(2), "start", "WO-A"),
        _order(factory, "oa2", boundary, "end", "WO-A"),
        _order(factory, "ob1", boundary, "start", "WO-B"),
        _order(factory, "ob2", minute(25), "end", "WO-B"),  # older than ob3: ignored
        _order(factory, "ob3", minute(35), "end", "WO-B"),
        _order(factory, "oc1", minute(30), "start", "WO-C"),
        _order(factory, "oc2", minute(33), "end", "WO-C"),  # before the restart: dropped
        _order(factory, "oc3", minute(40), "start", "WO-C"),  # the restart: runs on
        _order(factory, "od1", minute(10), "start", "WO-D"),  # within WO-A's span
        _order(factory, "od2", minute(12.5), "end", "WO-D"),
        _order(factory, "oe1", minute(15), "end", "WO-E"),  # never started
    ]


def _expected_counts(events: Iterable[Event]) -> dict[str, tuple[dict[str, int], ...]]:
    """Per order, its parts per station as the processor counts them from the set of events:
    its span from its latest start to its latest end where that is after the start."""
    starts: dict[str, OrderEvent] = {}
    ends: dict[str, OrderEvent] = {}
    reports: list[ProductionEvent] = []
    for e in events:
        if isinstance(e, OrderEvent):
            latest = starts if e.action.value == "start" else ends
            known = latest.get(e.order_id)
            if known is None or (e.ts, e.event_id) > (known.ts, known.event_id):
                latest[e.order_id] = e
        elif isinstance(e, ProductionEvent):
            reports.append(e)
    counts: dict[str, tuple[dict[str, int], ...]] = {}
    for order_id in starts.keys() | ends.keys():
        good: dict[str, int] = {}
        scrap: dict[str, int] = {}
        start = starts.get(order_id)
        end = ends.get(order_id)
        if start is not None:
            if end is not None and (end.ts, end.event_id) <= (start.ts, start.event_id):
                end = None
            for r in reports:
                if start.ts <= r.ts and (end is None or r.ts < end.ts):
                    good[r.station] = good.get(r.station, 0) + r.good
                    scrap[r.station] = scrap.get(r.station, 0) + r.scrap
        counts[order_id] = (good, scrap)
    return counts


async def _floor(connection: asyncpg.Connection, factory: str) -> dict[str, list[dict[str, Any]]]:
    found = {}
    for table, order in _TABLES.items():
        rows = await connection.fetch(
            f"SELECT * FROM {table} WHERE factory = $1 ORDER BY {order}",  # noqa: S608
            factory,
        )
        found[table] = [
            {
                k: json.loads(v) if k.endswith("_by_station") else v
                for k, v in r.items()
                if k != "factory"
            }
            for r in rows
        ]
    return found


async def _reports(connection: asyncpg.Connection, factory: str) -> list[tuple[Any, ...]]:
    """The reports stored, one row each, in an order that does not depend on arrival."""
    rows = await connection.fetch(
        "SELECT station, id, ts, good, scrap FROM floor_production_report WHERE factory = $1"
        " ORDER BY station, ts, id",
        factory,
    )
    return [tuple(r) for r in rows]


async def test_every_report_doubled_shuffled_and_split_gives_the_floor_of_one_ordered_batch(
    stack: Endpoints,
) -> None:
    reference, disturbed = (f"p{uuid.uuid4().hex[:8]}" for _ in range(2))

    def scenario(factory: str) -> tuple[list[Event], list[ProductionEvent]]:
        events = simulated_hour(factory, hours=2)
        reports = [e for e in events if isinstance(e, ProductionEvent)]
        return events + _orders(factory, reports), reports

    in_order, _ = scenario(reference)
    in_order.sort(key=lambda e: e.ts)
    events, reports = scenario(disturbed)
    draw = random.Random(16)
    arrivals = events + reports  # every production report twice
    draw.shuffle(arrivals)
    async with fresh_database(stack.database_url, "floor_shift") as url:
        connection = await _connect(url)
        try:
            await _apply(connection, in_order)
            applied = duplicates = batches = 0
            while arrivals:
                size = draw.choice([1, 7, 60, 250, 800])
                batch, arrivals = arrivals[:size], arrivals[size:]
                result = await _apply(connection, batch)
                applied += result.applied
                duplicates += result.duplicates
                batches += 1
            expected = await _floor(connection, reference)
            got = await _floor(connection, disturbed)
            stored = await _reports(connection, disturbed)
            rows = await connection.fetchval(
                "SELECT count(*) FROM floor_production_minute WHERE factory = $1", disturbed
            )
            in_events = await connection.fetchval(
                "SELECT count(*) FROM floor_event WHERE kind = 'production'"
            )
        finally:
            await connection.close()
    assert batches > 10
    assert (applied, duplicates) == (len(events), len(reports))
    assert in_events == 0
    assert rows <= 4 * 2 * 60  # one row per station and minute, not one per report
    assert sorted(stored) == sorted(
        (r.station, event_hash(r.event_id), r.ts, r.good, r.scrap) for r in reports
    )
    assert got == expected
    counts = {
        o["order_id"]: (o["good_by_station"], o["scrap_by_station"]) for o in got["work_order"]
    }
    assert counts == _expected_counts(events)
    assert all(good for order_id, (good, _) in counts.items() if order_id != "WO-E")
    assert counts["WO-E"] == ({}, {})


async def test_a_repeated_report_counts_once_however_late(stack: Endpoints) -> None:
    factory = f"r{uuid.uuid4().hex[:8]}"
    events = [_order(factory, "o0", START - timedelta(minutes=1), "start", "WO-0")]
    events += simulated_hour(factory, hours=2)  # every report within WO-0's span
    first = next(e for e in events if isinstance(e, ProductionEvent))
    async with fresh_database(stack.database_url, "floor_late") as url:
        connection = await _connect(url)
        try:
            for at in range(0, len(events), 200):
                await _apply(connection, events[at : at + 200])
            before = await _floor(connection, factory)
            again = first.model_copy()
            result = await _apply(connection, [again])  # 35 batches later
            twice = await _apply(connection, [again, again])
            after = await _floor(connection, factory)
        finally:
            await connection.close()
    assert (result.applied, result.duplicates) == (0, 1)
    assert (twice.applied, twice.duplicates) == (0, 2)
    assert after == before
    orders = {
        o["order_id"]: (o["good_by_station"], o["scrap_by_station"]) for o in after["work_order"]
    }
    assert orders == _expected_counts(events)
    assert orders["WO-0"][0]


async def test_the_migration_moves_stored_production_and_its_duplicates_stay_known(
    stack: Endpoints,
) -> None:
    """Production stored one row each in ``floor_event`` before migration 0014 moves to
    ``floor_production_minute`` with the hash the processor computes (MD5 in SQL, hashlib in
    Python), so a redelivery of a report stored before the migration counts once, and an order
    that starts after the migration counts the production moved."""
    factory = f"m{uuid.uuid4().hex[:8]}"
    reports = [e for e in simulated_hour(factory) if isinstance(e, ProductionEvent)][:200]
    async with fresh_database(stack.database_url, "floor_moved") as url:
        connection = await asyncpg.connect(url)
        try:
            migrations = load_migrations()
            await migrate(connection, [m for m in migrations if m.version < 14])
            await connection.executemany(
                "INSERT INTO floor_event (factory, line, event_id, station, kind, ts, good, scrap)"
                " VALUES ($1, $2, $3, $4, 'production', $5, $6, $7)",
                [
                    (r.factory, r.line, r.event_id, r.station, r.ts, r.good, r.scrap)
                    for r in reports
                ],
            )
            assert await migrate(connection) == [m.version for m in migrations if m.version >= 14]
            moved = await _reports(connection, factory)
            left = await connection.fetchval(
                "SELECT count(*) FROM floor_event WHERE kind = 'production'"
            )
            result = await _apply(connection, reports[:50])
            start = _order(factory, "o1", START - timedelta(minutes=1), "start", "WO-1")
            await _apply(connection, [start])  # recounted from the rows moved
            again = await _apply(connection, reports[50:60])
            (order,) = (await _floor(connection, factory))["work_order"]
        finally:
            await connection.close()
    assert sorted(moved) == sorted(
        (r.station, event_hash(r.event_id), r.ts, r.good, r.scrap) for r in reports
    )
    assert left == 0
    assert (result.applied, result.duplicates) == (0, 50)
    assert (again.applied, again.duplicates) == (0, 10)
    expected = _expected_counts([start, *reports])["WO-1"]
    assert (order["good_by_station"], order["scrap_by_station"]) == expected


async def test_retention_deletes_the_minutes_that_end_by_the_cutoff(stack: Endpoints) -> None:
    """A row holds reports of its minute only: it goes once the whole minute is before the
    cutoff, and a minute the cutoff falls in stays."""
    cutoff = START + timedelta(seconds=30)
    minutes = [START - timedelta(minutes=2), START - timedelta(minutes=1), START]
    async with fresh_database(stack.database_url, "floor_retention") as url:
        async with open_database(url, max_size=2) as pool:
            await pool.executemany(
                "INSERT INTO floor_production_minute (factory, line, station, minute, ids, at_us,"
                " good, scrap) VALUES ('f1', 'l1', 's1', $1, ARRAY[$2::bigint],"
                " ARRAY[0::integer], ARRAY[1::bigint], ARRAY[0::bigint])",
                [(m, event_hash(f"p{n}")) for n, m in enumerate(minutes)],
            )
            deleted = await purge(pool, before=cutoff, batch=1)
            left = await pool.fetch("SELECT minute FROM floor_production_minute")
            again = await purge(pool, before=cutoff)
    assert deleted == 2
    assert [r["minute"] for r in left] == [START]
    assert again == 0
