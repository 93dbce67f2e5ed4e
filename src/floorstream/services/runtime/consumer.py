"""Exactly-once consumption from Kafka into PostgreSQL: results and offsets in one transaction.

The protocol, per batch of records from the partitions this consumer is assigned:

1. fetch a batch (at most ``batch_max`` records, waiting at most ``batch_ms``);
2. open one PostgreSQL transaction and lock the stored offsets of the batch's partitions; if one
   is not where this consumer expects it (another member of the group took the partition over
   and moved on: this one is a zombie), roll back and seek to the stored offsets;
3. apply the handler to the batch in that transaction, and store each partition's next offset;
4. commit. A consumer killed before this point leaves nothing: the transaction rolls back, and
   whoever owns the partition next resumes from the stored offset.

Offsets in PostgreSQL are the truth; Kafka's committed offsets are not used. On assignment the
consumer seeks to the stored offsets (the log's start for a partition never seen). Where a stored
offset lies beyond the log's end, as after a restart of the memory-only embedded broker, it
resumes at the log's end and logs it once for that partition.

After each commit the loop updates the processor's metrics (`consumer_metrics`) from the
handler's `BatchResult`, and each partition's lag from the log end offset of the last fetch.
A database that goes away is logged once, then summarised (`outage.Outage`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.structs import ConsumerRecord
from asyncpg import Pool

from floorstream.services.runtime.consumer_metrics import (
    BatchResult,
    GroupMetrics,
    ProcessorMetrics,
)
from floorstream.services.runtime.outage import Outage

log = logging.getLogger(__name__)

Records = Sequence[ConsumerRecord[bytes, bytes]]
Handler = Callable[[Any, Records], Awaitable[BatchResult | None]]
"""Applies a batch inside the open transaction (an asyncpg connection is passed); returns
what it did with the events, for the metrics (None: nothing to count)."""


class Fenced(Exception):
    """The stored offset moved under this consumer: another member owns the partition now."""


class OffsetStore:
    """The ``consumer_offset`` table: the next offset to read, per group and partition."""

    def __init__(self, group: str) -> None:
        self.group = group

    async def load(
        self, pool: Pool, partitions: Sequence[TopicPartition]
    ) -> dict[TopicPartition, int]:
        rows = await pool.fetch(
            "SELECT topic, partition, next_offset FROM consumer_offset"
            " WHERE grp = $1 AND (topic, partition) IN"
            " (SELECT * FROM unnest($2::text[], $3::int[]))",
            self.group,
            [tp.topic for tp in partitions],
            [tp.partition for tp in partitions],
        )
        return {TopicPartition(r["topic"], r["partition"]): r["next_offset"] for r in rows}

    async def check_and_lock(self, connection: Any, expected: dict[TopicPartition, int]) -> None:
        """Lock the partitions' rows; `Fenced` where one is not at the offset expected."""
        topics = [tp.topic for tp in expected]
        partitions = [tp.partition for tp in expected]
        await connection.execute(
            "INSERT INTO consumer_offset (grp, topic, partition, next_offset)"
            " SELECT $1, t, p, 0 FROM unnest($2::text[], $3::int[]) AS u(t, p)"
            " ON CONFLICT DO NOTHING",
            self.group,
            topics,
            partitions,
        )
        rows = await connection.fetch(
            "SELECT topic, partition, next_offset FROM consumer_offset WHERE grp = $1"
            " AND (topic, partition) IN (SELECT * FROM unnest($2::text[], $3::int[]))"
            " ORDER BY topic, partition FOR UPDATE",
            self.group,
            topics,
            partitions,
        )
        for row in rows:
            tp = TopicPartition(row["topic"], row["partition"])
            if row["next_offset"] != expected[tp]:
                raise Fenced(
                    f"{tp.topic}[{tp.partition}] is at {row['next_offset']}, "
                    f"expected {expected[tp]}"
                )

    async def save(self, connection: Any, positions: dict[TopicPartition, int]) -> None:
        await connection.executemany(
            "UPDATE consumer_offset SET next_offset = $4, updated_at = now()"
            " WHERE grp = $1 AND topic = $2 AND partition = $3",
            [(self.group, tp.topic, tp.partition, offset) for tp, offset in positions.items()],
        )


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, loop: TransactionalConsumer) -> None:
        self._loop = loop

    # aiokafka calls these from its coordinator task, while a batch may be in its transaction:
    # the lock makes a rebalance wait for that batch, so an offset is never read mid-batch.
    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        async with self._loop.lock:
            self._loop.forget(revoked)

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        async with self._loop.lock:
            await self._loop.resume(assigned)


class TransactionalConsumer:
    """Runs the protocol above for one member of a consumer group."""

    def __init__(
        self,
        consumer: AIOKafkaConsumer,
        pool: Pool,
        group: str,
        handler: Handler,
        *,
        bootstrap: str,
        batch_max: int,
        batch_ms: int,
        metrics: GroupMetrics | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._consumer = consumer
        self._bootstrap = bootstrap
        self._pool = pool
        self._offsets = OffsetStore(group)
        self._handler = handler
        self._batch_max = batch_max
        self._batch_ms = batch_ms
        # per assigned partition: the offset stored in PostgreSQL, as this member last knew it
        self._stored: dict[TopicPartition, int] = {}
        # per assigned partition: the next offset to apply (for the lag)
        self._next: dict[TopicPartition, int] = {}
        self._beyond_end_logged: set[TopicPartition] = set()
        self._database = Outage(log, "database", clock=clock, detail="retrying the batch")
        self._metrics = metrics
        self._clock = clock
        self.lock = asyncio.Lock()
        """Held by a batch from fetch to commit, and by a rebalance."""

    def listener(self) -> ConsumerRebalanceListener:
        return _Rebalance(self)

    def forget(self, partitions: Sequence[TopicPartition]) -> None:
        for tp in partitions:
            self._stored.pop(tp, None)
            self._next.pop(tp, None)
            if self._metrics is not None:
                self._metrics.forget(tp.topic, tp.partition)

    async def reachable(self) -> None:
        """A metadata request to the cluster: returns if Kafka answers (readiness)."""
        await self._consumer.topics()

    async def resume(self, partitions: Sequence[TopicPartition]) -> None:
        """Seek each partition to its stored offset."""
        if not partitions:
            return
        stored = await self._offsets.load(self._pool, partitions)
        starts = await self._consumer.beginning_offsets(list(partitions))
        ends = await self._consumer.end_offsets(list(partitions))
        for tp in partitions:
            offset = stored.get(tp, starts[tp])
            if offset > ends[tp]:
                end = await self._true_end(tp, ends[tp])
                if offset > end:
                    self._log_beyond_end(tp, offset, end)
                    offset = end
            self._consumer.seek(tp, max(offset, starts[tp]))
            self._next[tp] = max(offset, starts[tp])
            self._stored[tp] = stored.get(tp, 0)  # a missing row is created at 0

    async def run(self, stop: asyncio.Event) -> None:
        """Apply batches until ``stop`` is set; each batch is committed before the next fetch."""
        while not stop.is_set():
            fetched = await self._consumer.getmany(
                timeout_ms=self._batch_ms, max_records=self._batch_max
            )
            batch = {
                tp: records for tp, records in fetched.items() if records and tp in self._stored
            }  # records of a revoked partition: not ours
            if batch:
                await self._apply(batch, stop)
            self._report_lag()

    def _report_lag(self) -> None:
        if self._metrics is None:
            return
        assigned = self._consumer.assignment()
        for tp, position in self._next.items():
            end = self._consumer.highwater(tp) if tp in assigned else None
            if end is not None:  # known once a fetch for the partition has answered
                self._metrics.lag(tp.topic, tp.partition, end - position)

    async def _apply(self, batch: dict[TopicPartition, list[Any]], stop: asyncio.Event) -> None:
        expected = {tp: self._stored[tp] for tp in batch}
        positions = {tp: records[-1].offset + 1 for tp, records in batch.items()}
        records = [record for records in batch.values() for record in records]
        started = self._clock()
        try:
            async with self._pool.acquire() as connection, connection.transaction():
                await self._offsets.check_and_lock(connection, expected)  # step 2
                result = await self._handler(connection, records)  # step 3
                await self._offsets.save(connection, positions)
        except Fenced as fenced:
            log.warning("batch not applied: %s; another member owns it now", fenced)
            await self.resume(list(self._stored))
            return
        except (
            OSError,
            asyncpg.PostgresConnectionError,
            asyncpg.InterfaceError,
            asyncpg.CannotConnectNowError,
        ) as error:
            await self._database_away(error, batch, stop)
            return
        self._stored.update(positions)  # step 4 done: committed
        self._next.update(positions)
        self._database.recovered()
        if self._metrics is not None:
            self._metrics.batch_done(result, self._clock() - started)

    async def _database_away(
        self, error: BaseException, batch: dict[TopicPartition, list[Any]], stop: asyncio.Event
    ) -> None:
        """Keep the batch for later: seek back to it, wait a moment, try again."""
        self._database.failed(error)
        for tp, records in batch.items():
            self._consumer.seek(tp, records[0].offset)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 1.0)

    async def _true_end(self, tp: TopicPartition, reported: int) -> int:
        """The offset after the partition's last record, read rather than asked for.

        Tansu answers ListOffsets with the base offset of the last record batch, short of the
        end by up to a batch; a probe outside the group reads on from there.
        """
        probe = AIOKafkaConsumer(bootstrap_servers=self._bootstrap, enable_auto_commit=False)
        await probe.start()
        try:
            probe.assign([tp])
            probe.seek(tp, reported)
            while await probe.getmany(tp, timeout_ms=500):
                pass
            end: int = await probe.position(tp)
            return end
        finally:
            await probe.stop()

    def _log_beyond_end(self, tp: TopicPartition, offset: int, end: int) -> None:
        if tp not in self._beyond_end_logged:
            self._beyond_end_logged.add(tp)
            log.warning(
                "%s[%d]: the stored offset %d is beyond the log's end %d (the broker "
                "lost its log); resuming at the end",
                tp.topic,
                tp.partition,
                offset,
                end,
            )


async def consume(
    bootstrap: str,
    pool: Pool,
    *,
    group: str,
    topics: Sequence[str],
    handler: Handler,
    stop: asyncio.Event,
    batch_max: int,
    batch_ms: int,
    metrics: ProcessorMetrics | None = None,
    started: Callable[[TransactionalConsumer], None] | None = None,
) -> None:
    """Run one member of ``group`` on ``topics`` until ``stop``, exactly once into ``pool``.

    ``metrics``, where given, get this group's series; ``started`` is called with the member
    once it is connected (the processor's readiness asks it whether Kafka answers).
    """
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        client_id=f"floorstream-{group}",
        max_poll_records=batch_max,
    )
    loop = TransactionalConsumer(
        consumer,
        pool,
        group,
        handler,
        bootstrap=bootstrap,
        batch_max=batch_max,
        batch_ms=batch_ms,
        metrics=metrics.group(group) if metrics is not None else None,
    )
    await consumer.start()
    try:
        consumer.subscribe(list(topics), listener=loop.listener())
        if started is not None:
            started(loop)
        await loop.run(stop)
    finally:
        await consumer.stop()
