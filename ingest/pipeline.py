"""The gateway's delivery protocol. For each batch of MQTT messages, in arrival order:

1. validate each message against the contract: a valid event becomes a record for
   ``floor.events.v1`` keyed ``{factory}/{line}``; anything else, and an event whose ``ts`` is
   more than ``future_tolerance`` ahead of the gateway's clock, a dead-letter record with its
   reason (`routing.route`);
2. submit the batch's records to Kafka; waiting here while Kafka is slow or away is the
   backpressure;
3. when Kafka has acknowledged records, mark their deliveries done;
4. acknowledge to MQTT every done delivery at the head of the queue, in arrival order (MQTT wants
   PUBACKs in the order of the PUBLISHes), in one call per batch.

Nothing is acknowledged before step 3, so a gateway killed at any instant loses nothing: the
broker redelivers what was not acknowledged, and processors drop the duplicates by ``event_id``.
Where Kafka keeps its log in memory only, step 3 waits, for events, until the processors have
stored them too (``gate``: `processed_gate`); when that gate finds the log lost, the gateway
stops without acknowledging anything more, and the broker redelivers.
The queue is bounded by the broker, which sends at most ``receive maximum`` unacknowledged
messages (MQTT v5). Batches are what arrived since the last one, up to ``batch_max``: under
load they grow, and the per-message costs of the hand-offs (to the event loop, to Kafka, back
to MQTT) become per-batch costs.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from ingest.metrics import GatewayMetrics
from ingest.processed_gate import KafkaLogLost, ProcessedGate
from ingest.routing import FUTURE_TOLERANCE, route
from ingest.types import Delivery, MessageSource, Placed, Record, RecordSink

log = logging.getLogger(f"floorstream.{__name__}")

DRAIN_TIMEOUT_S = 5.0
BATCH_MAX = 500


class Gateway:
    """Moves messages from a source to a sink, acknowledging each only once it is durable."""

    def __init__(
        self,
        source: MessageSource,
        sink: RecordSink,
        metrics: GatewayMetrics,
        *,
        batch_max: int = BATCH_MAX,
        gate: ProcessedGate | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        future_tolerance: timedelta = FUTURE_TOLERANCE,
    ) -> None:
        self._source = source
        self._sink = sink
        self._metrics = metrics
        self._batch_max = batch_max
        self._gate = gate
        self._lost = False
        self._clock = clock
        self._wall_clock = wall_clock
        self._future_tolerance = future_tolerance
        self._inbox: deque[Delivery] = deque()
        self._unacked: deque[Delivery] = deque()
        self._arrived = asyncio.Event()
        self._all_acked = asyncio.Event()

    @property
    def unacknowledged(self) -> int:
        return len(self._inbox) + len(self._unacked)

    def deliver(self, batch: list[Delivery]) -> None:
        """Take a batch of arrivals (called on the event loop by the source)."""
        now = self._clock()
        for delivery in batch:
            delivery.received_at = now
        self._inbox.extend(batch)
        self._metrics.received.inc(len(batch))
        self._metrics.in_flight.inc(len(batch))
        self._arrived.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Run until ``stop`` is set; then drain what Kafka can still take, and disconnect."""
        self._source.start(self.deliver)
        forwarding = asyncio.create_task(self._forward_all())
        stopping = asyncio.create_task(stop.wait())
        tasks = {forwarding, stopping}
        if self._gate is not None:
            await self._gate.start()
            gating = asyncio.create_task(self._gate.run())
            tasks.add(gating)
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in (forwarding, *tasks - {forwarding, stopping}):
                if task.done():  # they never end by themselves: a lost log, or a bug
                    self._lost = isinstance(task.exception(), KafkaLogLost)
                    task.result()
        except KafkaLogLost as lost:
            log.error(
                "the Kafka log was lost (%s): stopping without acknowledging %d messages, so "
                "that the MQTT broker delivers them again",
                lost,
                self.unacknowledged,
            )
            raise
        finally:
            for task in tasks:
                task.cancel()  # forwarding may be waiting on an unreachable Kafka
            await asyncio.gather(*tasks, return_exceptions=True)  # errors are raised above
            if not self._lost:
                await self._drain()
            self._source.stop()  # what is still unacknowledged stays with the broker
            await self._sink.stop()
            if self._gate is not None:
                await self._gate.stop()

    async def _forward_all(self) -> None:
        inbox = self._inbox
        while True:
            self._arrived.clear()
            while inbox:
                count = min(len(inbox), self._batch_max)
                await self._forward([inbox.popleft() for _ in range(count)])
            await self._arrived.wait()

    async def _forward(self, batch: list[Delivery]) -> None:
        # Step 1.
        records: list[Record] = []
        reasons: list[str | None] = []
        for delivery in batch:
            record, reason = route(
                delivery.topic, delivery.payload, self._wall_clock, self._future_tolerance
            )
            records.append(record)
            reasons.append(reason)

        def durable(positions: Sequence[int], placed: Placed | None = None) -> None:  # step 3
            gate = self._gate
            if gate is not None and placed is not None and placed.topic == gate.topic:
                last = placed.offset + len(positions) - 1
                self._metrics.held.inc(len(positions))
                gate.hold(placed.partition, placed.offset, last, lambda: released(positions))
            else:
                done(positions)

        def released(positions: Sequence[int]) -> None:
            self._metrics.held.dec(len(positions))
            done(positions)

        def done(positions: Sequence[int]) -> None:
            if self._lost:
                return  # never acknowledge once the log is lost
            produced, now = 0, self._clock()
            for position in positions:
                delivery = batch[position]
                delivery.done = True
                reason = reasons[position]
                if reason is None:
                    produced += 1
                else:
                    self._metrics.dead_lettered.labels(reason).inc()
                self._metrics.produce_latency.observe(now - delivery.received_at)
            self._metrics.produced.inc(produced)
            self._ack_ready()

        # Queued before the hand-over, so that a sink confirming at once finds them.
        self._unacked.extend(batch)
        self._all_acked.clear()
        try:
            await self._sink.submit(records, durable)  # step 2
        except BaseException:  # cancelled (stopping), or a bug in the sink
            self._withdraw(batch)
            raise

    def _withdraw(self, batch: list[Delivery]) -> None:
        """Take back a batch whose hand-over did not finish, from its first delivery not yet
        durable on: the broker redelivers those (part of them may be with Kafka already; the
        processors drop the duplicates)."""
        first = next((i for i, delivery in enumerate(batch) if not delivery.done), len(batch))
        for _ in range(len(batch) - first):
            self._unacked.pop()  # the batch is the queue's tail
        self._metrics.in_flight.dec(len(batch) - first)
        if not self._unacked:
            self._all_acked.set()

    def _ack_ready(self) -> None:
        """Step 4: acknowledge the done deliveries at the head of the queue, in one call."""
        unacked = self._unacked
        ready: list[Delivery] = []
        while unacked and unacked[0].done:
            ready.append(unacked.popleft())
        if ready:
            self._source.ack(ready)
            self._metrics.in_flight.dec(len(ready))
        if not unacked:
            self._all_acked.set()

    async def _drain(self) -> None:
        """Give records already submitted a moment to become durable, and acknowledge them."""
        dropped = len(self._inbox)
        self._inbox.clear()  # never submitted: the broker will redeliver them
        self._metrics.in_flight.dec(dropped)
        if self._unacked:
            try:
                await asyncio.wait_for(self._all_acked.wait(), DRAIN_TIMEOUT_S)
            except TimeoutError:
                log.warning(
                    "stopping with %d messages not yet on Kafka; the broker will redeliver them",
                    len(self._unacked),
                )
