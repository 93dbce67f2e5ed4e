"""Production reports without a row each (``production_minute``, migration 0013) against the
pure core's fold of the set of events: every report doubled, shuffled and split over random
batches; a repeat long after; and the production stored before the migration moved over with
its duplicates still known."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import timedelta

import asyncpg
import pytest

from schemas import (
    Event,
    EventPayload,
    Kind,
    MachinePayload,
    MachineState,
    ProductionEvent,
    ProductionPayload,
    TopicAddress,
    route,
)
from services.efficiency import processor
from services.runtime.database import load_migrations, migrate, open_database
from services.runtime.production_minutes import event_hash
from services.stack.embedded.stack import Endpoints
from tests.support.buckets import (
    START,
    hours_disagreeing,
    reference_buckets,
    simulated_hour,
    stored_buckets,
)
from tests.support.database import fresh_database

pytestmark = pytest.mark.integration


@dataclass(frozen=True, slots=True)
class _Record:
    value: bytes
    offset: int
    topic: str = "t"
    partition: int = 0


async def _apply(connection: asyncpg.Connection, batch: list[Event], **cutoffs: object) -> object:
    records = [_Record(e.to_kafka_value(), n) for n, e in enumerate(batch)]
    async with connection.transaction():
        return await processor.apply_batch(connection, records, **cutoffs)  # type: ignore[arg-type]


def _jittered(
    events: list[Event], reports: list[ProductionEvent], draw: random.Random, machine_late: int
) -> list[Event]:
    """As a line sends them: in time order but shuffled within runs of 20, each machine change
    up to ``machine_late`` events late (a PLC's buffer), and each report's copy up to 500
    events after it (a redelivery)."""
    ordered = sorted(events, key=lambda e: e.ts)
    placed: list[tuple[float, Event]] = []
    for at in range(0, len(ordered), 20):
        run = ordered[at : at + 20]
        draw.shuffle(run)
        placed += [
            (at + n + (draw.randint(0, machine_late) if e.kind is Kind.MACHINE else 0), e)
            for n, e in enumerate(run)
        ]
    copies = {id(r) for r in reports}
    placed += [(place + draw.randint(1, 500) + 0.5, e) for place, e in placed if id(e) in copies]
    return [event for _, event in sorted(placed, key=lambda p: p[0])]


@pytest.mark.parametrize(
    ("arrival", "small_stop_threshold_s"),
    [
        ("shuffled", 0),
        ("shuffled", 150),
        ("in order", 0),
        ("in order", 150),
        ("machine late", 0),
        ("machine late", 150),
    ],
)
async def test_a_shift_with_every_report_doubled_shuffled_and_split_equals_the_pure_fold(
    stack: Endpoints, arrival: str, small_stop_threshold_s: float
) -> None:
    """Shuffled over the whole shift; in time order as a line sends them; in order but with
    machine changes up to a quarter of an hour late; each with and without a small-stop
    threshold. In order, a machine change away from any setup folds only the minutes within the
    threshold of its neighbours again, one near a setup those within the startup window too
    (a late one changes the startup scrap of the production that came before it), and
    production alone is added."""
    factory = f"s{uuid.uuid4().hex[:8]}"
    events = simulated_hour(factory, hours=8)
    reports = [e for e in events if isinstance(e, ProductionEvent)]
    draw = random.Random(16)
    if arrival == "shuffled":
        arrivals = events + reports  # every production report twice
        draw.shuffle(arrivals)
    else:
        arrivals = _jittered(events, reports, draw, 1_000 if arrival == "machine late" else 0)
    async with fresh_database(stack.database_url, "shift") as url:
        async with open_database(url, max_size=1):  # migrated
            pass
        connection = await asyncpg.connect(url)
        try:
            await connection.execute(
                "INSERT INTO line (factory, line, settings) VALUES ($1, 'l1', $2::jsonb)",
                factory,
                f'{{"small_stop_threshold_s": {small_stop_threshold_s}}}',
            )
            applied = duplicates = 0
            while arrivals:
                size = draw.choice([1, 7, 60, 500, 2_000])
                batch, arrivals = arrivals[:size], arrivals[size:]
                result = await _apply(connection, batch)
                applied += result.applied  # type: ignore[attr-defined]
                duplicates += result.duplicates  # type: ignore[attr-defined]
            rows = await connection.fetchval(
                "SELECT count(*) FROM production_minute WHERE factory = $1", factory
            )
            in_events = await connection.fetchval(
                "SELECT count(*) FROM station_event WHERE factory = $1 AND kind = 'production'",
                factory,
            )
        finally:
            await connection.close()
        stored = await stored_buckets(url, factory)
        assert await hours_disagreeing(url, factory) == []
    assert (applied, duplicates) == (len(events), len(reports))
    assert in_events == 0
    assert rows <= 4 * 8 * 60  # one row per station and minute, not one per report
    assert stored == reference_buckets(
        events, hours=8, small_stop_threshold_s=small_stop_threshold_s
    )


async def test_a_repeated_report_counts_once_however_late_within_retention(
    stack: Endpoints,
) -> None:
    factory = f"r{uuid.uuid4().hex[:8]}"
    events = simulated_hour(factory)
    first = next(e for e in events if isinstance(e, ProductionEvent))
    retention = {"not_before": START - timedelta(days=90)}
    async with fresh_database(stack.database_url, "late") as url:
        async with open_database(url, max_size=1):
            pass
        connection = await asyncpg.connect(url)
        try:
            for at in range(0, len(events), 300):
                await _apply(connection, events[at : at + 300], **retention)
            before = await stored_buckets(url, factory)
            again = first.model_copy()
            result = await _apply(connection, [again], **retention)  # an hour of batches later
            twice = await _apply(connection, [again, again], **retention)
        finally:
            await connection.close()
        assert await stored_buckets(url, factory) == before == reference_buckets(events)
    assert (result.applied, result.duplicates) == (0, 1)  # type: ignore[attr-defined]
    assert (twice.applied, twice.duplicates) == (0, 2)  # type: ignore[attr-defined]


async def test_the_migration_moves_stored_production_and_its_duplicates_stay_known(
    stack: Endpoints,
) -> None:
    """Production stored one row each before migration 0013 moves to ``production_minute``
    with the hash the processor computes (MD5 in SQL, hashlib in Python), so a redelivery of
    a report stored before the migration still counts once."""
    factory = f"m{uuid.uuid4().hex[:8]}"
    events = simulated_hour(factory)
    reports = [e for e in events if isinstance(e, ProductionEvent)][:200]
    async with fresh_database(stack.database_url, "moved") as url:
        connection = await asyncpg.connect(url)
        try:
            migrations = load_migrations()
            before = [m for m in migrations if m.version < 13]
            await migrate(connection, before)
            await connection.executemany(
                "INSERT INTO station_event (factory, line, event_id, station, kind, ts, good,"
                " scrap) VALUES ($1, $2, $3, $4, 'production', $5, $6, $7)",
                [
                    (r.factory, r.line, r.event_id, r.station, r.ts, r.good, r.scrap)
                    for r in reports
                ],
            )
            assert await migrate(connection) == [m.version for m in migrations if m.version >= 13]
            moved = await connection.fetch(
                "SELECT station, id, ts, good, scrap FROM production_report WHERE factory = $1",
                factory,
            )
            left = await connection.fetchval(
                "SELECT count(*) FROM station_event WHERE kind = 'production'"
            )
            result = await _apply(connection, reports[:50])
        finally:
            await connection.close()
    assert sorted(tuple(r) for r in moved) == sorted(
        (r.station, event_hash(r.event_id), r.ts, r.good, r.scrap) for r in reports
    )
    assert left == 0
    assert (result.applied, result.duplicates) == (0, 50)  # type: ignore[attr-defined]


def _at(factory: str, kind: Kind, payload: EventPayload) -> Event:
    return route(payload, TopicAddress(factory, "l1", "s1", kind))


async def test_a_late_change_that_moves_a_setups_end_refolds_the_startup_window(
    stack: Endpoints,
) -> None:
    """A setup from 10:00 was followed by a stop at 10:03:30 (its end then), and by scrap at
    10:12:30, startup scrap within the 600 s startup window. The change to running at 10:02
    comes late: the setup now ended at 10:02, and the scrap of 10:12:30 is not startup scrap
    any more, nine minutes past the change's neighbours."""
    factory = f"w{uuid.uuid4().hex[:8]}"
    t0 = START.replace(minute=0, second=0)

    def machine(event_id: str, minutes: float, state: MachineState) -> Event:
        ts = t0 + timedelta(minutes=minutes)
        return _at(factory, Kind.MACHINE, MachinePayload(event_id=event_id, ts=ts, state=state))

    scrap = _at(
        factory,
        Kind.PRODUCTION,
        ProductionPayload(event_id="p", ts=t0 + timedelta(minutes=12.5), good=0, scrap=1),
    )
    first = [
        machine("m1", 0, MachineState.SETUP),
        machine("m2", 3.5, MachineState.DOWN),
        scrap,
        machine("m3", 20, MachineState.RUNNING),
    ]
    late = machine("m-late", 2, MachineState.RUNNING)
    async with fresh_database(stack.database_url, "setup") as url:
        async with open_database(url, max_size=1):
            pass
        connection = await asyncpg.connect(url)
        try:
            await _apply(connection, first)
            before = await stored_buckets(url, factory)
            await _apply(connection, [late])
        finally:
            await connection.close()
        after = await stored_buckets(url, factory)
    minute = t0 + timedelta(minutes=12)
    assert before[("s1", minute)].startup_scrap == 1
    assert after[("s1", minute)].startup_scrap == 0
    assert after == reference_buckets([*first, late])
