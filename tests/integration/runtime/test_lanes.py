"""Lanes against real Kafka (Tansu) and PostgreSQL: a fetched batch is applied in several
transactions at once, each on its own partitions; one lane failing does not lose or double
another's records."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from asyncpg import Pool

from services.runtime.consumer import Handler, Records, consume
from services.runtime.database import open_database
from services.runtime.handler import BatchResult
from services.stack.embedded.stack import Endpoints
from tests.support.kafka import topic_holding

pytestmark = pytest.mark.integration

RECORDS = 2_000
PARTITIONS = 4
LANES = 2


@pytest.fixture
async def pool(stack: Endpoints) -> AsyncIterator[Pool]:
    async with open_database(stack.database_url, max_size=LANES + 1) as pool:
        await pool.execute(
            "CREATE TABLE IF NOT EXISTS lanes_test_applied (grp text NOT NULL,"
            " partition int NOT NULL, record_offset bigint NOT NULL, value text NOT NULL,"
            " txid bigint NOT NULL)"
        )
        yield pool


async def _topic(bootstrap: str) -> str:
    records = [(f"k{i}".encode(), f"r{i}".encode(), i % PARTITIONS) for i in range(RECORDS)]
    return await topic_holding(bootstrap, records, prefix="test.lanes", partitions=PARTITIONS)


class Inserting:
    """A handler that inserts each record with its transaction's id. ``fail(records)``, where
    given, may raise first. It notes whether two of its calls were ever in flight at once: it
    waits (a moment at most) for another lane to come in while it is in its transaction."""

    def __init__(self, group: str, fail: Any = None) -> None:
        self.group = group
        self.fail = fail
        self.in_flight = 0
        self.overlapped = asyncio.Event()

    async def __call__(self, connection: Any, records: Records) -> BatchResult:
        self.in_flight += 1
        try:
            if self.in_flight > 1:
                self.overlapped.set()
            elif not self.overlapped.is_set():
                try:
                    await asyncio.wait_for(self.overlapped.wait(), 0.5)
                except TimeoutError:
                    pass  # a fetch of one partition only: one lane
            if self.fail is not None:
                self.fail(records)
            await connection.executemany(
                "INSERT INTO lanes_test_applied VALUES ($1, $2, $3, $4, txid_current())",
                [(self.group, r.partition, r.offset, r.value.decode()) for r in records],
            )
            return BatchResult(applied=len(records))
        finally:
            self.in_flight -= 1


async def _run_until_stored(stack: Endpoints, pool: Pool, topic: str, handler: Handler) -> None:
    group = handler.group  # type: ignore[attr-defined]
    stop = asyncio.Event()
    task = asyncio.create_task(
        consume(
            stack.kafka_bootstrap,
            pool,
            group=group,
            topics=[topic],
            handler=handler,
            stop=stop,
            batch_max=400,
            batch_ms=50,
            lanes=LANES,
        )
    )
    try:
        deadline = asyncio.get_running_loop().time() + 90
        while (
            await pool.fetchval(
                "SELECT coalesce(sum(next_offset), 0) FROM consumer_offset WHERE grp = $1", group
            )
            < RECORDS
        ):
            if task.done():
                task.result()
                raise AssertionError("the consumer stopped")
            assert asyncio.get_running_loop().time() < deadline, "offsets short after 90 s"
            await asyncio.sleep(0.05)
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


async def _applied(pool: Pool, group: str) -> list[Any]:
    return list(
        await pool.fetch(
            "SELECT value, partition, txid FROM lanes_test_applied WHERE grp = $1", group
        )
    )


async def test_a_batch_s_lanes_run_at_once_in_transactions_of_their_own(
    stack: Endpoints, pool: Pool
) -> None:
    topic = await _topic(stack.kafka_bootstrap)
    handler = Inserting(f"g-{uuid.uuid4().hex[:8]}")
    await _run_until_stored(stack, pool, topic, handler)
    assert handler.overlapped.is_set()  # two lanes were in their transactions at once
    rows = await _applied(pool, handler.group)
    assert sorted(r["value"] for r in rows) == sorted(f"r{i}" for i in range(RECORDS))
    partitions_of: dict[int, set[int]] = {}
    for row in rows:
        partitions_of.setdefault(row["txid"], set()).add(row["partition"])
    # a transaction holds at most the partitions of one lane, never all of a batch's
    assert all(len(held) <= PARTITIONS // LANES + 1 for held in partitions_of.values())
    assert max(len(held) for held in partitions_of.values()) < PARTITIONS


async def test_a_lane_that_loses_its_connection_is_retried_and_the_others_kept(
    stack: Endpoints, pool: Pool
) -> None:
    topic = await _topic(stack.kafka_bootstrap)
    failures = 0

    def twice_on_partition_1(records: Records) -> None:
        nonlocal failures
        if failures < 2 and any(r.partition == 1 for r in records):
            failures += 1
            raise ConnectionResetError("the database went away in one lane")

    handler = Inserting(f"g-{uuid.uuid4().hex[:8]}", fail=twice_on_partition_1)
    await _run_until_stored(stack, pool, topic, handler)
    assert failures == 2
    rows = await _applied(pool, handler.group)
    values = [r["value"] for r in rows]
    assert len(values) == len(set(values)) == RECORDS  # every record once, none twice
