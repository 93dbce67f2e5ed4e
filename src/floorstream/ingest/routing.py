"""Step 1 of the delivery protocol: which Kafka record a message becomes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from floorstream.ingest.types import Record
from floorstream.schemas import (
    DLQ_TOPIC,
    EVENTS_TOPIC,
    DeadLetter,
    InvalidMessage,
    validate_message,
)


def route(topic: str, payload: bytes, now: Callable[[], datetime]) -> tuple[Record, str | None]:
    """The record for a message, and the dead-letter reason where it breaks the contract."""
    try:
        event = validate_message(topic, payload)
    except InvalidMessage as error:
        dead = DeadLetter.from_invalid(topic, payload, error, received_at=now())
        return Record(DLQ_TOPIC, dead.kafka_key, dead.to_kafka_value()), error.reason.value
    return Record(EVENTS_TOPIC, event.kafka_key, event.to_kafka_value()), None
