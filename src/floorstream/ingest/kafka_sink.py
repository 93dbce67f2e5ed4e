"""The record sink on aiokafka: a record is retried until Kafka acknowledges it.

While Kafka is away the gateway acknowledges nothing to MQTT, so the broker holds the messages
(backpressure) and the gateway's memory stays bounded by the MQTT receive maximum. The outage is
logged once when it starts and once, with a summary, when it ends.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from functools import partial

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from floorstream.ingest.metrics import GatewayMetrics
from floorstream.ingest.types import Record

log = logging.getLogger(__name__)

RETRY_DELAY_S = 0.5
MAX_RETRY_DELAY_S = 5.0


class KafkaSink:
    """`RecordSink` on an aiokafka producer (acks=all)."""

    def __init__(
        self,
        bootstrap: str,
        metrics: GatewayMetrics,
        *,
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
        self._metrics = metrics
        self._retries: set[asyncio.Task[None]] = set()
        self._outage_since: float | None = None
        self._retried = 0
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
            self._recovered()
            return True
        return False

    async def submit(self, record: Record, on_durable: Callable[[], None]) -> None:
        while True:
            try:
                future = await self._producer.send(record.topic, record.value, key=record.key)
            except KafkaError as error:
                self._outage(error)
                await asyncio.sleep(self._delay)
                self._retried += 1
                continue
            future.add_done_callback(partial(self._settled, record, on_durable))
            return

    async def stop(self) -> None:
        for task in list(self._retries):
            task.cancel()
        try:
            await asyncio.wait_for(self._producer.stop(), 10)
        except (TimeoutError, KafkaError) as error:
            log.warning("kafka producer did not close cleanly: %s", error)

    def _settled(
        self, record: Record, on_durable: Callable[[], None], future: asyncio.Future[object]
    ) -> None:
        if future.cancelled():
            return
        error = future.exception()
        if error is None:
            self._recovered()
            on_durable()
            return
        self._outage(error)
        task = asyncio.get_running_loop().create_task(self._retry(record, on_durable))
        self._retries.add(task)
        task.add_done_callback(self._retries.discard)

    async def _retry(self, record: Record, on_durable: Callable[[], None]) -> None:
        await asyncio.sleep(self._delay)
        self._retried += 1
        await self.submit(record, on_durable)

    def _outage(self, error: BaseException) -> None:
        if self._outage_since is None:
            self._outage_since = time.monotonic()
            self._metrics.kafka_up.set(0)
            log.warning(
                "kafka is unavailable (%s: %s); holding messages unacknowledged until it returns",
                type(error).__name__,
                error,
            )
        self._delay = min(self._delay * 2, MAX_RETRY_DELAY_S)

    def _recovered(self) -> None:
        self._delay = RETRY_DELAY_S
        self._metrics.kafka_up.set(1)
        if self._outage_since is not None:
            log.warning(
                "kafka is back after %.1fs; %d sends retried",
                time.monotonic() - self._outage_since,
                self._retried,
            )
            self._outage_since = None
            self._retried = 0


async def _sleep_or_stop(delay: float, stop: asyncio.Event) -> None:
    try:
        await asyncio.wait_for(stop.wait(), delay)
    except TimeoutError:
        pass
