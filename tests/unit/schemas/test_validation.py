"""validate_message: tables of valid and invalid messages, each invalid class with its reason."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas import (
    MAX_PAYLOAD_BYTES,
    DeadLetter,
    DeadLetterReason,
    InvalidMessage,
    Kind,
    MachineEvent,
    MachineState,
    OrderEvent,
    ProductionEvent,
    validate_message,
)
from schemas.validation import DEAD_LETTER_PAYLOAD_LIMIT
from tests.unit.schemas.examples import CONTRACT_EXAMPLES, topic

R = DeadLetterReason
TS = "2026-11-02T06:00:00+08:00"


def encode(payload: Any) -> bytes:
    return json.dumps(payload).encode()


def machine(**fields: Any) -> dict[str, Any]:
    return {"event_id": "m-1", "ts": TS, "state": "running", **fields}


def production(**fields: Any) -> dict[str, Any]:
    return {"event_id": "p-1", "ts": TS, "good": 58, "scrap": 2, **fields}


def people(**fields: Any) -> dict[str, Any]:
    return {"event_id": "h-1", "ts": TS, "action": "check_in", "operator_id": "op-17", **fields}


def material(**fields: Any) -> dict[str, Any]:
    return {"event_id": "x-1", "ts": TS, "action": "level", "material_id": "coil", **fields}


def order(**fields: Any) -> dict[str, Any]:
    base = {"event_id": "o-1", "ts": TS, "action": "start", "order_id": "WO-881"}
    return {**base, "product_id": "bracket-a", "target_quantity": 5000, **fields}


def without(payload: dict[str, Any], *names: str) -> dict[str, Any]:
    return {key: value for key, value in payload.items() if key not in names}


VALID: list[tuple[Kind, dict[str, Any]]] = [
    *((kind, example) for kind, examples in CONTRACT_EXAMPLES.items() for example in examples),
    *((Kind.MACHINE, machine(state=state.value)) for state in MachineState),
    (Kind.MACHINE, machine(ts="2026-11-02T06:00:00Z")),
    (Kind.MACHINE, machine(ts="2026-11-02t06:00:00z")),
    (Kind.MACHINE, machine(ts="2026-11-02 06:00:00-05:30")),
    (Kind.MACHINE, machine(ts="2026-11-02T06:00:00.123456+01:00")),
    (Kind.MACHINE, machine(reason=None)),
    (Kind.MACHINE, machine(event_id="e" * 128)),
    (Kind.MACHINE, machine(factory="f1", line="l1", station="s1", kind="machine")),
    (Kind.MACHINE, machine(plc={"program": "A7", "temps": [71.5, 72.0]}, shift=None)),
    (Kind.PRODUCTION, without(production(), "scrap")),
    (Kind.PRODUCTION, production(good=0, scrap=0)),
    (Kind.PEOPLE, people(action="check_out")),
    (Kind.MATERIAL, material(action="shortage")),
    (Kind.MATERIAL, material(action="loaded", quantity=12, unit="pcs")),
    (Kind.MATERIAL, material(action="consumed", quantity=0.5)),
    (Kind.MATERIAL, material(action="replenished")),
    (Kind.ORDER, without(order(), "ideal_cycle_time_s")),
    (Kind.ORDER, {"event_id": "o-2", "ts": TS, "action": "end", "order_id": "WO-881"}),
]


@pytest.mark.parametrize(("kind", "payload"), VALID)
def test_a_valid_message_becomes_a_routed_event(kind: Kind, payload: dict[str, Any]) -> None:
    event = validate_message(topic(kind), encode(payload))

    assert (event.factory, event.line, event.station, event.kind) == ("f1", "l1", "s1", kind)
    assert event.event_id == payload["event_id"]
    assert event.ts.utcoffset() is not None


def test_the_values_are_typed() -> None:
    event = validate_message(topic(Kind.MACHINE), encode(CONTRACT_EXAMPLES[Kind.MACHINE][1]))

    assert isinstance(event, MachineEvent)
    assert event.state is MachineState.DOWN
    assert event.reason == "jam"
    assert event.ts == datetime(2026, 11, 1, 23, 12, tzinfo=UTC)
    assert event.ts.utcoffset() == timedelta(hours=8)


def test_scrap_defaults_to_zero_and_an_order_end_needs_only_its_id() -> None:
    produced = validate_message(topic(Kind.PRODUCTION), encode(without(production(), "scrap")))
    ended = validate_message(
        topic(Kind.ORDER), encode({"event_id": "o", "ts": TS, "action": "end", "order_id": "W"})
    )

    assert isinstance(produced, ProductionEvent) and produced.scrap == 0
    assert isinstance(ended, OrderEvent) and ended.target_quantity is None


def test_extra_fields_are_kept_and_a_repeated_routing_field_is_dropped() -> None:
    payload = machine(plc={"program": "A7"}, station="s1")

    event = validate_message(topic(Kind.MACHINE), encode(payload))

    assert event.model_extra == {"plc": {"program": "A7"}}


def test_a_payload_of_exactly_64_kib_is_read() -> None:
    payload = encode(machine(pad=""))
    padded = payload[:-2] + b" " * (MAX_PAYLOAD_BYTES - len(payload)) + payload[-2:]
    assert len(padded) == MAX_PAYLOAD_BYTES

    validate_message(topic(Kind.MACHINE), padded)


M, P, H, X, W = (topic(kind) for kind in Kind)  # W: work order

INVALID: list[tuple[str, str, bytes, DeadLetterReason]] = [
    # size, then topic
    ("over 64 KiB", M, b" " * (MAX_PAYLOAD_BYTES + 1), R.PAYLOAD_TOO_LARGE),
    ("too large beats bad topic", "x", b"{" * (MAX_PAYLOAD_BYTES + 1), R.PAYLOAD_TOO_LARGE),
    ("wrong prefix", "floor/v2/f1/l1/s1/machine", encode(machine()), R.BAD_TOPIC_PREFIX),
    ("no prefix", "f1/l1/s1/machine", encode(machine()), R.BAD_TOPIC_PREFIX),
    ("too short", "floor/v1/f1/l1/machine", encode(machine()), R.TOPIC_TOO_SHORT),
    ("too deep", "floor/v1/f1/l1/s1/x/machine", encode(machine()), R.TOPIC_TOO_DEEP),
    ("uppercase", "floor/v1/F1/l1/s1/machine", encode(machine()), R.BAD_TOPIC_SEGMENT),
    ("illegal char", "floor/v1/f1/l 1/s1/machine", encode(machine()), R.BAD_TOPIC_SEGMENT),
    ("65 chars", f"floor/v1/f1/l1/{'s' * 65}/machine", encode(machine()), R.BAD_TOPIC_SEGMENT),
    ("unknown kind", "floor/v1/f1/l1/s1/machines", encode(machine()), R.UNKNOWN_KIND),
    ("bad topic beats bad payload", "floor/v1/f1/l1/s1/x", b"\xff", R.UNKNOWN_KIND),
    # bytes, then JSON, then one object
    ("not utf-8", M, b'{"event_id": "\xff"}', R.NOT_UTF8),
    ("latin-1", M, '{"reason": "Störung"}'.encode("latin-1"), R.NOT_UTF8),
    ("not json", M, b"state=running", R.NOT_JSON),
    ("empty", M, b"", R.NOT_JSON),
    ("truncated", M, encode(machine())[:-1], R.NOT_JSON),
    ("trailing comma", M, b'{"event_id": "m-1",}', R.NOT_JSON),
    ("two objects", M, encode(machine()) * 2, R.NOT_JSON),
    ("NaN", M, b'{"event_id": "m", "ts": "' + TS.encode() + b'", "state": "idle", "x": NaN}',
     R.NOT_JSON),
    ("Infinity", X, encode(material())[:-1] + b', "quantity": Infinity}', R.NOT_JSON),
    ("byte order mark", M, b"\xef\xbb\xbf" + encode(machine()), R.NOT_JSON),
    ("lone surrogate", M, b'{"event_id": "\\ud800", "ts": "' + TS.encode() + b'", "state": "idle"}',
     R.NOT_JSON),
    ("array", M, encode([machine()]), R.NOT_OBJECT),
    ("number", M, b"42", R.NOT_OBJECT),
    ("string", M, b'"running"', R.NOT_OBJECT),
    ("null", M, b"null", R.NOT_OBJECT),
    # fields
    ("no event_id", M, encode(without(machine(), "event_id")), R.MISSING_FIELD),
    ("no ts", M, encode(without(machine(), "ts")), R.MISSING_FIELD),
    ("no state", M, encode(without(machine(), "state")), R.MISSING_FIELD),
    ("no good", P, encode(without(production(), "good")), R.MISSING_FIELD),
    ("no operator", H, encode(without(people(), "operator_id")), R.MISSING_FIELD),
    ("no material", X, encode(without(material(), "material_id")), R.MISSING_FIELD),
    ("no order id", W, encode(without(order(), "order_id")), R.MISSING_FIELD),
    ("start without product", W, encode(without(order(), "product_id")), R.MISSING_FIELD),
    ("start without target", W, encode(without(order(), "target_quantity")), R.MISSING_FIELD),
    ("good as string", P, encode(production(good="58")), R.WRONG_TYPE),
    ("good as float", P, encode(production(good=58.0)), R.WRONG_TYPE),
    ("good as bool", P, encode(production(good=True)), R.WRONG_TYPE),
    ("event_id as number", M, encode(machine(event_id=17)), R.WRONG_TYPE),
    ("state as number", M, encode(machine(state=1)), R.WRONG_TYPE),
    ("reason as object", M, encode(machine(reason={"code": 7})), R.WRONG_TYPE),
    ("quantity as string", X, encode(material(quantity="340")), R.WRONG_TYPE),
    ("ts without offset", M, encode(machine(ts="2026-11-02T06:00:00")), R.BAD_TIMESTAMP),
    ("ts garbage", M, encode(machine(ts="yesterday")), R.BAD_TIMESTAMP),
    ("ts as number", M, encode(machine(ts=1730000000)), R.BAD_TIMESTAMP),
    ("ts digits", M, encode(machine(ts="1730000000")), R.BAD_TIMESTAMP),
    ("ts date only", M, encode(machine(ts="2026-11-02")), R.BAD_TIMESTAMP),
    ("ts no seconds", M, encode(machine(ts="2026-11-02T06:00+08:00")), R.BAD_TIMESTAMP),
    ("ts month 13", M, encode(machine(ts="2026-13-02T06:00:00Z")), R.BAD_TIMESTAMP),
    ("ts offset 24h", M, encode(machine(ts="2026-11-02T06:00:00+24:00")), R.BAD_TIMESTAMP),
    ("ts null", M, encode(machine(ts=None)), R.BAD_TIMESTAMP),
    ("unknown state", M, encode(machine(state="runing")), R.UNKNOWN_VALUE),
    ("state in capitals", M, encode(machine(state="RUNNING")), R.UNKNOWN_VALUE),
    ("unknown people action", H, encode(people(action="arrive")), R.UNKNOWN_VALUE),
    ("unknown material action", X, encode(material(action="used")), R.UNKNOWN_VALUE),
    ("unknown order action", W, encode(order(action="pause")), R.UNKNOWN_VALUE),
    ("negative good", P, encode(production(good=-1)), R.NEGATIVE_COUNT),
    ("negative scrap", P, encode(production(scrap=-2)), R.NEGATIVE_COUNT),
    ("negative quantity", X, encode(material(quantity=-0.5)), R.NEGATIVE_COUNT),
    ("empty event_id", M, encode(machine(event_id="")), R.OUT_OF_RANGE),
    ("event_id of 129", M, encode(machine(event_id="e" * 129)), R.OUT_OF_RANGE),
    ("huge count", P, encode(production(good=10**12)), R.OUT_OF_RANGE),
    ("cycle time zero", W, encode(order(ideal_cycle_time_s=0)), R.OUT_OF_RANGE),
    ("cycle time negative", W, encode(order(ideal_cycle_time_s=-1.0)), R.OUT_OF_RANGE),
    ("target zero", W, encode(order(target_quantity=0)), R.OUT_OF_RANGE),
    ("float overflow", X, encode(material())[:-1] + b', "quantity": 1e999}', R.OUT_OF_RANGE),
    ("line disagrees", M, encode(machine(line="l2")), R.CONFLICTING_FIELD),
    ("kind disagrees", M, encode(machine(kind="order")), R.CONFLICTING_FIELD),
    # PostgreSQL text cannot hold U+0000: refused at the edge, never a processor's poison.
    ("NUL in event_id", M, encode(machine(event_id="a\x00b")), R.INVALID_FIELD),
    ("NUL in reason", M, encode(machine(reason="jam\x00")), R.INVALID_FIELD),
    ("NUL in role", H, encode(people(role="\x00")), R.INVALID_FIELD),
    ("NUL in unit", X, encode(material(unit="k\x00g")), R.INVALID_FIELD),
]  # fmt: skip


@pytest.mark.parametrize(
    ("topic_name", "payload", "reason"),
    [case[1:] for case in INVALID],
    ids=[case[0] for case in INVALID],
)
def test_an_invalid_message_raises_its_distinct_reason(
    topic_name: str, payload: bytes, reason: DeadLetterReason
) -> None:
    with pytest.raises(InvalidMessage) as caught:
        validate_message(topic_name, payload)

    assert caught.value.reason is reason
    assert caught.value.detail
    assert len(caught.value.detail) < 600


@pytest.mark.parametrize(
    ("payload", "words"),
    [
        (machine(state="runing"), "field 'state': 'runing' is not one of running, idle,"),
        (production(good="58"), "field 'good': expected a whole number, got the string '58'"),
        (production(good=-1), "field 'good': the number -1 is negative"),
        (machine(ts="2026-11-02T06:00:00"), "field 'ts': expected an RFC 3339 timestamp"),
        (without(machine(), "state"), "field 'state' is missing"),
        (machine(event_id="e" * 129), "field 'event_id' is 129 characters long; at most 128"),
        (without(order(), "product_id"), "field 'product_id' is required when action is 'start'"),
        (machine(reason="a\x00"), "field 'reason': must not contain the NUL character (U+0000)"),
    ],
)
def test_the_detail_names_the_field_and_the_problem(payload: dict[str, Any], words: str) -> None:
    kind = _kind_of(payload)

    with pytest.raises(InvalidMessage) as caught:
        validate_message(topic(kind), encode(payload))

    assert words in caught.value.detail


def _kind_of(payload: dict[str, Any]) -> Kind:
    if "order_id" in payload:
        return Kind.ORDER
    if "good" in payload:
        return Kind.PRODUCTION
    return Kind.MACHINE


def test_every_problem_up_to_three_is_listed_and_the_first_decides() -> None:
    payload = {"event_id": "", "ts": "soon", "state": "on", "reason": 1}

    with pytest.raises(InvalidMessage) as caught:
        validate_message(topic(Kind.MACHINE), encode(payload))

    assert caught.value.reason is R.OUT_OF_RANGE
    assert caught.value.detail.count("field ") == 3
    assert caught.value.detail.endswith("and 1 more")


def test_a_huge_value_is_cut_in_the_detail() -> None:
    with pytest.raises(InvalidMessage) as caught:
        validate_message(topic(Kind.MACHINE), encode(machine(state="x" * 10_000)))

    assert len(caught.value.detail) < 300


# Properties ---------------------------------------------------------------------------------

FIELD_NAMES = [
    "event_id", "ts", "state", "reason", "good", "scrap", "action", "operator_id", "role",
    "material_id", "quantity", "unit", "order_id", "product_id", "target_quantity",
    "ideal_cycle_time_s", "factory", "line", "station", "kind",
]  # fmt: skip
likely_values = st.sampled_from([TS, "running", "check_in", "level", "start", "s1", "machine"])
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30) | likely_values,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=8,
)
near_payloads = st.dictionaries(
    st.sampled_from(FIELD_NAMES) | st.text(max_size=5), json_values, max_size=8
).map(lambda payload: json.dumps(payload).encode())
topics = st.sampled_from([topic(kind) for kind in Kind]) | st.text(max_size=40)


def _refuse_constant(name: str) -> None:
    raise AssertionError(f"{name} accepted as JSON")


@given(topics, st.binary(max_size=300) | near_payloads)
def test_any_bytes_give_an_event_or_invalid_message(topic_name: str, payload: bytes) -> None:
    try:
        event = validate_message(topic_name, payload)
    except InvalidMessage as error:
        assert error.reason in set(DeadLetterReason)
        assert error.detail
    else:
        # Whatever passes is standard JSON, one object, and its routing is the topic's.
        assert isinstance(json.loads(payload.decode(), parse_constant=_refuse_constant), dict)
        assert event.address.mqtt_topic == topic_name
        json.loads(event.to_kafka_value(), parse_constant=_refuse_constant)


@given(st.sampled_from(Kind), near_payloads)
def test_near_valid_payloads_give_an_event_or_invalid_message(kind: Kind, payload: bytes) -> None:
    try:
        validate_message(topic(kind), payload)
    except InvalidMessage:
        pass


class TestDeadLetter:
    received_at = datetime(2026, 11, 2, 6, 0, 1, tzinfo=UTC)

    def letter(self, topic_name: str, payload: bytes) -> DeadLetter:
        with pytest.raises(InvalidMessage) as caught:
            validate_message(topic_name, payload)
        return DeadLetter.from_invalid(topic_name, payload, caught.value, self.received_at)

    def test_it_carries_topic_raw_bytes_reason_and_time(self) -> None:
        payload = b'{"state": "runing"}\xff'

        letter = self.letter(topic(Kind.MACHINE), payload)
        value = json.loads(letter.to_kafka_value())

        assert {"topic", "payload_b64", "reason", "received_at"} <= value.keys()
        assert value["topic"] == topic(Kind.MACHINE)
        assert value["reason"] == "not_utf8"
        assert value["received_at"] == "2026-11-02T06:00:01Z"
        assert letter.payload == payload
        assert letter.kafka_key == topic(Kind.MACHINE).encode()
        assert DeadLetter.model_validate_json(letter.to_kafka_value()) == letter

    def test_an_oversized_payload_is_cut_but_its_size_is_kept(self) -> None:
        payload = b"x" * (DEAD_LETTER_PAYLOAD_LIMIT + 10)

        letter = self.letter(topic(Kind.MACHINE), payload)

        assert letter.reason is R.PAYLOAD_TOO_LARGE
        assert letter.payload == payload[:DEAD_LETTER_PAYLOAD_LIMIT]
        assert letter.payload_size == len(payload)

    def test_a_topic_that_cannot_be_encoded_is_still_written(self) -> None:
        letter = self.letter("floor/v1/\udcff/l1/s1/machine", b"{}")

        assert letter.reason is R.BAD_TOPIC_SEGMENT
        assert letter.kafka_key == b"floor/v1/?/l1/s1/machine"

    def test_a_naive_receive_time_is_refused(self) -> None:
        error = InvalidMessage(R.NOT_JSON, "x")

        with pytest.raises(ValueError, match="timezone"):
            DeadLetter.from_invalid("t", b"", error, datetime(2026, 11, 2))  # noqa: DTZ001


@pytest.mark.parametrize(
    "ts",
    [
        "9999-12-31T23:59:59+00:00",
        "0001-01-01T00:00:00+00:00",
        "1999-12-31T23:59:59Z",
        "2100-01-01T00:00:00Z",
    ],
)
def test_a_timestamp_no_floor_clock_can_show_is_out_of_range(ts: str) -> None:
    """Such instants would overflow every processor's time arithmetic: refused at the edge."""
    payload = f'{{"event_id": "m", "ts": "{ts}", "state": "running"}}'.encode()
    with pytest.raises(InvalidMessage) as refused:
        validate_message("floor/v1/f1/l1/s1/machine", payload)
    assert refused.value.reason is DeadLetterReason.OUT_OF_RANGE
    assert "clock" in refused.value.detail
