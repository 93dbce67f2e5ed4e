"""The gateway's delivery protocol. For each MQTT message, in arrival order:

1. validate it against the contract: a valid event becomes a record for ``floor.events.v1``
   keyed ``{factory}/{line}``; anything else a dead-letter record with its reason;
2. submit the record to Kafka; waiting here while Kafka is slow or away is the backpressure;
3. when Kafka has acknowledged the record, mark the delivery done;
4. acknowledge to MQTT every done delivery at the head of the queue, in arrival order (MQTT wants
   PUBACKs in the order of the PUBLISHes).

Nothing is acknowledged before step 3, so a gateway killed at any instant loses nothing: the
broker redelivers what was not acknowledged, and processors drop the duplicates by ``event_id``.
The queue is bounded by the broker, which sends at most ``receive maximum`` unacknowledged
messages (MQTT v5).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime

from floorstream.ingest.metrics import GatewayMetrics
from floorstream.ingest.routing import route
from floorstream.ingest.types import Delivery, MessageSource, RecordSink

log = logging.getLogger(__name__)

DRAIN_TIMEOUT_S = 5.0


class Gateway:
    """Moves messages from a source to a sink, acknowledging each only once it is durable."""

    def __init__(
        self,
        source: MessageSource,
        sink: RecordSink,
        metrics: GatewayMetrics,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._source = source
        self._sink = sink
        self._metrics = metrics
        self._clock = clock
        self._wall_clock = wall_clock
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
        try:
            await asyncio.wait({forwarding, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if forwarding.done():  # it never ends by itself: a bug; exit, and be restarted
                forwarding.result()
        finally:
            stopping.cancel()
            forwarding.cancel()  # may be waiting on an unreachable Kafka
            await asyncio.gather(
                forwarding, return_exceptions=True
            )  # its error, if any, is raised above
            await self._drain()
            self._source.stop()  # what is still unacknowledged stays with the broker
            await self._sink.stop()

    async def _forward_all(self) -> None:
        while True:
            self._arrived.clear()
            while self._inbox:
                await self._forward(self._inbox.popleft())
            await self._arrived.wait()

    async def _forward(self, delivery: Delivery) -> None:
        record, reason = route(delivery.topic, delivery.payload, self._wall_clock)

        def durable() -> None:
            delivery.done = True
            if reason is None:
                self._metrics.produced.inc()
            else:
                self._metrics.dead_lettered.labels(reason).inc()
            self._metrics.produce_latency.observe(self._clock() - delivery.received_at)
            self._ack_ready()

        try:
            await self._sink.submit(record, durable)
        except asyncio.CancelledError:
            self._inbox.appendleft(delivery)  # not handed over: left for the broker
            raise
        self._unacked.append(delivery)
        self._all_acked.clear()
        if delivery.done:  # a sink may confirm at once
            self._ack_ready()

    def _ack_ready(self) -> None:
        """Step 4: acknowledge the done deliveries at the head of the queue."""
        acked = 0
        while self._unacked and self._unacked[0].done:
            self._source.ack(self._unacked.popleft())
            acked += 1
        self._metrics.in_flight.dec(acked)
        if not self._unacked:
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
