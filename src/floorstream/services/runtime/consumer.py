"""Exactly-once consumption from Kafka into PostgreSQL: results and offsets in one transaction.

The protocol, per batch of records from the partitions this consumer is assigned:

1. fetch a batch (at most ``batch_max`` records, waiting at most ``batch_ms``);
2. open one PostgreSQL transaction and lock the stored offsets of the batch's partitions; if one
   is not where this consumer expects it (another member of the group took the partition over
   and moved on: this one is a zombie), roll back and seek to the stored offsets;
3. apply the handler to the batch in a savepoint of that transaction (`runtime.poison`):
   a. where the handler raises an error that is the records' (not `retryable`), roll back to
      the savepoint and apply each half in a savepoint of its own, recursively, down to
      single records; every part either commits with the batch or is rolled back;
   b. a record that fails alone is poison: stored in ``poison_record`` with its error, in this
      transaction, and counted as skipped (``poison``);
   c. more than `poison.RUN_LIMIT` records failing alone in a row (no record applied between
      them, in this batch or the ones before) is a bug in the code or the schema, not poison:
      raise `poison.EveryRecordFails`, which rolls the batch back and stops the consumer;
4. store each partition's next offset (past any poison) in the transaction;
5. commit, then log each poison record once. A consumer killed before the commit leaves
   nothing: the transaction rolls back, and whoever owns the partition next resumes from the
   stored offset.

An error that is `retryable` (the connection is lost, or the database cannot apply anything
now: a deadlock, a serialization failure, a cancelled statement, resources short), at any
step or depth, rolls the batch back; the consumer seeks back to it and retries it a moment
later. A database that goes away is logged once, then summarised (`outage.Outage`).

Offsets in PostgreSQL are the truth; Kafka's committed offsets are not used. On assignment the
consumer seeks to the stored offsets (the log's start for a partition never seen). Where a stored
offset lies beyond the log's end, as after a restart of the memory-only embedded broker, it
resumes at the log's end and logs it once for that partition.

After each commit the loop updates the processor's metrics (`consumer_metrics`) from the
handler's `BatchResult` (its parts' merged, where the batch was bisected), and each
partition's lag from the log end offset of the last fetch.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from functools import partial
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
from floorstream.services.runtime.poison import PoisonStore, isolate, log_poison

log = logging.getLogger(__name__)

Records = Sequence[ConsumerRecord[bytes, bytes]]
Handler = Callable[[Any, Records], Awaitable[BatchResult | None]]
"""Applies a batch inside the open transaction (an asyncpg connection is passed); returns
what it did with the events, for the metrics (None: nothing to count)."""


_UNAVAILABLE = (
    OSError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
)
_TRANSIENT = (
    asyncpg.TransactionRollbackError,  # 40: serialization failure, deadlock
    asyncpg.InsufficientResourcesError,  # 53: disk full, out of memory, too many connections
    asyncpg.LockNotAvailableError,  # 55P03
    asyncpg.OperatorInterventionError,  # 57: statement cancelled, server shutting down
    asyncpg.PostgresSystemError,  # 58: I/O error
)


# asyncpg's client-side DataError (a value its codec cannot encode, as an int out of a
# column's range) is an InterfaceError, but the fault of a record, not of the connection
_ENCODING = asyncpg.exceptions._base.DataError


def retryable(error: Exception) -> bool:
    """The batch's error is not its records': the database is away, or cannot apply anything
    now. The batch is retried, never bisected (a record must not be skipped for it)."""
    return isinstance(error, _UNAVAILABLE + _TRANSIENT) and not isinstance(error, _ENCODING)


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
        self._poison = PoisonStore(group)
        # records that failed alone in a row at the end of the last committed batch (step 3c)
        self._poison_run = 0
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
        """Held by a rebalance. (Not yet by a batch: see the note on `run`.)"""

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
        """Apply batches until ``stop`` is set; each batch is committed before the next fetch.

        Known gap: a batch does not hold `lock`, so a rebalance that gives a partition back to
        this member while its batch is in the transaction seeks it to the offset stored before
        that batch commits, and the batch's records are read once more. The offsets check lets
        them through (they match again), so they are applied twice; both processors drop an
        ``event_id`` they already hold, so no figure changes. Holding the lock across a batch
        needs the batch dropped and its partitions sought back when a rebalance came during the
        fetch; a first try of that lost records and was taken back.
        """
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
                isolated = await isolate(  # step 3
                    records,
                    partial(self._apply_part, connection),
                    retryable=retryable,
                    run=self._poison_run,
                )
                await self._poison.save(connection, isolated.poison)  # step 3b
                await self._offsets.save(connection, positions)  # step 4
        except Fenced as fenced:
            log.warning("batch not applied: %s; another member owns it now", fenced)
            await self.resume(list(self._stored))
            return
        except Exception as error:
            if not retryable(error):
                raise  # step 3c, or a bug outside the handler
            await self._database_away(error, batch, stop)
            return
        self._stored.update(positions)  # step 5 done: committed
        self._next.update(positions)
        self._poison_run = isolated.run
        log_poison(self._offsets.group, isolated.poison)
        self._database.recovered()
        if self._metrics is not None:
            self._metrics.batch_done(isolated.result, self._clock() - started)

    async def _apply_part(self, connection: Any, records: Records) -> BatchResult | None:
        """The handler on ``records`` in a savepoint: rolled back to it where the handler raises."""
        async with connection.transaction():
            return await self._handler(connection, records)

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
    fetch_wait_ms: int = 500,
    metrics: ProcessorMetrics | None = None,
    started: Callable[[TransactionalConsumer], None] | None = None,
) -> None:
    """Run one member of ``group`` on ``topics`` until ``stop``, exactly once into ``pool``.

    ``metrics``, where given, get this group's series; ``started`` is called with the member
    once it is connected (the processor's readiness asks it whether Kafka answers).
    ``fetch_wait_ms`` is the consumer's ``fetch_max_wait_ms`` (aiokafka's default: 500).
    """
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        client_id=f"floorstream-{group}",
        max_poll_records=batch_max,
        fetch_max_wait_ms=fetch_wait_ms,
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
