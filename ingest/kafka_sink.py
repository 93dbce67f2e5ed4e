"""The record sink on aiokafka: a record is retried until Kafka acknowledges it.

A submitted list of records goes to Kafka as one record batch per partition
(`AIOKafkaProducer.send_batch`), partitioned as `AIOKafkaProducer.send` would
(`DefaultPartitioner`, murmur2 of the key, cached per key): one future and one callback per
batch, not per record. A batch that fails is sent again whole (duplicates are dropped
downstream by ``event_id``).

While Kafka is away the gateway acknowledges nothing to MQTT, so the broker holds the messages
(backpressure) and the gateway's memory stays bounded by the MQTT receive maximum. The outage is
logged once when it starts, summarised at most once a minute while it lasts, and once more when
it ends (the `OutageLog` passed in).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from aiokafka.partitioner import DefaultPartitioner

from ingest.metrics import GatewayMetrics
from ingest.types import Durable, OutageLog, Placed, Record

log = logging.getLogger(f"floorstream.{__name__}")

RETRY_DELAY_S = 0.5
MAX_RETRY_DELAY_S = 5.0
PARTITION_CACHE_MAX = 100_000


@dataclass(frozen=True, slots=True)
class _Group:
    """Records of one submission bound for one partition; ``positions`` in the submission."""

    topic: str
    partition: int
    records: list[Record]
    positions: list[int]
    on_durable: Durable


class KafkaSink:
    """`RecordSink` on an aiokafka producer (acks=all)."""

    def __init__(
        self,
        bootstrap: str,
        metrics: GatewayMetrics,
        *,
        outage: OutageLog,
        linger_ms: int,
        max_batch_bytes: int = 1 << 20,
        idempotence: bool = False,
        request_timeout_ms: int = 10_000,
    ) -> None:
        self._producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap,
            client_id="floorstream-gateway",
            acks="all",
            linger_ms=linger_ms,
            max_batch_size=max_batch_bytes,
            enable_idempotence=idempotence,
            request_timeout_ms=request_timeout_ms,
            retry_backoff_ms=200,
        )
        self._partitioner = DefaultPartitioner()
        self._partitions: dict[str, tuple[frozenset[int], dict[bytes, int]]] = {}
        self._metrics = metrics
        self._retries: set[asyncio.Task[None]] = set()
        self._away = outage
        self._started = False
        self._delay = RETRY_DELAY_S

    async def start(self, stop: asyncio.Event) -> bool:
        """Connect, retrying until Kafka answers; False if ``stop`` came first."""
        while not stop.is_set():
            try:
                await self._producer.start()
            except KafkaError as error:
                self._outage(error)
                await _sleep_or_stop(self._delay, stop)
                continue
            self._started = True
            self._recovered()
            return True
        return False

    @property
    def started(self) -> bool:
        return self._started

    @property
    def acknowledging(self) -> bool:
        """False while sends fail (from the first failure until one succeeds)."""
        return not self._away.away

    async def metadata(self) -> None:
        """A metadata request: returns if the cluster answers (Kafka may have gone away while
        nothing was sent), raises otherwise."""
        await self._producer.client.fetch_all_metadata()

    async def submit(self, records: Sequence[Record], on_durable: Durable) -> None:
        for group in await self._groups(records, on_durable):
            await self._hand_over(group)

    async def _groups(self, records: Sequence[Record], on_durable: Durable) -> list[_Group]:
        groups: dict[tuple[str, int], _Group] = {}
        partition_of: dict[str, dict[bytes, int]] = {}
        for position, record in enumerate(records):
            cache = partition_of.get(record.topic)
            if cache is None:
                cache = partition_of[record.topic] = await self._partition_cache(record.topic)
            partition = cache.get(record.key)
            if partition is None:
                partition = cache[record.key] = self._partition(record.topic, record.key)
            group = groups.get((record.topic, partition))
            if group is None:
                group = groups[record.topic, partition] = _Group(
                    record.topic, partition, [], [], on_durable
                )
            group.records.append(record)
            group.positions.append(position)
        return list(groups.values())

    async def _partition_cache(self, topic: str) -> dict[bytes, int]:
        """Key → partition for ``topic``, emptied when its partitions change."""
        while True:
            try:
                partitions = frozenset(await self._producer.partitions_for(topic))
            except KafkaError as error:
                self._outage(error)
                await asyncio.sleep(self._delay)
                continue
            known, cache = self._partitions.get(topic, (frozenset(), {}))
            if known != partitions or len(cache) > PARTITION_CACHE_MAX:
                cache = {}
                self._partitions[topic] = (partitions, cache)
            return cache

    def _partition(self, topic: str, key: bytes) -> int:
        partitions = sorted(self._partitions[topic][0])
        return int(self._partitioner(key, partitions, partitions))

    async def _hand_over(self, group: _Group) -> None:
        """One `send_batch` per record batch of the group (a group over ``max_batch_bytes`` is
        several); retried until the producer takes it."""
        start = 0
        while start < len(group.records):
            while True:
                builder = self._producer.create_batch()
                end = start
                for record in group.records[start:]:
                    if builder.append(key=record.key, value=record.value, timestamp=None) is None:
                        break  # full; the first record always fits
                    end += 1
                try:
                    future = await self._producer.send_batch(
                        builder, group.topic, partition=group.partition
                    )
                except KafkaError as error:
                    self._outage(error)
                    await asyncio.sleep(self._delay)
                    continue
                break
            part = group if start == 0 and end == len(group.records) else _part(group, start, end)
            future.add_done_callback(partial(self._settled, part))
            start = end

    async def stop(self) -> None:
        for task in list(self._retries):
            task.cancel()
        try:
            await asyncio.wait_for(self._producer.stop(), 10)
        except (TimeoutError, KafkaError) as error:
            log.warning("kafka producer did not close cleanly: %s", error)

    def _settled(self, group: _Group, future: asyncio.Future[object]) -> None:
        if future.cancelled():
            return
        error = future.exception()
        if error is None:
            self._recovered()
            offset = getattr(future.result(), "offset", None)  # RecordMetadata: the base offset
            placed = None if offset is None else Placed(group.topic, group.partition, offset)
            group.on_durable(group.positions, placed)
            return
        self._outage(error)
        task = asyncio.get_running_loop().create_task(self._retry(group))
        self._retries.add(task)
        task.add_done_callback(self._retries.discard)

    async def _retry(self, group: _Group) -> None:
        await asyncio.sleep(self._delay)
        await self._hand_over(group)

    def _outage(self, error: BaseException) -> None:
        self._metrics.kafka_up.set(0)
        self._away.failed(error)
        self._delay = min(self._delay * 2, MAX_RETRY_DELAY_S)

    def _recovered(self) -> None:
        self._delay = RETRY_DELAY_S
        self._metrics.kafka_up.set(1)
        self._away.recovered()


def _part(group: _Group, start: int, end: int) -> _Group:
    return _Group(
        group.topic,
        group.partition,
        group.records[start:end],
        group.positions[start:end],
        group.on_durable,
    )


async def _sleep_or_stop(delay: float, stop: asyncio.Event) -> None:
    try:
        await asyncio.wait_for(stop.wait(), delay)
    except TimeoutError:
        pass
