"""Topic names and the MQTT topic of a line's events (docs/contract.md §3–§4).

An MQTT topic ``floor/v1/{factory}/{line}/{station}/{kind}`` becomes a `TopicAddress`; its
Kafka key ``{factory}/{line}`` keeps one line's events in order on one partition.

`parse_topic` runs once per message in the gateway, so it is plain string work with a
precompiled regex and a cache of the topics seen; a plant has a bounded set of stations.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Final

from schemas.errors import InvalidMessage
from schemas.types import MAX_SEGMENT_LENGTH, SEGMENT_REGEX, DeadLetterReason, Kind

__all__ = [
    "DLQ_TOPIC",
    "EVENTS_TOPIC",
    "MQTT_SHARED_SUBSCRIPTION",
    "MQTT_SUBSCRIPTION",
    "MQTT_TOPIC_PREFIX",
    "SHARED_SUBSCRIPTION_GROUP",
    "TopicAddress",
    "parse_topic",
]

EVENTS_TOPIC: Final = "floor.events.v1"
"""Kafka topic of validated events, keyed by ``{factory}/{line}``."""

DLQ_TOPIC: Final = "floor.events.dlq.v1"
"""Kafka topic of messages that broke the contract, keyed by their MQTT topic."""

MQTT_TOPIC_PREFIX: Final = "floor/v1"
MQTT_SUBSCRIPTION: Final = "floor/v1/#"
SHARED_SUBSCRIPTION_GROUP: Final = "floorstream"
MQTT_SHARED_SUBSCRIPTION: Final = f"$share/{SHARED_SUBSCRIPTION_GROUP}/{MQTT_SUBSCRIPTION}"
"""What N gateways subscribe to, so that the broker spreads the messages among them."""

_PREFIX_LEVELS: Final = ("floor", "v1")
_LEVELS: Final = 6  # floor, v1, factory, line, station, kind
_SEGMENT_NAMES: Final = ("factory", "line", "station")
_KINDS: Final = {kind.value: kind for kind in Kind}
_SHOWN_CHARS: Final = 80  # topics are echoed in details; a huge one is cut


@dataclass(frozen=True, slots=True)
class TopicAddress:
    """Where an event comes from: factory, line, station and kind.

    Build one with `parse_topic`, or from values that are already valid; the constructor does
    not check them again.
    """

    factory: str
    line: str
    station: str
    kind: Kind

    @property
    def kafka_key(self) -> str:
        """``{factory}/{line}``: one line's events share a partition and stay in order."""
        return f"{self.factory}/{self.line}"

    @property
    def kafka_key_bytes(self) -> bytes:
        """`kafka_key` encoded as the Kafka producer wants it."""
        return self.kafka_key.encode()

    @property
    def mqtt_topic(self) -> str:
        """The MQTT topic this address is published under."""
        return f"{MQTT_TOPIC_PREFIX}/{self.factory}/{self.line}/{self.station}/{self.kind.value}"


def parse_topic(topic: str) -> TopicAddress:
    """Read ``floor/v1/{factory}/{line}/{station}/{kind}`` into a `TopicAddress`.

    Raises:
        InvalidMessage: with reason ``bad_topic_prefix``, ``topic_too_short``,
            ``topic_too_deep``, ``bad_topic_segment`` or ``unknown_kind``.
    """
    return _parse_topic_cached(topic)


@lru_cache(maxsize=8192)
def _parse_topic_cached(topic: str) -> TopicAddress:
    # A raised error is not cached, so only valid (and therefore short) topics fill the cache.
    parts = topic.split("/", _LEVELS)
    if tuple(parts[:2]) != _PREFIX_LEVELS:
        raise InvalidMessage(
            DeadLetterReason.BAD_TOPIC_PREFIX,
            f"topic {_shown(topic)} does not start with '{MQTT_TOPIC_PREFIX}/'",
        )
    if len(parts) < _LEVELS:
        raise InvalidMessage(
            DeadLetterReason.TOPIC_TOO_SHORT,
            f"topic {_shown(topic)} has {len(parts)} levels; expected "
            f"{MQTT_TOPIC_PREFIX}/{{factory}}/{{line}}/{{station}}/{{kind}}",
        )
    if len(parts) > _LEVELS:
        raise InvalidMessage(
            DeadLetterReason.TOPIC_TOO_DEEP,
            f"topic {_shown(topic)} has more than {_LEVELS} levels; expected "
            f"{MQTT_TOPIC_PREFIX}/{{factory}}/{{line}}/{{station}}/{{kind}}",
        )
    _, _, factory, line, station, kind_name = parts
    for name, segment in zip(_SEGMENT_NAMES, (factory, line, station), strict=True):
        if SEGMENT_REGEX.fullmatch(segment) is None:
            raise InvalidMessage(
                DeadLetterReason.BAD_TOPIC_SEGMENT, _segment_problem(name, segment)
            )
    kind = _KINDS.get(kind_name)
    if kind is None:
        raise InvalidMessage(
            DeadLetterReason.UNKNOWN_KIND,
            f"kind {_shown(kind_name)} is not one of {', '.join(_KINDS)}",
        )
    return TopicAddress(factory, line, station, kind)


def _segment_problem(name: str, segment: str) -> str:
    rule = f"must be 1–{MAX_SEGMENT_LENGTH} characters of a-z, 0-9, '-' and '_'"
    if not segment:
        return f"{name} is empty; it {rule}"
    if len(segment) > MAX_SEGMENT_LENGTH:
        return f"{name} {_shown(segment)} is {len(segment)} characters long; it {rule}"
    return f"{name} {_shown(segment)} has characters that are not allowed; it {rule}"


def _shown(text: str) -> str:
    if len(text) > _SHOWN_CHARS:
        text = text[:_SHOWN_CHARS] + "…"
    return repr(text)
