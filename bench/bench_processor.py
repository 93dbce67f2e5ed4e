"""Processor throughput: events/s from Kafka into committed results, one process, for the
efficiency processor (OEE minute buckets) and the floor-state processor (the live floor), each
as a ratio against a bare aiokafka consume loop that only decodes the JSON of every record,
measured in the same run. Target: >= 100,000 events/s and >= 0.5x the bare loop.

Method: N events of a simulated factory (``simulate``, 200 lines, validated as the gateway
validates them, keyed by line) are produced onto a fresh topic of the embedded Tansu with the
partitions of ``floor.events.v1``. The bare loop reads all N, timed from its first record. Each
processor then runs `consume` with its ``apply_batch`` in this process, in a consumer group of
its own, on the embedded PostgreSQL; its progress is the sum of its stored offsets
(``consumer_offset``), timed from its first committed batch to N or to ``--seconds`` after it,
whichever comes first (the processors are far slower than the bare loop: a fixed time keeps
the run short, and the figure is the offset progress over it).

    python bench/bench_processor.py [--events 200000] [--seconds 15] [--lines 200]
                                    [--batch-max 5000] [--batch-ms 200] [--lanes 2]
                                    [--profile]

``--profile`` runs the efficiency processor under cProfile and prints its top costs.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import itertools
import json
import pstats
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from common import conditions, record, say, table
from schemas import validate_message
from services.efficiency import processor as efficiency
from services.floor import processor as floor
from services.runtime.consumer import LANES, consume
from services.runtime.database import open_database
from services.runtime.kafka_topics import EVENTS_PARTITIONS
from services.simulator.model import SimulationConfig, simulate
from services.stack.embedded.stack import EmbeddedStack, StackPlan

START = datetime(2026, 11, 2, 0, 30, tzinfo=UTC)  # 08:30 in the simulated factory's zone
TARGET = ">= 100,000 events/s and >= 0.5x the bare loop"

Message = tuple[bytes, bytes]


def events(count: int, lines: int) -> tuple[list[Message], Counter[str]]:
    """``count`` (key, value) records of a simulated factory of ``lines`` lines, and the mix."""
    config = SimulationConfig(factories=1, lines=lines, seed=7, rate=float(lines))
    kinds: Counter[str] = Counter()
    found = []
    for sim in itertools.islice(simulate(config, START), count):
        event = validate_message(sim.topic, sim.encode())
        kinds[str(event.kind)] += 1
        found.append((event.kafka_key, event.to_kafka_value()))
    return found, kinds


async def produce(bootstrap: str, messages: list[Message]) -> str:
    topic = f"bench.events.{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, EVENTS_PARTITIONS, 1)])
    finally:
        await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5, max_batch_size=65536)
    await producer.start()
    try:
        for at in range(0, len(messages), 5_000):
            chunk = messages[at : at + 5_000]
            sent = [await producer.send(topic, value, key=key) for key, value in chunk]
            await asyncio.gather(*sent)
    finally:
        await producer.stop()
    return topic


async def bare_loop(bootstrap: str, topic: str, count: int) -> float:
    """The baseline: read ``count`` records and decode each value; events/s from the first."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"bench-bare-{uuid.uuid4().hex[:6]}",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=5_000,
    )
    await consumer.start()
    try:
        read, first = 0, 0.0
        while read < count:
            fetched = await consumer.getmany(timeout_ms=200, max_records=5_000)
            for records in fetched.values():
                if records and not first:
                    first = time.perf_counter()
                for record_ in records:
                    json.loads(record_.value)
                read += len(records)
        return count / (time.perf_counter() - first)
    finally:
        await consumer.stop()


async def _stored(connection: Any, group: str) -> int:
    done = await connection.fetchval(
        "SELECT coalesce(sum(next_offset), 0) FROM consumer_offset WHERE grp = $1", group
    )
    return int(done)


async def processor(
    url: str,
    bootstrap: str,
    topic: str,
    handler: Callable[[Any, Any], Awaitable[Any]],
    *,
    count: int,
    seconds: float,
    batch_max: int,
    batch_ms: int,
    lanes: int,
) -> tuple[float, int]:
    """Run one processor until ``count`` stored or ``seconds`` after its first commit; return
    its events/s over that span and the events it applied in it."""
    group = f"bench-{uuid.uuid4().hex[:8]}"
    stop = asyncio.Event()
    async with open_database(url, max_size=lanes + 1) as pool:
        task = asyncio.create_task(
            consume(
                bootstrap,
                pool,
                group=group,
                topics=[topic],
                handler=handler,
                stop=stop,
                batch_max=batch_max,
                batch_ms=batch_ms,
                lanes=lanes,
            )
        )
        watcher = await asyncpg.connect(url)
        try:
            start_n = 0
            while not (start_n := await _stored(watcher, group)):  # joined, first batch in
                if task.done():
                    task.result()
                await asyncio.sleep(0.05)
            began = time.perf_counter()
            done = start_n
            while done < count and time.perf_counter() - began < seconds:
                await asyncio.sleep(0.1)
                done = await _stored(watcher, group)
            elapsed = time.perf_counter() - began
        finally:
            stop.set()
            await watcher.close()
            await asyncio.wait_for(task, 60)
    return (done - start_n) / elapsed, done - start_n


async def _run(args: argparse.Namespace, url: str, bootstrap: str) -> dict[str, Any]:
    began = time.perf_counter()
    messages, kinds = events(args.events, args.lines)
    topic = await produce(bootstrap, messages)
    say(f"  {len(messages):,} events produced in {time.perf_counter() - began:.1f} s: {kinds}")
    del messages
    bare = await bare_loop(bootstrap, topic, args.events)
    say(f"  bare loop: {bare:,.0f} events/s")
    figures: dict[str, Any] = {"bare": bare, "kinds": dict(kinds)}
    options = {
        "count": args.events,
        "seconds": args.seconds,
        "batch_max": args.batch_max,
        "batch_ms": args.batch_ms,
        "lanes": args.lanes,
    }
    for name, handler in (
        ("efficiency processor", efficiency.apply_batch),
        ("floor-state processor", floor.apply_batch),
    ):
        profile = cProfile.Profile() if args.profile and name.startswith("efficiency") else None
        if profile is not None:
            profile.enable()
        rate, applied = await processor(url, bootstrap, topic, handler, **options)
        if profile is not None:
            profile.disable()
            _print_profile(profile)
        say(f"  {name}: {rate:,.0f} events/s ({applied:,} events)")
        figures[name] = (rate, applied)
    return figures


def _print_profile(profile: cProfile.Profile) -> None:
    out = io.StringIO()
    stats = pstats.Stats(profile, stream=out)
    stats.sort_stats("tottime").print_stats(20)
    stats.sort_stats("cumulative").print_stats(30)
    say(out.getvalue())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=200_000, help="events produced (200,000)")
    parser.add_argument(
        "--seconds", type=float, default=15.0, help="longest timed span per processor (15)"
    )
    parser.add_argument("--lines", type=int, default=200, help="simulated lines (200)")
    parser.add_argument("--batch-max", type=int, default=5_000, help="records per batch (5,000)")
    parser.add_argument("--batch-ms", type=int, default=200, help="longest batch wait (200)")
    parser.add_argument(
        "--lanes", type=int, default=LANES, help=f"transactions a batch is applied in ({LANES})"
    )
    parser.add_argument("--profile", action="store_true", help="cProfile the efficiency one")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        with EmbeddedStack(StackPlan(Path(folder), durable=False)) as stack:
            say(f"processor benchmark: {args.events:,} events over {args.lines} lines")
            figures = asyncio.run(_run(args, stack.database_url, stack.kafka_bootstrap))
            where = conditions(
                stack,
                events=args.events,
                lines=args.lines,
                seconds=args.seconds,
                batch_max=args.batch_max,
                batch_ms=args.batch_ms,
                lanes=args.lanes,
                partitions=EVENTS_PARTITIONS,
                event_kinds=figures["kinds"],
            )
    bare = figures["bare"]
    rows: list[tuple[object, ...]] = [("bare aiokafka loop, JSON decode", bare, args.events, 1.0)]
    for name in ("efficiency processor", "floor-state processor"):
        rate, applied = figures[name]
        rows.append((name, rate, applied, rate / bare))
        record("processor", name, rate, "events/s", baseline=bare, ratio=rate / bare,
               conditions=where | {"events_timed": applied}, target=TARGET)  # fmt: skip
    table(
        f"processor benchmark: one process each, {where['cpu_count']} cores",
        ["", "events/s", "events timed", "x baseline"],
        rows,
    )


if __name__ == "__main__":
    main()
