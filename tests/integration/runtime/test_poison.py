"""Poison records against real Kafka (Tansu) and PostgreSQL: a record the handler fails on alone
is set aside in ``poison_record`` and the partition moves on; every other record is applied
exactly once; a handler that fails every record stops the consumer."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest
from asyncpg import Pool

from services.runtime.consumer import Handler, Records, consume
from services.runtime.database import open_database
from services.runtime.handler import BatchResult
from services.runtime.poison import RUN_LIMIT, EveryRecordFails
from services.stack.embedded.stack import Endpoints
from tests.support.kafka import append, topic_holding

pytestmark = pytest.mark.integration

RECORDS = 1_000
PARTITIONS = 4
POISON_AT = (3, 250, 251, 517, 998)  # indexes into the records produced


@pytest.fixture
async def pool(stack: Endpoints) -> AsyncIterator[Pool]:
    async with open_database(stack.database_url, max_size=3) as pool:
        await pool.execute(
            "CREATE TABLE IF NOT EXISTS poison_test_applied (grp text NOT NULL,"
            " partition int NOT NULL, record_offset bigint NOT NULL, value text NOT NULL)"
        )
        yield pool


async def _topic(bootstrap: str, values: Sequence[bytes]) -> str:
    """A topic holding ``values``, the i-th on partition i % `PARTITIONS`."""
    records = [(f"k{i}".encode(), value, i % PARTITIONS) for i, value in enumerate(values)]
    return await topic_holding(bootstrap, records, prefix="test.poison", partitions=PARTITIONS)


def _inserting(group: str, *, fail: Any = None) -> Handler:
    """Inserts every record of the part, then raises ValueError where one is b"poison" (so the
    savepoint must undo the inserts). ``fail(records)``, where given, may raise first."""

    async def apply(connection: Any, records: Records) -> BatchResult:
        if fail is not None:
            fail(records)
        await connection.executemany(
            "INSERT INTO poison_test_applied VALUES ($1, $2, $3, $4)",
            [(group, r.partition, r.offset, r.value.decode()) for r in records],
        )
        if any(r.value == b"poison" for r in records):
            raise ValueError("cannot apply b'poison'")
        return BatchResult(applied=len(records))

    return apply


def _values() -> list[bytes]:
    return [b"poison" if i in POISON_AT else f"r{i}".encode() for i in range(RECORDS)]


def _member(stack: Endpoints, pool: Pool, group: str, topic: str, handler: Handler) -> Any:
    stop = asyncio.Event()
    task = asyncio.create_task(
        consume(
            stack.kafka_bootstrap,
            pool,
            group=group,
            topics=[topic],
            handler=handler,
            stop=stop,
            batch_max=200,
            batch_ms=50,
        )
    )
    return stop, task


async def _stored(pool: Pool, group: str) -> int:
    return int(
        await pool.fetchval(
            "SELECT coalesce(sum(next_offset), 0) FROM consumer_offset WHERE grp = $1", group
        )
    )


async def _wait_stored(pool: Pool, group: str, task: asyncio.Task[None], total: int) -> None:
    deadline = asyncio.get_running_loop().time() + 90
    while await _stored(pool, group) < total:
        if task.done():
            task.result()  # raises what stopped it
            raise AssertionError("the consumer stopped")
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"offsets short of {total} after 90s")
        await asyncio.sleep(0.05)


async def _check_exactly_once(pool: Pool, group: str, topic: str, records: int = RECORDS) -> None:
    rows = await pool.fetch(
        "SELECT value, count(*) AS n FROM poison_test_applied WHERE grp = $1 GROUP BY value",
        group,
    )
    applied = {row["value"]: row["n"] for row in rows}
    good = {f"r{i}" for i in range(records) if i not in POISON_AT}
    assert set(applied) == good  # no poison applied, nothing of a rolled-back part left
    assert set(applied.values()) == {1}  # each good record exactly once
    poison = await pool.fetch(
        'SELECT topic, partition, "offset", key, value, error FROM poison_record'
        ' WHERE grp = $1 ORDER BY partition, "offset"',
        group,
    )
    expected = sorted((i % PARTITIONS, i // PARTITIONS, f"k{i}".encode()) for i in POISON_AT)
    assert [(r["partition"], r["offset"], r["key"]) for r in poison] == expected
    assert {r["topic"] for r in poison} == {topic}
    assert {r["value"] for r in poison} == {b"poison"}
    assert {r["error"] for r in poison} == {"ValueError: cannot apply b'poison'"}


async def test_poison_records_are_set_aside_and_every_other_record_applied_once(
    stack: Endpoints, pool: Pool, caplog: pytest.LogCaptureFixture
) -> None:
    topic = await _topic(stack.kafka_bootstrap, _values())
    group = f"g-{uuid.uuid4().hex[:8]}"
    stop, task = _member(stack, pool, group, topic, _inserting(group))
    try:
        await _wait_stored(pool, group, task, RECORDS)  # the offsets are at the end
        # still consuming: a good record more, after the poison, is applied too
        await append(stack.kafka_bootstrap, topic, [(b"one-more", f"r{RECORDS}".encode(), 0)])
        await _wait_stored(pool, group, task, RECORDS + 1)
        assert not task.done()
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
    await _check_exactly_once(pool, group, topic, RECORDS + 1)
    logged = [r for r in caplog.records if "poison record skipped" in r.getMessage()]
    assert len(logged) == len(POISON_AT)  # once each, at error level
    assert {r.levelname for r in logged} == {"ERROR"}
    first = next(r.getMessage() for r in logged if "key b'k3'" in r.getMessage())
    assert f"{topic}[3]@0 key b'k3' value b'poison': ValueError: cannot apply" in first


async def test_a_lost_connection_while_bisecting_retries_the_batch(
    stack: Endpoints, pool: Pool
) -> None:
    topic = await _topic(stack.kafka_bootstrap, _values())
    group = f"g-{uuid.uuid4().hex[:8]}"
    failed = False

    def once_while_bisecting(records: Records) -> None:
        nonlocal failed
        if not failed and len(records) == 1 and records[0].value == b"poison":
            failed = True
            raise ConnectionResetError("the database went away mid-bisection")

    stop, task = _member(stack, pool, group, topic, _inserting(group, fail=once_while_bisecting))
    try:
        await _wait_stored(pool, group, task, RECORDS)
        assert failed
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
    await _check_exactly_once(pool, group, topic)


async def test_a_handler_that_fails_every_record_stops_the_consumer(
    stack: Endpoints, pool: Pool
) -> None:
    topic = await _topic(stack.kafka_bootstrap, [b"poison"] * 100)
    group = f"g-{uuid.uuid4().hex[:8]}"
    stop, task = _member(stack, pool, group, topic, _inserting(group))
    try:
        with pytest.raises(EveryRecordFails, match="records in a row failed alone"):
            await asyncio.wait_for(task, 90)
    finally:
        stop.set()
    # the failing batch rolled back: the offsets moved past the records set aside only (none,
    # unless a first fetch brought no more than RUN_LIMIT records)
    stored = await _stored(pool, group)
    set_aside = await pool.fetchval("SELECT count(*) FROM poison_record WHERE grp = $1", group)
    assert stored == set_aside <= RUN_LIMIT
