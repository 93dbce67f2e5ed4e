"""`validate_kafka_record`, the gateway's path: the same verdict, the same bytes and the same
``ts`` as `validate_message` followed by ``kafka_key``, ``to_kafka_value`` and ``ts``."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas import InvalidMessage, Kind, validate_kafka_record, validate_message
from tests.unit.schemas.examples import CONTRACT_EXAMPLES, topic
from tests.unit.schemas.test_validation import near_payloads, topics


def _both(topic_name: str, payload: bytes) -> tuple[object, object]:
    try:
        event = validate_message(topic_name, payload)
        slow: object = (event.kafka_key, event.to_kafka_value(), event.ts)
    except InvalidMessage as error:
        slow = (error.reason, error.detail)
    try:
        fast: object = validate_kafka_record(topic_name, payload)
    except InvalidMessage as error:
        fast = (error.reason, error.detail)
    return slow, fast


EXTRAS: list[dict[str, Any]] = [
    {},
    {"firmware": "2.1", "nested": {"a": [1, 2.5, None]}, "ünïcode": "温度"},
    {"line": "l1", "factory": "f1"},  # repeating the topic: dropped
    {"station": "other"},  # contradicting the topic: conflicting_field
    {"kind": "machine", "shift": 3},
]


@pytest.mark.parametrize("extra", EXTRAS)
@pytest.mark.parametrize(
    ("kind", "payload"),
    [(kind, payload) for kind, payloads in CONTRACT_EXAMPLES.items() for payload in payloads],
)
def test_the_contract_examples_give_the_same_bytes(
    kind: Kind, payload: dict[str, Any], extra: dict[str, Any]
) -> None:
    slow, fast = _both(topic(kind), json.dumps(payload | extra).encode())
    assert fast == slow


def test_a_topic_with_other_names_gives_its_own_key_and_routing() -> None:
    payload = json.dumps(CONTRACT_EXAMPLES[Kind.MACHINE][0]).encode()
    slow, fast = _both("floor/v1/plant-7/line_02/press-3/machine", payload)
    assert fast == slow
    key, value, _ = validate_kafka_record("floor/v1/plant-7/line_02/press-3/machine", payload)
    assert key == b"plant-7/line_02" and json.loads(value)["station"] == "press-3"


@given(topics, st.binary(max_size=300) | near_payloads)
def test_any_bytes_give_the_same_verdict_and_bytes(topic_name: str, payload: bytes) -> None:
    slow, fast = _both(topic_name, payload)
    assert fast == slow
