"""Fakes of the gateway's two interfaces, for tests without servers."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

from ingest.types import Delivery, Record


class FakeSource:
    """A `MessageSource` the test feeds by hand; it records acknowledgements."""

    def __init__(self) -> None:
        self.deliver: Callable[[list[Delivery]], None] | None = None
        self.acked: list[int] = []
        self.stopped = False
        self._mid = 0

    def start(self, deliver: Callable[[list[Delivery]], None]) -> None:
        self.deliver = deliver

    def publish(self, topic: str, payload: bytes, session: int = 1) -> Delivery:
        assert self.deliver is not None, "the gateway has not started the source"
        self._mid += 1
        delivery = Delivery(topic, payload, self._mid, session)
        self.deliver([delivery])
        return delivery

    def ack(self, deliveries: Sequence[Delivery]) -> None:
        self.acked.extend(delivery.mid for delivery in deliveries)

    def stop(self) -> None:
        self.stopped = True


class FakeSink:
    """A `RecordSink` whose records become durable when the test says so (``capacity``: records
    it takes before `submit` waits for ever; ``waiting``: submits waiting for room now)."""

    def __init__(self, *, capacity: int | None = None) -> None:
        self.records: list[Record] = []
        self._callbacks: list[tuple[Callable[[Sequence[int]], None], int]] = []
        self._room = asyncio.Semaphore(capacity) if capacity else None
        self.waiting = 0
        self.stopped = False

    async def submit(
        self, records: Sequence[Record], on_durable: Callable[[Sequence[int]], None]
    ) -> None:
        for position, record in enumerate(records):
            if self._room is not None:
                self.waiting += 1  # seen by others only while acquire waits: it yields then only
                try:
                    await self._room.acquire()
                finally:
                    self.waiting -= 1
            self.records.append(record)
            self._callbacks.append((on_durable, position))

    def make_durable(self, index: int) -> None:
        """Kafka acknowledges the ``index``-th record submitted."""
        on_durable, position = self._callbacks[index]
        on_durable([position])

    async def stop(self) -> None:
        self.stopped = True
