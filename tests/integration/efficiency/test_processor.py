"""The efficiency processor against real Kafka (Tansu) and PostgreSQL.

The reference is the pure OEE core folding the whole set of events at once. Whatever the
arrival order, however often each event arrives, and however often the processor is killed
mid-batch, the buckets in PostgreSQL must equal it minute for minute.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest

from floorstream.schemas import Event, MachineEvent, OrderEvent, ProductionEvent, validate_message
from floorstream.services.efficiency.core import MinuteBucket, fold_station
from floorstream.services.runtime.embedded.stack import Endpoints
from floorstream.services.simulator.model import SimulationConfig, simulate
from tests.support.kafka import publish_to_new_topic

pytestmark = pytest.mark.integration

START = datetime(2026, 11, 2, 0, 30, tzinfo=UTC)  # 08:30 in the simulated factory's zone
HOURS = 1


def _events(factory: str) -> list[Event]:
    """An hour of one simulated line, renamed to ``factory``, as the gateway would route it."""
    sim = simulate(
        SimulationConfig(factories=1, lines=1, seed=7, rate=2.0),
        START,
        START + timedelta(hours=HOURS),
    )
    return [validate_message(e.topic.replace("/f1/", f"/{factory}/"), e.encode()) for e in sim]


def _reference(events: list[Event]) -> dict[tuple[str, datetime], MinuteBucket]:
    changes = [e for e in events if isinstance(e, MachineEvent)]
    made = [e for e in events if isinstance(e, ProductionEvent)]
    orders = [e for e in events if isinstance(e, OrderEvent)]
    start = START.replace(second=0) - timedelta(hours=1)
    end = START + timedelta(hours=HOURS + 1)
    reference = {}
    for station in {e.station for e in changes + made}:
        buckets = fold_station(
            [c for c in changes if c.station == station],
            [p for p in made if p.station == station],
            orders,
            window_start=start,
            window_end=end,
            small_stop_threshold_s=0,
        )
        reference |= {(station, m): b for m, b in buckets.items() if b != MinuteBucket()}
    return reference


async def _stored(url: str, factory: str) -> dict[tuple[str, datetime], MinuteBucket]:
    connection = await asyncpg.connect(url)
    try:
        rows = await connection.fetch("SELECT * FROM minute_bucket WHERE factory = $1", factory)
    finally:
        await connection.close()
    fields = set(MinuteBucket.__dataclass_fields__) - {"down_by_reason"}
    return {
        (r["station"], r["minute"]): MinuteBucket(
            **{f: r[f] for f in fields},
            down_by_reason=tuple(sorted(json.loads(r["down_by_reason"]).items())),
        )
        for r in rows
    }


_HOURS_DISAGREE = """
WITH m AS (
    SELECT station, date_trunc('hour', minute, 'UTC') AS hour, sum(running_ms) AS running_ms,
           sum(down_ms) AS down_ms, sum(unknown_ms) AS unknown_ms, sum(total_count) AS total,
           sum(good_count) AS good, sum(ideal_time_s::text::numeric) AS ideal
    FROM minute_bucket WHERE factory = $1 GROUP BY 1, 2
), h AS (
    SELECT station, hour, running_ms, down_ms, unknown_ms, total_count AS total,
           good_count AS good, ideal_time_s AS ideal
    FROM hour_bucket WHERE factory = $1
)
SELECT * FROM m FULL JOIN h USING (station, hour)
WHERE (m.running_ms, m.down_ms, m.unknown_ms, m.total, m.good, m.ideal)
      IS DISTINCT FROM (h.running_ms, h.down_ms, h.unknown_ms, h.total, h.good, h.ideal)
"""


async def _hours_disagreeing(url: str, factory: str) -> list[asyncpg.Record]:
    """The hours whose rollup is not the sum of their stored minutes (none, when exact)."""
    connection = await asyncpg.connect(url)
    try:
        return list(await connection.fetch(_HOURS_DISAGREE, factory))
    finally:
        await connection.close()


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
    events = _events(factory)
    arrivals = events + events
    random.Random(3).shuffle(arrivals)
    topic = await _publish(stack.kafka_bootstrap, arrivals)
    await _run_until_done(stack, f"g-{factory}", topic, len(arrivals), tmp_path / "p.log", 0)
    stored = await _stored(stack.database_url, factory)
    assert stored == _reference(events)
    assert await _hours_disagreeing(stack.database_url, factory) == []
    assert sum(b.good_count for b in stored.values()) == sum(
        e.good for e in events if isinstance(e, ProductionEvent)
    )


async def test_killed_twice_mid_batch_the_buckets_equal_an_undisturbed_run(
    stack: Endpoints, tmp_path: Path
) -> None:
    factory = f"p{uuid.uuid4().hex[:8]}"
    events = _events(factory)
    topic = await _publish(stack.kafka_bootstrap, events)
    await _run_until_done(stack, f"g-{factory}", topic, len(events), tmp_path / "p.log", 2)
    assert await _stored(stack.database_url, factory) == _reference(events)
    assert await _hours_disagreeing(stack.database_url, factory) == []


async def test_two_processors_one_killed_its_partitions_move_and_the_buckets_hold(
    stack: Endpoints, tmp_path: Path
) -> None:
    factory = f"p{uuid.uuid4().hex[:8]}"
    events = _events(factory) + _events(factory.replace("p", "q", 1))  # two lines
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
        assert await _stored(stack.database_url, name) == _reference(line_events)
        assert await _hours_disagreeing(stack.database_url, name) == []
