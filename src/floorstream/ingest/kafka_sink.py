"""The record sink on aiokafka: a record is retried until Kafka acknowledges it.

While Kafka is away the gateway acknowledges nothing to MQTT, so the broker holds the messages
(backpressure) and the gateway's memory stays bounded by the MQTT receive maximum. The outage is
logged once when it starts, summarised at most once a minute while it lasts, and once more when
it ends (the `OutageLog` passed in).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from functools import partial

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from floorstream.ingest.metrics import GatewayMetrics
from floorstream.ingest.types import OutageLog, Record

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

    async def submit(self, record: Record, on_durable: Callable[[], None]) -> None:
        while True:
            try:
                future = await self._producer.send(record.topic, record.value, key=record.key)
            except KafkaError as error:
                self._outage(error)
                await asyncio.sleep(self._delay)
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
        await self.submit(record, on_durable)

    def _outage(self, error: BaseException) -> None:
        self._metrics.kafka_up.set(0)
        self._away.failed(error)
        self._delay = min(self._delay * 2, MAX_RETRY_DELAY_S)

    def _recovered(self) -> None:
        self._delay = RETRY_DELAY_S
        self._metrics.kafka_up.set(1)
        self._away.recovered()


async def _sleep_or_stop(delay: float, stop: asyncio.Event) -> None:
    try:
        await asyncio.wait_for(stop.wait(), delay)
    except TimeoutError:
        pass
