"""Exactly-once consumption from Kafka into PostgreSQL: results and offsets in one transaction.

The protocol, per batch of records from the partitions this consumer is assigned:

1. fetch a batch (at most ``batch_max`` records, waiting at most ``batch_ms``), and deal its
   partitions into *lanes* (`split_lanes`, `LANES` of them): steps 2–5 run for every lane at
   once, each in a transaction of its own on its own connection, so that this process reads
   and folds one lane's records while PostgreSQL runs another's statements. A partition is
   in one lane; a line's events are in one partition, so lanes share no line, station or
   offset row. Each lane commits or rolls back alone; the next fetch waits for all of them;
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

Offsets in PostgreSQL are the truth. Each is stored with the *mark* of the log it belongs to: a
fingerprint of the record just before it (`mark`). On assignment the consumer seeks one record
back and checks that record against the mark before applying anything (`_checked`):

- the same record: the same log; that record (applied already) is dropped, the rest applied;
- another record there, or none (the log is shorter): a new log, as after a restart of the
  memory-only embedded broker or a topic deleted and created again: it is read from its start,
  and logged once with ``floorstream_processor_log_lost_total``;
- the records before the stored offset deleted by retention, or a fetch that jumps past the
  next offset: applied from where the log now starts, logged once with
  ``floorstream_processor_position_reset_total`` (those records were never applied);
- a fetch that goes back before the next offset while assigned (the log was replaced under a
  running consumer): checked once more as on assignment.

A position is never guessed from offsets alone: a new log may be longer than the old one.

After each commit the positions are also committed to Kafka's group offsets, as a mirror
(`_mirror`): never read back by the consumer, they tell the gateway, when Kafka keeps its log in
memory only, which records the processors hold in PostgreSQL (`ingest.processed_gate`), and any
Kafka tool the group's lag.

After each commit the loop updates the processor's metrics (`consumer_metrics`) from the
handler's `BatchResult` (its parts' merged, where the batch was bisected), and each assigned
partition's lag from its log end offset (from the assignment on, then from each fetch).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import KafkaError
from aiokafka.structs import ConsumerRecord, OffsetAndMetadata
from asyncpg import Pool

from services.runtime.consumer_metrics import GroupMetrics, ProcessorMetrics
from services.runtime.handler import BatchResult, Handler, Records
from services.runtime.outage import Outage
from services.runtime.poison import Isolated, PoisonStore, isolate, log_poison

log = logging.getLogger(f"floorstream.{__name__}")

__all__ = ["BatchResult", "Handler", "Records", "TransactionalConsumer", "consume"]

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


MIRROR_INTERVAL_S = 0.05
"""At most this often the stored positions are committed to Kafka's group offsets as well."""


def mark(record: ConsumerRecord[bytes, bytes]) -> bytes:
    """The fingerprint of a record: what identifies the log at its offset.

    Offset, timestamp (the producer's clock, in ms), key and value: a new log holding the very
    same record at the same offset would need the same bytes produced in the same millisecond.
    """
    digest = hashlib.blake2b(digest_size=16)
    digest.update(record.offset.to_bytes(8, "big", signed=True))
    digest.update(record.timestamp.to_bytes(8, "big", signed=True))
    for part in (record.key, record.value):
        digest.update(b"\x00" if part is None else b"\x01" + len(part).to_bytes(4, "big") + part)
    return digest.digest()


@dataclass(frozen=True, slots=True)
class Position:
    """A stored position: the next offset to read, and the mark of the record before it."""

    next_offset: int
    mark: bytes | None


LANES = 2
"""Transactions a batch is applied in at once, each on its own partitions (`split_lanes`)."""


def split_lanes(
    batch: dict[TopicPartition, list[Any]], lanes: int
) -> list[dict[TopicPartition, list[Any]]]:
    """``batch``'s partitions dealt into at most ``lanes`` parts of about as many records:
    the largest partition first, each to the part with the fewest records so far. A partition
    is never split: its records are applied in order, in one transaction."""
    parts: list[dict[TopicPartition, list[Any]]] = [{} for _ in range(max(1, lanes))]
    sizes = [0] * len(parts)
    for tp, records in sorted(batch.items(), key=lambda item: -len(item[1])):
        least = sizes.index(min(sizes))
        parts[least][tp] = records
        sizes[least] += len(records)
    return [part for part in parts if part]


@dataclass(frozen=True, slots=True)
class _Committed:
    """A lane's transaction committed: its partitions' new positions, and what it did."""

    positions: dict[TopicPartition, Position]
    isolated: Isolated
    seconds: float


class Fenced(Exception):
    """The stored offset moved under this consumer: another member owns the partition now."""


class OffsetStore:
    """The ``consumer_offset`` table: the next offset to read, per group and partition."""

    def __init__(self, group: str) -> None:
        self.group = group

    async def load(
        self, pool: Pool, partitions: Sequence[TopicPartition]
    ) -> dict[TopicPartition, Position]:
        rows = await pool.fetch(
            "SELECT topic, partition, next_offset, log_mark FROM consumer_offset"
            " WHERE grp = $1 AND (topic, partition) IN"
            " (SELECT * FROM unnest($2::text[], $3::int[]))",
            self.group,
            [tp.topic for tp in partitions],
            [tp.partition for tp in partitions],
        )
        return {
            TopicPartition(r["topic"], r["partition"]): Position(r["next_offset"], r["log_mark"])
            for r in rows
        }

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

    async def save(self, connection: Any, positions: dict[TopicPartition, Position]) -> None:
        await connection.executemany(
            "UPDATE consumer_offset SET next_offset = $4, log_mark = $5, updated_at = now()"
            " WHERE grp = $1 AND topic = $2 AND partition = $3",
            [
                (self.group, tp.topic, tp.partition, at.next_offset, at.mark)
                for tp, at in positions.items()
            ],
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
        batch_max: int,
        batch_ms: int,
        lanes: int = LANES,
        metrics: GroupMetrics | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._consumer = consumer
        self._pool = pool
        self._offsets = OffsetStore(group)
        self._poison = PoisonStore(group)
        # records that failed alone in a row at the end of the last committed batch (step 3c)
        self._poison_run = 0
        self._handler = handler
        self._batch_max = batch_max
        self._batch_ms = batch_ms
        self._lanes = lanes
        # per assigned partition: the offset stored in PostgreSQL, as this member last knew it
        self._stored: dict[TopicPartition, int] = {}
        # per assigned partition: the next offset to apply, and the mark of the record before
        self._next: dict[TopicPartition, Position] = {}
        # partitions sought one record back, whose first record fetched must match the mark
        self._unchecked: set[TopicPartition] = set()
        # per assigned partition: the log end offset at the assignment (until a fetch tells)
        self._ends: dict[TopicPartition, int] = {}
        # positions committed in PostgreSQL, not yet mirrored to Kafka's group offsets
        self._unmirrored: dict[TopicPartition, int] = {}
        self._committed = asyncio.Event()
        self._database = Outage(log, "database", clock=clock, detail="retrying the batch")
        self._metrics = metrics
        self._clock = clock
        self.lock = asyncio.Lock()
        """Held by a rebalance. (Not yet by a batch: see the note on `run`.)"""

    @property
    def group(self) -> str:
        return self._offsets.group

    def listener(self) -> ConsumerRebalanceListener:
        return _Rebalance(self)

    def forget(self, partitions: Sequence[TopicPartition]) -> None:
        for tp in partitions:
            self._stored.pop(tp, None)
            self._next.pop(tp, None)
            self._ends.pop(tp, None)
            self._unmirrored.pop(tp, None)
            self._unchecked.discard(tp)
            if self._metrics is not None:
                self._metrics.forget(tp.topic, tp.partition)

    async def reachable(self) -> None:
        """A metadata request to the cluster: returns if Kafka answers (readiness)."""
        await self._consumer.topics()

    async def resume(self, partitions: Sequence[TopicPartition]) -> None:
        """Seek each partition to its stored position: one record back where that record can
        be checked against the stored mark, its log's start where it was never read."""
        if not partitions:
            return
        stored = await self._offsets.load(self._pool, partitions)
        starts = await self._consumer.beginning_offsets(list(partitions))
        self._ends.update(await self._consumer.end_offsets(list(partitions)))
        for tp in partitions:
            at = stored.get(tp, Position(0, None))
            self._stored[tp] = at.next_offset  # a missing row is created at 0
            self._unchecked.discard(tp)
            start = starts[tp]
            if at.next_offset < start:  # retention deleted records never applied
                self._reset(tp, at.next_offset, start, "deleted by retention before being read")
                self._seek(tp, Position(start, None))
            elif at.next_offset > start:
                self._check(tp, at)
            else:  # the log's start
                self._seek(tp, at)
        self._report_lag()

    def _seek(self, tp: TopicPartition, at: Position) -> None:
        self._consumer.seek(tp, at.next_offset)
        self._next[tp] = at

    def _check(self, tp: TopicPartition, at: Position) -> None:
        """Read the record before ``at`` once more, to compare it with the mark (a row stored
        before marks existed: check only that the log reaches ``at``)."""
        self._consumer.seek(tp, at.next_offset if at.mark is None else at.next_offset - 1)
        self._next[tp] = at
        self._unchecked.add(tp)

    async def _short_logs(self, fetched: dict[TopicPartition, Any]) -> None:
        """Partitions being checked whose log, as the last fetch says, ends before their
        stored position: new logs. (A broker may answer a fetch beyond the end with nothing
        rather than an error: Tansu does.)"""
        for tp in list(self._unchecked):
            if fetched.get(tp):
                continue
            end = self._consumer.highwater(tp)
            if end is not None and end < self._next[tp].next_offset:
                self._unchecked.discard(tp)
                await self._read_from_start(tp)

    async def _read_from_start(self, tp: TopicPartition) -> None:
        start = (await self._consumer.beginning_offsets([tp]))[tp]
        self._log_lost(tp, self._next[tp].next_offset, start)
        self._seek(tp, Position(start, None))

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
        mirror = asyncio.create_task(self._mirror(stop))
        try:
            while not stop.is_set():
                fetched = await self._consumer.getmany(
                    timeout_ms=self._batch_ms, max_records=self._batch_max
                )
                batch = {}
                for tp, records in fetched.items():
                    if records and tp in self._stored:  # else a revoked partition's: not ours
                        records = await self._checked(tp, records)
                        if records:
                            batch[tp] = records
                if self._unchecked:
                    await self._short_logs(fetched)
                if batch:
                    await self._apply(batch, stop)
                self._report_lag()
        finally:
            mirror.cancel()
            await asyncio.gather(mirror, return_exceptions=True)
            await self._mirror_once()  # what the last batches committed

    async def _checked(self, tp: TopicPartition, records: list[Any]) -> list[Any]:
        """The records of a fetch that continue the partition's stored position (see the
        module's note); the others are dropped, and the partition sought where it should read."""
        at = self._next[tp]
        first = records[0].offset
        if tp in self._unchecked:
            self._unchecked.discard(tp)
            if at.mark is None:  # a row stored before marks: the log must reach it
                if first < at.next_offset:
                    await self._read_from_start(tp)
                    return []
            elif first == at.next_offset - 1 and mark(records[0]) == at.mark:
                return records[1:]  # the same log: its last applied record, then the rest
            elif first <= at.next_offset - 1:  # another record there, or the log is shorter
                await self._read_from_start(tp)
                return []
        elif first < at.next_offset:  # gone back while assigned: the log was replaced
            self._check(tp, at)
            return []
        if first > at.next_offset:
            self._reset(tp, at.next_offset, first, "not in the log any more")
            self._next[tp] = Position(first, None)
        return records

    def _report_lag(self) -> None:
        if self._metrics is None:
            return
        assigned = self._consumer.assignment()
        for tp, at in self._next.items():
            end = self._consumer.highwater(tp) if tp in assigned else None
            if end is None:  # no fetch has answered for it yet: the end at the assignment
                end = self._ends.get(tp)
            if end is not None:
                self._metrics.lag(tp.topic, tp.partition, end - at.next_offset)

    async def _apply(self, batch: dict[TopicPartition, list[Any]], stop: asyncio.Event) -> None:
        """Steps 2–5 for a fetched batch: its partitions split into `lanes` (`split_lanes`),
        each lane in a transaction of its own on a connection of its own, all at once. While
        PostgreSQL runs one lane's statements, this process reads and folds another's: the
        lanes' partitions are disjoint, so are their lines, stations and offset rows. Each lane
        commits or rolls back alone; the next fetch waits for every lane."""
        parts = split_lanes(batch, self._lanes)
        outcomes = await asyncio.gather(
            *(self._transact(part) for part in parts), return_exceptions=True
        )
        runs, fenced, away = [], [], {}
        failure: BaseException | None = None
        for part, outcome in zip(parts, outcomes, strict=True):
            if isinstance(outcome, _Committed):
                self._done(outcome)
                runs.append(outcome.isolated.run)
            elif isinstance(outcome, Fenced):
                fenced.append(outcome)
            elif isinstance(outcome, Exception) and retryable(outcome):
                away[outcome] = part
            else:
                failure = failure or outcome  # step 3c, or a bug outside the handler
        if runs:
            # a bug fails every record of every lane; one lane applying them resets the run
            self._poison_run = min(runs)
        if failure is not None:
            raise failure
        if fenced:
            log.warning("batch not applied: %s; another member owns it now", fenced[0])
            await self.resume(list(self._stored))
        elif away:
            error = next(iter(away))
            await self._database_away(
                error, {tp: rs for part in away.values() for tp, rs in part.items()}, stop
            )
        else:
            self._database.recovered()

    async def _transact(self, batch: dict[TopicPartition, list[Any]]) -> _Committed:
        """Steps 2–5 for one lane's part of a batch; `Fenced`, or the database's error."""
        expected = {tp: self._stored[tp] for tp in batch}
        positions = {
            tp: Position(records[-1].offset + 1, mark(records[-1])) for tp, records in batch.items()
        }
        records = [record for records in batch.values() for record in records]
        started = self._clock()
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
        return _Committed(positions, isolated, self._clock() - started)

    def _done(self, committed: _Committed) -> None:
        """Step 5 done for a lane: its positions are the stored ones now."""
        for tp, at in committed.positions.items():
            self._stored[tp] = at.next_offset
            self._next[tp] = at
            self._unmirrored[tp] = at.next_offset
        self._committed.set()
        log_poison(self._offsets.group, committed.isolated.poison)
        if self._metrics is not None:
            self._metrics.batch_done(committed.isolated.result, committed.seconds)

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

    async def _mirror(self, stop: asyncio.Event) -> None:
        """Commit the positions stored in PostgreSQL to Kafka's group offsets as well, at most
        every `MIRROR_INTERVAL_S`: for the gateway's memory-mode acknowledgements and for
        Kafka's own tools. Never read back; a failed commit is tried again with the next."""
        while not stop.is_set():
            await self._committed.wait()
            self._committed.clear()
            await self._mirror_once()
            await asyncio.sleep(MIRROR_INTERVAL_S)

    async def _mirror_once(self) -> None:
        assigned = self._consumer.assignment()
        offsets = {tp: o for tp, o in self._unmirrored.items() if tp in assigned}
        if not offsets:
            return
        try:
            await self._consumer.commit(
                {tp: OffsetAndMetadata(offset, "") for tp, offset in offsets.items()}
            )
        except KafkaError as error:  # a rebalance, Kafka away: the next commit carries them
            log.debug("group offsets not mirrored to Kafka yet: %s", error)
            self._committed.set()
            return
        for tp, offset in offsets.items():
            if self._unmirrored.get(tp) == offset:
                del self._unmirrored[tp]

    def _log_lost(self, tp: TopicPartition, stored: int, start: int) -> None:
        log.warning(
            "%s[%d] (group %s): the log is not the one the stored offset %d belongs to (the "
            "record before it is missing or another: the broker lost its log, or the topic "
            "was created again); reading the new log from its start, offset %d",
            tp.topic,
            tp.partition,
            self.group,
            stored,
            start,
        )
        if self._metrics is not None:
            self._metrics.log_lost(tp.topic, tp.partition)

    def _reset(self, tp: TopicPartition, stored: int, now: int, why: str) -> None:
        log.warning(
            "%s[%d] (group %s): position reset from %d to %d: records %d..%d are %s",
            tp.topic,
            tp.partition,
            self.group,
            stored,
            now,
            stored,
            now - 1,
            why,
        )
        if self._metrics is not None:
            self._metrics.position_reset(tp.topic, tp.partition)


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
    lanes: int = LANES,
    metrics: ProcessorMetrics | None = None,
    started: Callable[[TransactionalConsumer], None] | None = None,
) -> None:
    """Run one member of ``group`` on ``topics`` until ``stop``, exactly once into ``pool``.

    ``metrics``, where given, get this group's series; ``started`` is called with the member
    once it is connected (the processor's readiness asks it whether Kafka answers).
    ``fetch_wait_ms`` is the consumer's ``fetch_max_wait_ms`` (aiokafka's default: 500);
    ``lanes`` the transactions a batch is applied in at once (`split_lanes`): ``pool`` needs
    as many connections, and one more for a rebalance's offsets.
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
        batch_max=batch_max,
        batch_ms=batch_ms,
        lanes=lanes,
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
