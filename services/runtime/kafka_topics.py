"""The Kafka topics of the contract, created where they do not exist yet.

On a real cluster operators may create them beforehand with their own partition counts and
replication; this only fills in what is missing. Plan one partition per ~200 lines.
"""

from __future__ import annotations

import asyncio
import logging

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError

from schemas.topics import DLQ_TOPIC, EVENTS_TOPIC
from services.runtime.outage import Outage

log = logging.getLogger(f"floorstream.{__name__}")

_TOPIC_ALREADY_EXISTS = 36

EVENTS_PARTITIONS = 12
"""Partitions of ``floor.events.v1`` where floorstream creates it: room for ~2,400 lines."""

TOPIC_PARTITIONS = {EVENTS_TOPIC: EVENTS_PARTITIONS, DLQ_TOPIC: 1}


async def ensure_topics(bootstrap: str, *, replication: int = 1) -> None:
    """Create ``floor.events.v1`` and ``floor.events.dlq.v1`` where they are missing."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="floorstream-admin")
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [NewTopic(name, count, replication) for name, count in TOPIC_PARTITIONS.items()]
        missing = [topic for topic in wanted if topic.name not in existing]
        if not missing:
            return
        response = await admin.create_topics(missing)
        for name, code, message in response.topic_errors:
            if code not in (0, _TOPIC_ALREADY_EXISTS):
                log.warning("could not create topic %s: %s (%s)", name, message, code)
            elif code == 0:
                log.info("created kafka topic %s", name)
    finally:
        await admin.close()


async def ensure_topics_when_reachable(bootstrap: str, stop: asyncio.Event) -> bool:
    """`ensure_topics`, retried until Kafka answers; False if ``stop`` came first.

    An unreachable Kafka is logged once, summarised at most once a minute, and logged once
    more when it answers.
    """
    delay = 0.5
    outage = Outage(log, f"kafka at {bootstrap}", detail="retrying")
    while not stop.is_set():
        try:
            await ensure_topics(bootstrap)
        except KafkaError as error:
            outage.failed(error)
            try:
                await asyncio.wait_for(stop.wait(), delay)
            except TimeoutError:
                delay = min(delay * 2, 5.0)
            continue
        outage.recovered()
        return True
    return False
