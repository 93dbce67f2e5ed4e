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
    database, kafka = settings.require_database(), settings.require_kafka()

    async def main(stop: asyncio.Event) -> None:
        async with open_database(database, max_size=2):
            if not await ensure_topics_when_reachable(kafka, stop):
                return
            log.info("processor started (group %s)", settings.processor_group)
            await stop.wait()

    return run_service("processor", settings, main)
