"""The efficiency processor against real Kafka (Tansu) and PostgreSQL.

The reference is the pure OEE core folding the whole set of events at once. Whatever the
arrival order, however often each event arrives, and however often the processor is killed
mid-batch, the buckets in PostgreSQL must equal it minute for minute.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import uuid
from datetime import timedelta
from pathlib import Path

import asyncpg
import pytest

from schemas import Event, ProductionEvent
from services.stack.embedded.stack import Endpoints
from tests.support.buckets import (
    START,
    hours_disagreeing,
    reference_buckets,
    simulated_hour,
    stored_buckets,
)
from tests.support.kafka import publish_to_new_topic

pytestmark = pytest.mark.integration


async def _publish(bootstrap: str, events: list[Event]) -> str:
    return await publish_to_new_topic(bootstrap, events, prefix="test.events")


async def _lag(url: str, group: str, topic: str, total: int) -> int:
    connection = await asyncpg.connect(url)
    try:
        done = await connection.fetchval(
            "SELECT coalesce(sum(next_offset), 0) FROM consumer_offset WHERE grp = $1"
            " AND topic = $2",
            group,
            topic,
        )
    except asyncpg.UndefinedTableError:  # the processor has not migrated yet
        return total
    finally:
        await connection.close()
    return total - int(done)


async def _until_lag_at_most(url: str, group: str, topic: str, total: int, lag: int) -> None:
    for _ in range(2400):
        if await _lag(url, group, topic, total) <= lag:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the processor made no progress")


def _processor(stack: Endpoints, group: str, topic: str, log: Path) -> subprocess.Popen[bytes]:
    argv = [
        sys.executable,
        "-m",
        "tests.support.efficiency_processor",
        stack.kafka_bootstrap,
        stack.database_url,
        group,
        topic,
    ]
    with log.open("ab") as output:
        return subprocess.Popen(argv, stdout=output, stderr=subprocess.STDOUT, env=dict(os.environ))


async def _run_until_done(
    stack: Endpoints, group: str, topic: str, total: int, log: Path, kills: int
) -> None:
    process = _processor(stack, group, topic, log)
    try:
        for step in range(kills):
            await _until_lag_at_most(
                stack.database_url, group, topic, total, total * (3 - step) // 4
            )
            process.send_signal(signal.SIGKILL)  # kill -9, wherever it is in its batch
            process.wait()
            process = _processor(stack, group, topic, log)
        for _ in range(2400):
            if await _lag(stack.database_url, group, topic, total) == 0:
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"the processor did not finish; see {log}")
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(30)


async def test_shuffled_and_doubled_events_give_the_reference_buckets(
    stack: Endpoints, tmp_path: Path
) -> None:
    factory = f"p{uuid.uuid4().hex[:8]}"
    events = simulated_hour(factory)
    arrivals = events + events
    random.Random(3).shuffle(arrivals)
    topic = await _publish(stack.kafka_bootstrap, arrivals)
    await _run_until_done(stack, f"g-{factory}", topic, len(arrivals), tmp_path / "p.log", 0)
    stored = await stored_buckets(stack.database_url, factory)
    assert stored == reference_buckets(events)
    assert await hours_disagreeing(stack.database_url, factory) == []
    assert sum(b.good_count for b in stored.values()) == sum(
        e.good for e in events if isinstance(e, ProductionEvent)
    )


async def test_a_silence_is_no_signal_downtime_and_a_late_event_inside_it_corrects_it(
    stack: Endpoints, tmp_path: Path
) -> None:
    """One station silent for 20 minutes: beyond `stale_after_s` (300 s) that time is downtime
    ``no_signal``. Its events of one minute in the middle come last, after those minutes were
    folded: they break the silence in two, and the buckets are again the fold of the set."""
    factory = f"p{uuid.uuid4().hex[:8]}"
    events = simulated_hour(factory)
    station = sorted({e.station for e in events})[0]
    low, high = START + timedelta(minutes=10), START + timedelta(minutes=30)
    hole = [e for e in events if e.station == station and low <= e.ts < high]
    late = [e for e in hole if e.ts.minute == (START + timedelta(minutes=20)).minute]
    first = [e for e in events if e not in hole]
    assert late and len(hole) > len(late)
    group, log = f"g-{factory}", tmp_path / "p.log"

    topic = await _publish(stack.kafka_bootstrap, first)
    await _run_until_done(stack, group, topic, len(first), log, 0)
    stored = await stored_buckets(stack.database_url, factory)
    assert stored == reference_buckets(first)
    silent_ms = sum(dict(b.down_by_reason).get("no_signal", 0) for b in stored.values())
    assert silent_ms >= 14 * 60_000  # 20 minutes unheard, the first 5 of them not yet silent

    topic = await _publish(stack.kafka_bootstrap, late)
    await _run_until_done(stack, group, topic, len(late), log, 0)
    stored = await stored_buckets(stack.database_url, factory)
    assert stored == reference_buckets(first + late)
    assert sum(dict(b.down_by_reason).get("no_signal", 0) for b in stored.values()) < silent_ms
    assert await hours_disagreeing(stack.database_url, factory) == []


async def test_killed_twice_mid_batch_the_buckets_equal_an_undisturbed_run(
    stack: Endpoints, tmp_path: Path
) -> None:
    factory = f"p{uuid.uuid4().hex[:8]}"
    events = simulated_hour(factory)
    topic = await _publish(stack.kafka_bootstrap, events)
    await _run_until_done(stack, f"g-{factory}", topic, len(events), tmp_path / "p.log", 2)
    assert await stored_buckets(stack.database_url, factory) == reference_buckets(events)
    assert await hours_disagreeing(stack.database_url, factory) == []


async def test_two_processors_one_killed_its_partitions_move_and_the_buckets_hold(
    stack: Endpoints, tmp_path: Path
) -> None:
    factory = f"p{uuid.uuid4().hex[:8]}"
    events = simulated_hour(factory) + simulated_hour(factory.replace("p", "q", 1))  # two lines
    topic = await _publish(stack.kafka_bootstrap, events)
    group, total, log = f"g-{factory}", len(events), tmp_path / "p.log"
    first, second = _processor(stack, group, topic, log), _processor(stack, group, topic, log)
    try:
        await _until_lag_at_most(stack.database_url, group, topic, total, total * 3 // 4)
        first.send_signal(signal.SIGKILL)  # its partitions go to the survivor
        first.wait()
        await _until_lag_at_most(stack.database_url, group, topic, total, 0)
    finally:
        for process in (first, second):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                process.wait(30)
    for name in (factory, factory.replace("p", "q", 1)):
        line_events = [e for e in events if e.factory == name]
        assert await stored_buckets(stack.database_url, name) == reference_buckets(line_events)
        assert await hours_disagreeing(stack.database_url, name) == []
