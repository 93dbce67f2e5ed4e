"""The gateway's one call, `validate_message`, and the dead-letter record of a message it refuses.

Checks run in this order, and the first that fails names the reason:

1. size: more than 64 KiB is ``payload_too_large`` (the bytes are not even read);
2. topic: ``bad_topic_prefix``, ``topic_too_short``, ``topic_too_deep``,
   ``bad_topic_segment``, ``unknown_kind``;
3. UTF-8: ``not_utf8``;
4. JSON: ``not_json`` (NaN and Infinity are not JSON);
5. one object: ``not_object``;
6. fields: ``missing_field``, ``wrong_type``, ``bad_timestamp``, ``unknown_value``,
   ``negative_count``, ``out_of_range``, ``conflicting_field``, ``invalid_field``.

A valid message costs one pass of pydantic's JSON parser; the diagnosis of a bad one is slower
and only runs when validation has already failed. `validate_kafka_record` runs the same checks
and returns the event's Kafka key and value directly, without building the routed event: the
gateway's path. It returns the parsed ``ts`` too, for the one check that needs a clock and is
therefore the gateway's, not this module's: ``from_the_future`` (`ingest.routing`).
"""

from __future__ import annotations

import base64
import json
from datetime import datetime
from functools import lru_cache
from typing import Final, Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from schemas.errors import InvalidMessage
from schemas.events import MODEL_BY_KIND, ROUTING_FIELDS, Event, EventPayload, route
from schemas.explain import explain_validation_error
from schemas.topics import TopicAddress, parse_topic
from schemas.types import MAX_PAYLOAD_BYTES, DeadLetterReason

__all__ = ["DEAD_LETTER_PAYLOAD_LIMIT", "DeadLetter", "validate_kafka_record", "validate_message"]

DEAD_LETTER_PAYLOAD_LIMIT: Final = 512 * 1024
"""Bytes of a refused payload kept in its dead-letter record.

An MQTT payload may reach 256 MiB; Kafka refuses records over about 1 MB by default. Keeping
the first 512 KiB (about 700 kB in base64) lets every dead letter be written, so that an
oversized message cannot stall the gateway; ``payload_size`` tells the original size.
"""


def validate_message(topic: str, payload: bytes) -> Event:
    """Validate one MQTT message against the contract and route it.

    Returns:
        The typed event with ``factory``, ``line``, ``station`` and ``kind`` from the topic,
        ready for `Event.to_kafka_value`.

    Raises:
        InvalidMessage: the message breaks the contract; ``reason`` says how (see the module
            docstring for the order of checks), ``detail`` says where.
    """
    address, validated = _validate(topic, payload)
    return route(validated, address)


def validate_kafka_record(topic: str, payload: bytes) -> tuple[bytes, bytes, datetime]:
    """Validate one MQTT message as `validate_message` does; return its Kafka key and value,
    and its ``ts``.

    The same bytes as ``event.kafka_key`` and ``event.to_kafka_value()`` of the event
    `validate_message` returns (the routing fields first, then the payload's fields and its
    extra ones), from the validated payload and the topic, without building the routed event;
    ``ts`` as parsed (timezone-aware, with the sender's offset), for the gateway's clock check.

    Raises:
        InvalidMessage: as `validate_message`.
    """
    address, validated = _validate(topic, payload)
    extra = validated.__pydantic_extra__
    if extra and not extra.keys().isdisjoint(ROUTING_FIELDS):  # repeated routing: the slow way
        event = route(validated, address)
        return event.kafka_key, event.to_kafka_value(), event.ts
    key, head = _routing_json(address)
    body = validated.__pydantic_serializer__.to_json(validated)
    return key, head + body[1:], validated.ts


@lru_cache(maxsize=8192)
def _routing_json(address: TopicAddress) -> tuple[bytes, bytes]:
    """The Kafka key of an address, and the start of its events' JSON up to the payload."""
    # In the order the routed events serialize them (tests/unit/schemas compares the bytes).
    routing = {
        "factory": address.factory,
        "line": address.line,
        "station": address.station,
        "kind": address.kind.value,
    }
    text = json.dumps(routing, ensure_ascii=False, separators=(",", ":"))
    return address.kafka_key_bytes, text[:-1].encode() + b","


def _validate(topic: str, payload: bytes) -> tuple[TopicAddress, EventPayload]:
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise InvalidMessage(
            DeadLetterReason.PAYLOAD_TOO_LARGE,
            f"payload is {len(payload)} bytes; at most {MAX_PAYLOAD_BYTES} are allowed",
        )
    address = parse_topic(topic)
    try:
        text = payload.decode()
    except UnicodeDecodeError as error:
        raise InvalidMessage(
            DeadLetterReason.NOT_UTF8,
            f"payload is not UTF-8: byte {error.start} is {payload[error.start]:#04x}",
        ) from None
    if "NaN" in text or "Infinity" in text:
        _refuse_non_standard_json(text)
    try:
        validated = MODEL_BY_KIND[address.kind].model_validate_json(text)
    except ValidationError as error:
        raise _diagnose(text, error) from None
    return address, validated


def _refuse_non_standard_json(text: str) -> None:
    # pydantic's parser reads NaN and Infinity, which JSON has no words for and which
    # would not survive the trip to Kafka.
    def refuse(constant: str) -> float:
        raise InvalidMessage(
            DeadLetterReason.NOT_JSON, f"payload is not valid JSON: {constant} is not a number"
        )

    try:
        json.loads(text, parse_constant=refuse)
    except (ValueError, RecursionError):
        pass  # not JSON for another reason, which validation will report


def _diagnose(text: str, error: ValidationError) -> InvalidMessage:
    if text.startswith("\ufeff"):
        return InvalidMessage(
            DeadLetterReason.NOT_JSON,
            "payload starts with a byte order mark (EF BB BF); send plain UTF-8 JSON",
        )
    return explain_validation_error(error)


class DeadLetter(BaseModel):
    """A message that broke the contract, as written to ``floor.events.dlq.v1``.

    ``topic``, ``payload_b64``, ``reason`` and ``received_at`` are the contract's fields;
    ``detail`` and ``payload_size`` are added so that an integrator can see what to fix.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", title="DeadLetter")

    topic: str = Field(description="The MQTT topic the message came on.")
    payload_b64: str = Field(
        description="The payload's raw bytes in standard base64; the first "
        f"{DEAD_LETTER_PAYLOAD_LIMIT} bytes of a larger one."
    )
    reason: DeadLetterReason = Field(description="Stable code of what was wrong.")
    detail: str = Field(description="Which field and what was wrong, in plain words.")
    received_at: AwareDatetime = Field(description="When the gateway received the message.")
    payload_size: int = Field(ge=0, description="Size of the original payload in bytes.")

    @classmethod
    def from_invalid(
        cls, topic: str, payload: bytes, error: InvalidMessage, received_at: datetime
    ) -> Self:
        """Build the record of a refused message; ``received_at`` must be timezone-aware."""
        return cls(
            # An MQTT client may hand over lone surrogates; a record must still encode.
            topic=topic.encode("utf-8", "replace").decode(),
            payload_b64=base64.b64encode(payload[:DEAD_LETTER_PAYLOAD_LIMIT]).decode("ascii"),
            reason=error.reason,
            detail=error.detail,
            received_at=received_at,
            payload_size=len(payload),
        )

    @property
    def kafka_key(self) -> bytes:
        """The MQTT topic as bytes: the key on ``floor.events.dlq.v1``."""
        return self.topic.encode()

    @property
    def payload(self) -> bytes:
        """The payload bytes kept in this record."""
        return base64.b64decode(self.payload_b64)

    def to_kafka_value(self) -> bytes:
        """The record as JSON bytes."""
        return self.__pydantic_serializer__.to_json(self)
