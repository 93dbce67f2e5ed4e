"""Fakes of the gateway's two interfaces, for tests without servers."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from floorstream.ingest.types import Delivery, Record


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

    def ack(self, delivery: Delivery) -> None:
        self.acked.append(delivery.mid)

    def stop(self) -> None:
        self.stopped = True


class FakeSink:
    """A `RecordSink` whose records become durable when the test says so."""

    def __init__(self, *, capacity: int | None = None) -> None:
        self.records: list[Record] = []
        self._callbacks: list[Callable[[], None]] = []
        self._room = asyncio.Semaphore(capacity) if capacity else None
        self.stopped = False

    async def submit(self, record: Record, on_durable: Callable[[], None]) -> None:
        if self._room is not None:
            await self._room.acquire()
        self.records.append(record)
        self._callbacks.append(on_durable)

    def make_durable(self, index: int) -> None:
        self._callbacks[index]()

    async def stop(self) -> None:
        self.stopped = True
