"""Production added to stored buckets (step 4b of the efficiency processor) against a fold of
everything: whatever the batches, their order and the repeats in them, the minutes and hours in
PostgreSQL equal the pure core's reference to the bit.

Small batches in a shuffled order make the cases that matter: production alone for a station
(added), production before the machine change or order it was made under (added, then folded
again when the change arrives), production late into a minute long stored, and an event twice
in one batch."""

from __future__ import annotations

import random
import uuid
from collections import Counter
from dataclasses import dataclass

import asyncpg
import pytest

from schemas import Event, ProductionEvent
from services.efficiency import processor
from services.runtime.database import open_database
from services.runtime.production_minutes import event_hash
from services.stack.embedded.stack import Endpoints
from tests.support.buckets import (
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


async def _apply(url: str, batches: list[list[Event]]) -> None:
    async with open_database(url, max_size=1):  # migrated
        pass
    connection = await asyncpg.connect(url)
    try:
        for n, batch in enumerate(batches):
            records = [_Record(e.to_kafka_value(), n) for e in batch]
            async with connection.transaction():
                await processor.apply_batch(connection, records)
    finally:
        await connection.close()


def _batches(events: list[Event], seed: int, largest: int) -> list[list[Event]]:
    """The events, a fifth of them twice, shuffled, cut into batches of 1 to ``largest``."""
    draw = random.Random(seed)
    arrivals = events + draw.sample(events, len(events) // 5)
    draw.shuffle(arrivals)
    batches = []
    while arrivals:
        size = draw.randint(1, largest)
        batches.append(arrivals[:size])
        arrivals = arrivals[size:]
    return batches


@pytest.mark.parametrize(("seed", "largest"), [(1, 3), (2, 40), (3, 400)])
async def test_added_production_equals_a_fold_of_everything(
    stack: Endpoints, seed: int, largest: int
) -> None:
    factory = f"a{uuid.uuid4().hex[:8]}"
    events = simulated_hour(factory)
    kinds = Counter(e.kind.value for e in events)
    assert kinds["production"] > kinds["machine"] > 0 and kinds["order"] > 0, kinds
    async with fresh_database(stack.database_url, "added") as url:
        await _apply(url, _batches(events, seed, largest))
        stored = await stored_buckets(url, factory)
        assert stored == reference_buckets(events)
        assert await hours_disagreeing(url, factory) == []
    made = sum(e.good for e in events if isinstance(e, ProductionEvent))
    assert sum(b.good_count for b in stored.values()) == made


async def test_production_in_order_batches_is_added_not_refolded(stack: Endpoints) -> None:
    """The common case, events in time order in small batches: equal to the reference, and
    the batches of production alone do not read the minutes' production back."""
    factory = f"b{uuid.uuid4().hex[:8]}"
    events = simulated_hour(factory)
    read: list[bool] = []
    original = processor.store.station_inputs

    async def spying(
        connection: object, *, windows: list[object], production: bool = True
    ) -> object:
        if windows:  # a batch with no station to fold asks with none
            read.append(production)
        return await original(connection, windows=windows, production=production)  # type: ignore[arg-type]

    batches = [events[at : at + 5] for at in range(0, len(events), 5)]
    async with fresh_database(stack.database_url, "added") as url:
        processor.store.station_inputs = spying  # type: ignore[assignment]
        try:
            await _apply(url, batches)
        finally:
            processor.store.station_inputs = original  # type: ignore[assignment]
        assert await stored_buckets(url, factory) == reference_buckets(events)
        assert await hours_disagreeing(url, factory) == []
    assert read.count(False) > read.count(True) > 0


async def test_an_event_id_twice_in_a_batch_with_other_counts_counts_as_stored(
    stack: Endpoints,
) -> None:
    """A sender's bug: one ``event_id``, two reports in one batch. The first counts, as a repeat
    in a later batch would not; the buckets count the one stored, as a fold of the stored events
    would (and as the first fold of the station's minutes will, so a wrong sum would show only
    until then)."""
    factory = f"c{uuid.uuid4().hex[:8]}"
    first = next(e for e in simulated_hour(factory) if isinstance(e, ProductionEvent))
    other = first.model_copy(update={"good": first.good + 5, "scrap": first.scrap + 1})
    async with fresh_database(stack.database_url, "added") as url:
        await _apply(url, [[other, first]])
        stored = await stored_buckets(url, factory)
        connection = await asyncpg.connect(url)
        try:
            kept = await connection.fetchrow(
                "SELECT good, scrap FROM production_report WHERE factory = $1 AND id = $2",
                factory,
                event_hash(first.event_id),
            )
        finally:
            await connection.close()
    assert [(b.good_count, b.scrap_count) for b in stored.values()] == [tuple(kept)]
