"""Events: the Kafka value, reading it back, routing, and properties over generated events."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from schemas import (
    EVENT_BY_KIND,
    MODEL_BY_KIND,
    ROUTING_FIELDS,
    DeadLetterReason,
    InvalidMessage,
    Kind,
    MachineEvent,
    MachinePayload,
    MachineState,
    OrderPayload,
    TopicAddress,
    parse_kafka_value,
    route,
    validate_message,
)
from tests.unit.schemas.examples import CONTRACT_EXAMPLES, topic

R = DeadLetterReason


def test_every_kind_has_a_payload_model_and_an_event_model() -> None:
    assert set(MODEL_BY_KIND) == set(Kind) == set(EVENT_BY_KIND)
    for kind, event_model in EVENT_BY_KIND.items():
        assert issubclass(event_model, MODEL_BY_KIND[kind])


def test_the_kafka_value_is_the_event_with_its_routing_added() -> None:
    payload = {**CONTRACT_EXAMPLES[Kind.MACHINE][1], "plc": {"program": "A7"}}
    event = validate_message(topic(Kind.MACHINE), json.dumps(payload).encode())

    assert json.loads(event.to_kafka_value()) == {
        "factory": "f1",
        "line": "l1",
        "station": "s1",
        "kind": "machine",
        "event_id": "m-2",
        "ts": "2026-11-02T07:12:00+08:00",
        "state": "down",
        "reason": "jam",
        "plc": {"program": "A7"},
    }
    assert event.kafka_key == b"f1/l1"
    assert event.address == TopicAddress("f1", "l1", "s1", Kind.MACHINE)


@pytest.mark.parametrize(
    ("kind", "payload"),
    [(kind, example) for kind, examples in CONTRACT_EXAMPLES.items() for example in examples],
)
def test_contract_examples_survive_the_kafka_round_trip(
    kind: Kind, payload: dict[str, Any]
) -> None:
    event = validate_message(topic(kind), json.dumps(payload).encode())

    back = parse_kafka_value(event.to_kafka_value())

    assert back == event
    assert type(back) is type(event)
    assert back.ts.utcoffset() == timedelta(hours=8)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (b"not json", R.NOT_JSON),
        (b"[]", R.NOT_OBJECT),
        (b'{"event_id": "m"}', R.MISSING_FIELD),
        (b'{"kind": "robot", "event_id": "m"}', R.UNKNOWN_KIND),
        (b'{"kind": 7}', R.UNKNOWN_KIND),
    ],
)
def test_a_value_that_is_not_an_event_raises_invalid_message(
    value: bytes, reason: DeadLetterReason
) -> None:
    with pytest.raises(InvalidMessage) as caught:
        parse_kafka_value(value)

    assert caught.value.reason is reason


def test_a_bad_field_of_a_record_is_named_without_the_kind_tag() -> None:
    event = validate_message(
        topic(Kind.MACHINE), json.dumps(CONTRACT_EXAMPLES[Kind.MACHINE][0]).encode()
    )
    record = json.loads(event.to_kafka_value())

    with pytest.raises(InvalidMessage) as caught:
        parse_kafka_value(json.dumps({**record, "state": "asleep"}).encode())

    assert caught.value.reason is R.UNKNOWN_VALUE
    assert caught.value.detail.startswith("field 'state': 'asleep'")


def test_a_record_needs_valid_routing() -> None:
    event = validate_message(
        topic(Kind.MACHINE), json.dumps(CONTRACT_EXAMPLES[Kind.MACHINE][0]).encode()
    )
    record = json.loads(event.to_kafka_value())

    for name in ("factory", "line", "station"):
        with pytest.raises(InvalidMessage) as caught:
            parse_kafka_value(json.dumps({**record, name: "Bad Name"}).encode())
        assert f"field '{name}'" in caught.value.detail


def test_route_keeps_a_routing_field_that_agrees_and_refuses_one_that_does_not() -> None:
    address = TopicAddress("f1", "l1", "s1", Kind.MACHINE)
    agreeing = MachinePayload.model_validate_json(
        '{"event_id": "m", "ts": "2026-11-02T06:00:00Z", "state": "idle", "factory": "f1"}'
    )
    disagreeing = MachinePayload.model_validate_json(
        '{"event_id": "m", "ts": "2026-11-02T06:00:00Z", "state": "idle", "station": "s2"}'
    )

    assert route(agreeing, address).factory == "f1"
    with pytest.raises(InvalidMessage) as caught:
        route(disagreeing, address)
    assert caught.value.reason is R.CONFLICTING_FIELD
    assert "'station'" in caught.value.detail


def test_python_callers_build_payloads_with_plain_values() -> None:
    payload = MachinePayload(event_id="m", ts=datetime(2026, 11, 2, tzinfo=UTC), state="idle")

    assert payload.state is MachineState.IDLE
    assert MachinePayload.model_validate_json(payload.model_dump_json()) == payload


def test_a_naive_datetime_is_refused_from_python_too() -> None:
    with pytest.raises(ValidationError):
        MachinePayload(event_id="m", ts=datetime(2026, 11, 2), state="idle")  # noqa: DTZ001


def test_events_are_frozen() -> None:
    event = validate_message(
        topic(Kind.MACHINE), json.dumps(CONTRACT_EXAMPLES[Kind.MACHINE][0]).encode()
    )

    assert isinstance(event, MachineEvent)
    with pytest.raises(ValidationError):
        event.state = MachineState.DOWN  # type: ignore[misc]


def test_an_order_start_needs_product_and_target_but_not_cycle_time() -> None:
    ts = datetime(2026, 11, 2, tzinfo=UTC)
    OrderPayload(
        event_id="o", ts=ts, action="start", order_id="W", product_id="p", target_quantity=1
    )
    with pytest.raises(ValidationError, match="product_id"):
        OrderPayload(event_id="o", ts=ts, action="start", order_id="W", target_quantity=1)


# Generated events -------------------------------------------------------------------------

offsets = st.integers(-(24 * 60 - 1), 24 * 60 - 1).map(lambda m: timezone(timedelta(minutes=m)))
# hypothesis takes naive bounds and adds the generated offset itself.
# Floor time is 2000–2099 (schemas.types.EARLIEST_TS, LATEST_TS); a day's margin for offsets.
timestamps = st.datetimes(
    min_value=datetime(2000, 1, 2),  # noqa: DTZ001
    max_value=datetime(2099, 12, 30),  # noqa: DTZ001
    timezones=offsets,
)


# Any characters but U+0000, which PostgreSQL text cannot hold (refused by the contract),
# and lone surrogates, which are not characters (UTF-8 cannot carry them; JSON's \uD800
# escape of one is refused as not_json: test_validation.py's INVALID table).
def _text(**size: int) -> st.SearchStrategy[str]:
    return st.text(st.characters(codec="utf-8", exclude_characters="\x00"), **size)


identifiers = _text(min_size=1, max_size=128)
counts = st.integers(0, 1_000_000_000)
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=10,
)
segments = st.from_regex(r"[a-z0-9_-]{1,64}", fullmatch=True)


def _optional(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.none() | strategy


FIELDS: dict[Kind, st.SearchStrategy[dict[str, Any]]] = {
    Kind.MACHINE: st.fixed_dictionaries(
        {"state": st.sampled_from([s.value for s in MachineState])},
        optional={"reason": _optional(_text(max_size=40))},
    ),
    Kind.PRODUCTION: st.fixed_dictionaries({"good": counts}, optional={"scrap": counts}),
    Kind.PEOPLE: st.fixed_dictionaries(
        {"action": st.sampled_from(["check_in", "check_out"]), "operator_id": identifiers},
        optional={"role": _optional(_text(max_size=20))},
    ),
    Kind.MATERIAL: st.fixed_dictionaries(
        {
            "action": st.sampled_from(["loaded", "consumed", "level", "shortage", "replenished"]),
            "material_id": identifiers,
        },
        optional={
            "quantity": _optional(st.floats(0, 1e12) | st.integers(0, 10**9)),
            "unit": _optional(_text(max_size=8)),
        },
    ),
    Kind.ORDER: st.fixed_dictionaries(
        {
            "action": st.just("start"),
            "order_id": identifiers,
            "product_id": identifiers,
            "target_quantity": st.integers(1, 10**9),
        },
        optional={"ideal_cycle_time_s": _optional(st.floats(1e-6, 1e6))},
    )
    | st.fixed_dictionaries({"action": st.just("end"), "order_id": identifiers}),
}


@st.composite
def messages(draw: st.DrawFn) -> tuple[TopicAddress, dict[str, Any], datetime]:
    kind = draw(st.sampled_from(Kind))
    address = TopicAddress(draw(segments), draw(segments), draw(segments), kind)
    ts = draw(timestamps)
    declared = set(EVENT_BY_KIND[kind].model_fields) | set(ROUTING_FIELDS)
    extra_keys = st.text(max_size=12).filter(lambda key: key not in declared)
    extras = draw(st.dictionaries(extra_keys, json_values, max_size=4))
    payload = {**extras, "event_id": draw(identifiers), "ts": ts.isoformat(), **draw(FIELDS[kind])}
    return address, payload, ts


@given(messages())
def test_valid_events_survive_the_kafka_round_trip_unchanged(
    message: tuple[TopicAddress, dict[str, Any], datetime],
) -> None:
    address, payload, ts = message

    event = validate_message(address.mqtt_topic, json.dumps(payload).encode())
    back = parse_kafka_value(event.to_kafka_value())

    assert back == event
    assert back.address == address
    assert back.ts == ts and back.ts.utcoffset() == ts.utcoffset()
    extras = {key: value for key, value in payload.items() if key not in type(event).model_fields}
    assert back.model_extra == extras
    record = json.loads(event.to_kafka_value())
    assert {key: record[key] for key in extras} == extras
