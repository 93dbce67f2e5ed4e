"""Acknowledging to MQTT only what the processors hold, for a Kafka that keeps its log in memory.

The gateway acknowledges an MQTT message once Kafka has its record (`pipeline`). That is safe
with a replicated Kafka: what Kafka acknowledged survives a broker's death. The embedded broker
keeps its log in memory only, so a record it acknowledged is lost with it if it dies before
the processors have read it, and MQTT, acknowledged, will not deliver it again. With
``FLOORSTREAM_KAFKA_DURABILITY=memory`` the gateway holds each event's acknowledgement one step
longer, until every processor group named has stored it in PostgreSQL:

1. a record of a gated topic that Kafka has acknowledged is *held* with its partition and offset;
2. every `POLL_S` while anything is held, the groups' committed offsets of those partitions are
   read from Kafka (the processors mirror there, after each PostgreSQL commit, the positions
   they stored with their results: `runtime.consumer`);
3. a held record is released (and its MQTT message acknowledged) once each group's committed
   offset of its partition is past its offset;
4. a log lost shows as an offset going back: a record acknowledged at an offset below one
   acknowledged before on the same partition, or a group's committed offset going back (a new
   broker has none). Then nothing held can be released any more: `KafkaLogLost` is raised, the
   gateway stops without acknowledging, and the MQTT broker, whose session keeps the messages,
   delivers them again to the gateway that replaces it; the processors drop what they already
   hold by ``event_id``.

The cost is latency and in-flight messages, not throughput: an acknowledgement waits for a
processor batch and a poll (tens to hundreds of milliseconds), within the MQTT receive maximum.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
from collections.abc import Awaitable, Callable, Sequence
from itertools import count

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

log = logging.getLogger(f"floorstream.{__name__}")

POLL_S = 0.05

Release = Callable[[], None]
Committed = Callable[[str, TopicPartition], Awaitable[int | None]]
"""A group's committed offset of a partition (None: none committed)."""


class KafkaLogLost(Exception):
    """Kafka no longer holds records it acknowledged: held messages cannot be acknowledged."""


class ProcessedGate:
    """Holds acknowledgements of records on ``topic`` until ``groups`` have committed past them."""

    def __init__(
        self,
        bootstrap: str,
        topic: str,
        groups: Sequence[str],
        *,
        poll_s: float = POLL_S,
        committed: Committed | None = None,
    ) -> None:
        self.topic = topic
        self._groups = list(groups)
        self._consumers = (
            {
                group: AIOKafkaConsumer(
                    bootstrap_servers=bootstrap,
                    group_id=group,  # to read the group's offsets; it never joins the group
                    enable_auto_commit=False,
                    client_id=f"floorstream-gateway-gate-{group}",
                )
                for group in groups
            }
            if committed is None
            else {}
        )
        self._read = committed if committed is not None else self._committed_in_kafka
        self._poll_s = poll_s
        # per partition: a heap of (last offset, tie-breaker, release) held
        self._held: dict[int, list[tuple[int, int, Release]]] = {}
        self._order = count()
        self._produced: dict[int, int] = {}  # highest offset Kafka acknowledged, per partition
        self._committed: dict[tuple[str, int], int] = {}  # per group and partition
        self._lost: str | None = None
        self._wake = asyncio.Event()

    @property
    def held(self) -> int:
        return sum(len(heap) for heap in self._held.values())

    async def start(self) -> None:
        for consumer in self._consumers.values():
            await consumer.start()

    async def stop(self) -> None:
        for consumer in self._consumers.values():
            try:
                await consumer.stop()
            except KafkaError as error:
                log.debug("gate consumer did not close cleanly: %s", error)

    def hold(self, partition: int, first: int, last: int, release: Release) -> None:
        """Step 1: Kafka acknowledged ``first``..``last`` on ``partition``; ``release`` runs
        once every group has committed past ``last``."""
        if first <= self._produced.get(partition, -1):
            self._lose(
                f"Kafka acknowledged offset {first} of {self.topic}[{partition}] after "
                f"{self._produced[partition]}"
            )
        self._produced[partition] = max(last, self._produced.get(partition, -1))
        heapq.heappush(self._held.setdefault(partition, []), (last, next(self._order), release))
        self._wake.set()

    async def run(self) -> None:
        """Steps 2 to 4, until cancelled; raises `KafkaLogLost`."""
        while True:
            if self._lost is not None:
                raise KafkaLogLost(self._lost)
            if not self.held:
                self._wake.clear()
                await self._wake.wait()
                continue
            try:
                await self._poll()
            except KafkaError as error:
                log.debug("could not read the processors' offsets yet: %s", error)
            await asyncio.sleep(self._poll_s)

    async def _committed_in_kafka(self, group: str, tp: TopicPartition) -> int | None:
        offset: int | None = await self._consumers[group].committed(tp)
        return offset

    async def _poll(self) -> None:
        partitions = [p for p, heap in self._held.items() if heap]
        answers = await asyncio.gather(
            *(
                self._read(group, TopicPartition(self.topic, p))
                for group in self._groups
                for p in partitions
            )
        )
        it = iter(answers)
        least: dict[int, int] = {}
        for group in self._groups:
            for p in partitions:
                offset = next(it)
                offset = -1 if offset is None else offset
                before = self._committed.get((group, p), -1)
                if offset < before:
                    self._lose(
                        f"group {group}'s committed offset of {self.topic}[{p}] went back "
                        f"from {before} to {offset}"
                    )
                    return
                self._committed[group, p] = offset
                least[p] = min(least.get(p, offset), offset)
        if self._lost is not None:
            return
        for p, committed in least.items():  # step 3: committed is the next offset to read
            heap = self._held[p]
            while heap and heap[0][0] < committed:
                heapq.heappop(heap)[2]()

    def _lose(self, why: str) -> None:
        if self._lost is None:
            self._lost = why
            self._wake.set()
