"""`parse_record`, the processors' decode, against `parse_kafka_value`, the contract's: for any
valid event the same fields, and for any record with a field changed to any JSON value the
same answer (the same fields, or a refusal with the same reason)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas import Event, InvalidMessage, parse_kafka_value, validate_message
from schemas.records import Record, parse_record
from schemas.topics import TopicAddress
from tests.unit.schemas.test_events import json_values, messages


def _fields(record: Record) -> dict[str, Any]:
    return {name: getattr(record, name) for name in record.__struct_fields__}


def _as_pydantic_reads(event: Event, record: Record) -> dict[str, Any]:
    return {name: getattr(event, name) for name in record.__struct_fields__}


def _value(message: tuple[TopicAddress, dict[str, Any], datetime]) -> bytes:
    address, payload, _ = message
    return validate_message(address.mqtt_topic, json.dumps(payload).encode()).to_kafka_value()


@given(messages())
def test_a_valid_event_reads_as_pydantic_reads_it(
    message: tuple[TopicAddress, dict[str, Any], datetime],
) -> None:
    value = _value(message)
    record = parse_record(value)

    event = parse_kafka_value(value)
    assert record.kind is event.kind
    assert _fields(record) == _as_pydantic_reads(event, record)
    assert record.ts.utcoffset() == event.ts.utcoffset()


@given(messages(), st.data())
def test_a_record_with_any_field_changed_gets_the_contracts_answer(
    message: tuple[TopicAddress, dict[str, Any], datetime], data: st.DataObject
) -> None:
    record = json.loads(_value(message))
    name = data.draw(st.sampled_from(sorted(record)))
    record[name] = data.draw(
        json_values | st.sampled_from(["", "\x00", "A", "2100-01-01T00:00:00Z"])
    )
    if data.draw(st.booleans()):
        del record[name]
    value = json.dumps(record).encode()

    try:
        expected = parse_kafka_value(value)
    except InvalidMessage as error:
        with pytest.raises(InvalidMessage) as caught:
            parse_record(value)
        assert (caught.value.reason, caught.value.detail) == (error.reason, error.detail)
    else:
        read = parse_record(value)
        assert read.kind is expected.kind
        assert _fields(read) == _as_pydantic_reads(expected, read)


@pytest.mark.parametrize(
    "ts",
    [
        "2026-11-02T06:00:00Z",
        "2026-11-02T06:00:00.123456+08:00",
        "2026-11-02T06:00:00.123456789Z",  # msgspec rounds the ninth digit; pydantic cuts it
        "2026-11-02 06:00:00Z",
        "2026-11-02t06:00:00z",
        "2026-11-02T06:00:00-00:00",
        "2026-11-02T06:00:00+0800",  # msgspec reads it; the contract does not
        "2026-11-02T06:00:00.5Z",
    ],
)
def test_any_form_of_ts_reads_as_the_contract_reads_it(ts: str) -> None:
    value = json.dumps(
        {"kind": "production", "factory": "f1", "line": "l1", "station": "s1",
         "event_id": "p", "ts": ts, "good": 1}
    ).encode()  # fmt: skip
    try:
        expected = parse_kafka_value(value)
    except InvalidMessage as error:
        with pytest.raises(InvalidMessage) as caught:
            parse_record(value)
        assert caught.value.reason is error.reason
    else:
        assert parse_record(value).ts == expected.ts


@pytest.mark.parametrize(
    "value",
    [
        b"not json",
        b"[]",
        b'{"kind": "robot"}',
        b'{"kind": "production", "factory": "f1", "line": "l1", "station": "s1",'
        b' "event_id": "p\\u0000", "ts": "2026-11-02T06:00:00Z", "good": 1}',
        b'{"kind": "production", "factory": "F1", "line": "l1", "station": "s1",'
        b' "event_id": "p", "ts": "2026-11-02T06:00:00Z", "good": 1}',
        b'{"kind": "production", "factory": "f1", "line": "l1", "station": "s1",'
        b' "event_id": "p", "ts": "2099-12-31T23:00:00-05:00", "good": 1}',
        b'{"kind": "order", "factory": "f1", "line": "l1", "station": "s1",'
        b' "event_id": "o", "ts": "2026-11-02T06:00:00Z", "action": "start", "order_id": "W"}',
    ],
)
def test_what_the_contract_refuses_is_refused_with_its_reason(value: bytes) -> None:
    with pytest.raises(InvalidMessage) as expected:
        parse_kafka_value(value)
    with pytest.raises(InvalidMessage) as caught:
        parse_record(value)

    assert (caught.value.reason, caught.value.detail) == (
        expected.value.reason,
        expected.value.detail,
    )
