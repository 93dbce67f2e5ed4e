"""Reading what reached Kafka, in tests."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer


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


async def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.05)
