"""Step 1 of the delivery protocol: which Kafka record a message becomes."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from floorstream.ingest.types import Record
from floorstream.schemas import (
    DLQ_TOPIC,
    EVENTS_TOPIC,
    DeadLetter,
    InvalidMessage,
    validate_kafka_record,
)
from floorstream.schemas.types import DeadLetterReason

log = logging.getLogger(__name__)


def route(topic: str, payload: bytes, now: Callable[[], datetime]) -> tuple[Record, str | None]:
    """The record for a message, and the dead-letter reason where it breaks the contract."""
    try:
        key, value = validate_kafka_record(topic, payload)
    except InvalidMessage as error:
        return _dead_letter(topic, payload, error, now)
    except Exception as error:  # a validator bug must not stop the gateway (guarantee 4)
        log.exception("could not validate a message on %s; dead-lettering it", topic[:200])
        reason = InvalidMessage(
            DeadLetterReason.INVALID_FIELD,
            f"the gateway could not validate it ({type(error).__name__})",
        )
        return _dead_letter(topic, payload, reason, now)
    return Record(EVENTS_TOPIC, key, value), None


def _dead_letter(
    topic: str, payload: bytes, error: InvalidMessage, now: Callable[[], datetime]
) -> tuple[Record, str]:
    dead = DeadLetter.from_invalid(topic, payload, error, received_at=now())
    return Record(DLQ_TOPIC, dead.kafka_key, dead.to_kafka_value()), error.reason.value
