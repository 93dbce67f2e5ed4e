"""Reading what reached Kafka, and writing events to a topic of a test's own, in tests."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable, Sequence

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from schemas import EVENTS_TOPIC, Event
from services.runtime.kafka_topics import ensure_topics
from tests.support.waiting import wait_for as wait_for  # where the gateway's tests import it


async def collect(
    bootstrap: str,
    topic: str,
    *,
    until: Callable[[list[dict[str, object]]], bool],
    key_prefix: str = "",
    timeout: float = 60,
) -> list[dict[str, object]]:
    """Records of ``topic`` (JSON values) from the start, until ``until`` holds or time is up."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"test-{uuid.uuid4().hex}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    found: list[dict[str, object]] = []
    deadline = time.monotonic() + timeout
    try:
        while not until(found) and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=200, max_records=10_000)
            for records in batches.values():
                for record in records:
                    key = (record.key or b"").decode()
                    if key.startswith(key_prefix):
                        found.append(json.loads(record.value))
    finally:
        await consumer.stop()
    return found


def event_ids(records: list[dict[str, object]]) -> set[str]:
    return {str(record["event_id"]) for record in records}


Record = tuple[bytes, bytes, int | None]
"""A record to write: its key, its value and its partition (``None``: the key's)."""


async def topic_holding(
    bootstrap: str, records: Sequence[Record], *, prefix: str, partitions: int = 4
) -> str:
    """A new topic of ``partitions`` holding ``records``, in order; its name."""
    topic = f"{prefix}.{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, partitions, 1)])
    finally:
        await admin.close()
    await append(bootstrap, topic, records)
    return topic


async def append(bootstrap: str, topic: str, records: Sequence[Record]) -> None:
    """``records`` written onto the end of ``topic`` (which exists), in order, all acknowledged."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
    await producer.start()
    try:
        sent = [
            await producer.send(topic, value, key=key, partition=partition)
            for key, value, partition in records
        ]
        await asyncio.gather(*sent)
    finally:
        await producer.stop()


async def publish_to_new_topic(
    bootstrap: str, events: list[Event], *, prefix: str = "test.events", partitions: int = 4
) -> str:
    """A new topic of ``partitions`` holding ``events`` (keyed as the gateway keys them); its
    name."""
    records = [(e.kafka_key, e.to_kafka_value(), None) for e in events]
    return await topic_holding(bootstrap, records, prefix=prefix, partitions=partitions)


async def publish_to_events_topic(bootstrap: str, events: list[Event]) -> None:
    """``events`` onto ``floor.events.v1`` (created where missing), keyed as the gateway keys
    them, each acknowledged before the next."""
    await ensure_topics(bootstrap)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for event in events:
            await producer.send_and_wait(EVENTS_TOPIC, event.to_kafka_value(), key=event.kafka_key)
    finally:
        await producer.stop()
