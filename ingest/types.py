"""The gateway's vocabulary and its two small interfaces: where messages come from, where
records go.

Errors::

    IngestError
    └── SinkClosed    the record sink was stopped while a record still waited for Kafka

Policy for bad input: a message that breaks the contract is never dropped and never stops the
gateway; it becomes a dead-letter record (``floor.events.dlq.v1``) with the reason, and is
acknowledged to MQTT only once that record is on Kafka, like any other.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol


class IngestError(Exception):
    """Root of the gateway's errors."""


class SinkClosed(IngestError):
    """The record sink was stopped while a record still waited for Kafka."""


@dataclass(slots=True)
class Delivery:
    """One MQTT message, from its arrival until its acknowledgement.

    ``session`` numbers the MQTT connection it arrived on: an acknowledgement is only meaningful
    on that connection (after a reconnect the broker redelivers what was not acknowledged).
    """

    topic: str
    payload: bytes
    mid: int
    session: int
    received_at: float = 0.0
    done: bool = field(default=False)


@dataclass(frozen=True, slots=True)
class Record:
    """What goes to Kafka for one delivery."""

    topic: str
    key: bytes
    value: bytes


class MessageSource(Protocol):
    """The MQTT side: messages arrive through a callback; each is acknowledged once, in order."""

    def start(self, deliver: Callable[[list[Delivery]], None]) -> None:
        """Connect and subscribe; ``deliver`` is called on the event loop with each batch."""

    def ack(self, deliveries: Sequence[Delivery]) -> None:
        """Acknowledge deliveries to the broker, in the order given (those whose session has
        ended are skipped)."""

    def stop(self) -> None:
        """Disconnect, leaving unacknowledged messages to the broker for redelivery."""


class OutageLog(Protocol):
    """How an adapter reports its server going away and coming back (the wiring point passes
    `services.runtime.outage.Outage`, which logs once, then a summary)."""

    @property
    def away(self) -> bool:
        """True from the first failure until `recovered`."""

    def failed(self, error: BaseException | str) -> None:
        """One more failed attempt."""

    def recovered(self, note: str = "") -> None:
        """The server answers again (``note``: what was done about it, for the log line)."""


@dataclass(frozen=True, slots=True)
class Placed:
    """Where Kafka put records it acknowledged together: consecutive offsets from ``offset``."""

    topic: str
    partition: int
    offset: int


class Durable(Protocol):
    """Called with the positions (in the submission) of records Kafka has just acknowledged,
    and where it put them (None where the sink cannot say)."""

    def __call__(self, positions: Sequence[int], placed: Placed | None = None) -> None: ...


class RecordSink(Protocol):
    """The Kafka side: records are submitted, and ``on_durable`` runs once Kafka has them."""

    async def submit(self, records: Sequence[Record], on_durable: Durable) -> None:
        """Hand records over; may wait (backpressure). Retries until Kafka acknowledges.

        ``on_durable`` is called with the positions in ``records`` that Kafka has just
        acknowledged, once per position, possibly before ``submit`` returns. If ``submit`` is
        cancelled, part of the records may have been handed over already."""

    async def stop(self) -> None:
        """Flush what can be flushed and close."""
