"""`floorstream processor`: the Kafka→PostgreSQL stream processors."""

from __future__ import annotations

import argparse
import asyncio
import logging
from typing import Any

from floorstream.services.runtime.database import open_database
from floorstream.services.runtime.kafka_topics import ensure_topics_when_reachable
from floorstream.services.runtime.options import add_log_format, settings_with
from floorstream.services.runtime.service import run_service
from floorstream.services.runtime.settings import ProcessorSettings

log = logging.getLogger("floorstream.processor")


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "processor",
        help="run the stream processors (Kafka → PostgreSQL)",
        description="Consume floor.events.v1 in a consumer group and keep the figures in "
        "PostgreSQL. Needs FLOORSTREAM_KAFKA_BOOTSTRAP and FLOORSTREAM_DATABASE_URL.",
    )
    parser.add_argument(
        "--group",
        help="Kafka consumer group (default floorstream-efficiency, "
        "env FLOORSTREAM_PROCESSOR_GROUP)",
    )
    add_log_format(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    settings = settings_with(
        ProcessorSettings, processor_group=args.group, log_format=args.log_format
    )
    settings.require_database()
    settings.require_kafka()
    return run_service("processor", settings, lambda stop: serve(settings, stop))


async def serve(settings: ProcessorSettings, stop: asyncio.Event) -> None:
    """The processor's wiring point: database (migrated), topics, then the consumer loop."""
    from floorstream.schemas import EVENTS_TOPIC
    from floorstream.services.efficiency.processor import apply_batch
    from floorstream.services.runtime.consumer import consume

    kafka = settings.require_kafka()
    async with open_database(settings.require_database(), max_size=2) as pool:
        if not await ensure_topics_when_reachable(kafka, stop):
            return
        log.info("processor started (group %s)", settings.processor_group)
        await consume(
            kafka,
            pool,
            group=settings.processor_group,
            topics=[EVENTS_TOPIC],
            handler=apply_batch,
            stop=stop,
            batch_max=settings.processor_batch_max,
            batch_ms=settings.processor_batch_ms,
        )
