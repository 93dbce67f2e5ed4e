"""`floorstream processor`: the Kafka→PostgreSQL stream processors.

Both run in one process, each a member of its own consumer group on ``floor.events.v1``: the
efficiency processor (OEE minute buckets, ``processor_group``) and the floor-state processor
(stations, operators, materials, work orders, ``floor_group``). If either fails, the process
fails, and its supervisor restarts it; each resumes from the offsets stored with its results.
Both skip events older than the retention period (``retention_days``), and those further ahead
of their clock than ``future_tolerance_s``.

With ``FLOORSTREAM_METRICS_PORT`` set, ``/metrics`` (`ProcessorMetrics`, labelled by group),
``/healthz`` and ``/readyz`` (database, kafka) answer on it from the start, while the database
migrates or Kafka is awaited.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from prometheus_client import CollectorRegistry

from services.runtime.database import open_database
from services.runtime.kafka_topics import ensure_topics_when_reachable
from services.runtime.ops_server import NotReady, Readiness, serve_with_ops
from services.runtime.options import add_log_format, settings_with
from services.runtime.service import run_service
from services.runtime.settings import ProcessorSettings

log = logging.getLogger("floorstream.processor")


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "processor",
        help="run the stream processors (Kafka → PostgreSQL)",
        description="Consume floor.events.v1 with two processors in one process, each in its "
        "own consumer group: the efficiency processor keeps the OEE figures, the floor-state "
        "processor the live floor (stations, operators, materials, work orders), both in "
        "PostgreSQL. Needs FLOORSTREAM_KAFKA_BOOTSTRAP and FLOORSTREAM_DATABASE_URL.",
    )
    parser.add_argument(
        "--group",
        help="consumer group of the efficiency processor (OEE figures) "
        "(default floorstream-efficiency, env FLOORSTREAM_PROCESSOR_GROUP)",
    )
    parser.add_argument(
        "--floor-group",
        help="consumer group of the floor-state processor (stations, operators, materials, "
        "work orders) (default floorstream-floor, env FLOORSTREAM_FLOOR_GROUP)",
    )
    parser.add_argument(
        "--metrics-port",
        type=int,
        help="serve /metrics, /healthz and /readyz on this port "
        "(default 0 = off, env FLOORSTREAM_METRICS_PORT)",
    )
    add_log_format(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    settings = settings_with(
        ProcessorSettings,
        processor_group=args.group,
        floor_group=args.floor_group,
        metrics_port=args.metrics_port,
        log_format=args.log_format,
    )
    return run_service("processor", settings, lambda stop: serve(settings, stop))


def _now() -> datetime:
    return datetime.now(UTC)


async def serve(
    settings: ProcessorSettings, stop: asyncio.Event, *, registry: CollectorRegistry | None = None
) -> None:
    """The processors' wiring point: the operations port, database (migrated), topics, then
    both consumer loops, sharing the pool; an error in either cancels the other and fails the
    process."""
    await serve_with_ops(
        settings,
        ("database", "kafka"),
        lambda metrics, readiness: _serve(settings, stop, metrics, readiness),
        registry=registry,
    )


async def _serve(
    settings: ProcessorSettings,
    stop: asyncio.Event,
    registry: CollectorRegistry,
    readiness: Readiness,
) -> None:
    from schemas import EVENTS_TOPIC
    from services.efficiency import processor as efficiency
    from services.floor import processor as floor
    from services.runtime.consumer import Handler, TransactionalConsumer, consume
    from services.runtime.consumer_metrics import ProcessorMetrics
    from services.runtime.retention import keep_purging

    metrics = ProcessorMetrics.create(registry)
    kafka = ",".join(settings.kafka_bootstrap)
    # each member's lanes, a rebalance's offsets, retention and readiness
    connections = 2 * settings.processor_lanes + 3
    url = settings.database_url.get_secret_value()
    async with open_database(url, max_size=connections) as pool:
        readiness.add("database", lambda: pool.fetchval("SELECT 1"))
        readiness.pending("kafka", f"not reachable yet at {kafka}")
        if not await ensure_topics_when_reachable(kafka, stop):
            return
        members: list[TransactionalConsumer] = []
        readiness.add("kafka", lambda: _members_reach_kafka(members))

        async def member(group: str, handler: Handler) -> None:
            await consume(
                kafka,
                pool,
                group=group,
                topics=[EVENTS_TOPIC],
                handler=handler,
                stop=stop,
                batch_max=settings.processor_batch_max,
                batch_ms=settings.processor_batch_ms,
                fetch_wait_ms=settings.processor_fetch_wait_ms,
                lanes=settings.processor_lanes,
                metrics=metrics,
                started=members.append,
            )

        log.info(
            "processor started (groups %s and %s)", settings.processor_group, settings.floor_group
        )
        retention = timedelta(days=settings.retention_days)
        ahead = timedelta(seconds=settings.future_tolerance_s)
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(
                member(settings.processor_group, efficiency.retaining(retention, _now, ahead))
            )
            tasks.create_task(member(settings.floor_group, floor.retaining(retention, _now, ahead)))
            tasks.create_task(keep_purging(pool, retention=retention, clock=_now, stop=stop))


async def _members_reach_kafka(members: list[Any]) -> None:
    """Readiness: each consumer that has started gets an answer to a metadata request."""
    if not members:
        raise NotReady("consumers not started yet")
    await asyncio.gather(*(member.reachable() for member in members))
