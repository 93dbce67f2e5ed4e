"""parse_topic and TopicAddress: tables, and properties over generated topics."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas import (
    DLQ_TOPIC,
    EVENTS_TOPIC,
    MQTT_SHARED_SUBSCRIPTION,
    MQTT_SUBSCRIPTION,
    DeadLetterReason,
    InvalidMessage,
    Kind,
    TopicAddress,
    parse_topic,
)

R = DeadLetterReason
segments = st.from_regex(r"[a-z0-9_-]{1,64}", fullmatch=True)
addresses = st.builds(TopicAddress, segments, segments, segments, st.sampled_from(Kind))


def test_the_topic_names_are_those_of_the_contract() -> None:
    assert EVENTS_TOPIC == "floor.events.v1"
    assert DLQ_TOPIC == "floor.events.dlq.v1"
    assert MQTT_SUBSCRIPTION == "floor/v1/#"
    assert MQTT_SHARED_SUBSCRIPTION == "$share/floorstream/floor/v1/#"


def test_a_topic_becomes_an_address_with_its_kafka_key() -> None:
    address = parse_topic("floor/v1/shenzhen-3/press_line-1/st-07/production")

    assert address == TopicAddress("shenzhen-3", "press_line-1", "st-07", Kind.PRODUCTION)
    assert address.kind is Kind.PRODUCTION
    assert address.kafka_key == "shenzhen-3/press_line-1"
    assert address.kafka_key_bytes == b"shenzhen-3/press_line-1"
    assert address.mqtt_topic == "floor/v1/shenzhen-3/press_line-1/st-07/production"


@pytest.mark.parametrize(
    ("topic", "reason", "words"),
    [
        ("", R.BAD_TOPIC_PREFIX, "does not start with 'floor/v1/'"),
        ("floor", R.BAD_TOPIC_PREFIX, "does not start"),
        ("Floor/v1/f/l/s/machine", R.BAD_TOPIC_PREFIX, "does not start"),
        ("floor/v10/f/l/s/machine", R.BAD_TOPIC_PREFIX, "does not start"),
        ("/floor/v1/f/l/s/machine", R.BAD_TOPIC_PREFIX, "does not start"),
        ("floor/v1", R.TOPIC_TOO_SHORT, "has 2 levels"),
        ("floor/v1/f/l/machine", R.TOPIC_TOO_SHORT, "has 5 levels"),
        ("floor/v1/f/l/s/machine/", R.TOPIC_TOO_DEEP, "more than 6 levels"),
        ("floor/v1/f/l/s/t/u/v/machine", R.TOPIC_TOO_DEEP, "more than 6 levels"),
        ("floor/v1//l/s/machine", R.BAD_TOPIC_SEGMENT, "factory is empty"),
        ("floor/v1/f/L1/s/machine", R.BAD_TOPIC_SEGMENT, "line 'L1' has characters"),
        ("floor/v1/f/l/s.1/machine", R.BAD_TOPIC_SEGMENT, "station 's.1' has characters"),
        ("floor/v1/f/l/s+/machine", R.BAD_TOPIC_SEGMENT, "station 's+' has characters"),
        ("floor/v1/f/l/stätion/machine", R.BAD_TOPIC_SEGMENT, "has characters"),
        ("floor/v1/f/l/s\n/machine", R.BAD_TOPIC_SEGMENT, "has characters"),
        (f"floor/v1/{'f' * 65}/l/s/machine", R.BAD_TOPIC_SEGMENT, "is 65 characters long"),
        ("floor/v1/f/l/s/Machine", R.UNKNOWN_KIND, "kind 'Machine' is not one of machine,"),
        ("floor/v1/f/l/s/", R.UNKNOWN_KIND, "kind '' is not one of"),
        ("floor/v1/f/l/s/events", R.UNKNOWN_KIND, "is not one of"),
    ],
)
def test_a_bad_topic_raises_its_distinct_reason(
    topic: str, reason: DeadLetterReason, words: str
) -> None:
    with pytest.raises(InvalidMessage) as caught:
        parse_topic(topic)

    assert caught.value.reason is reason
    assert words in caught.value.detail


def test_a_segment_of_64_characters_is_accepted() -> None:
    assert parse_topic(f"floor/v1/f/{'l' * 64}/s/order").line == "l" * 64


def test_a_huge_topic_is_cut_in_the_detail() -> None:
    with pytest.raises(InvalidMessage) as caught:
        parse_topic("x" * 100_000)

    assert len(caught.value.detail) < 200


def test_a_repeated_topic_gives_an_equal_address_and_an_error_again() -> None:
    assert parse_topic("floor/v1/f/l/s/people") == parse_topic("floor/v1/f/l/s/people")
    for _ in range(2):
        with pytest.raises(InvalidMessage):
            parse_topic("floor/v1/f/l/s/nobody")


@given(addresses)
def test_every_topic_of_valid_segments_round_trips(address: TopicAddress) -> None:
    assert parse_topic(address.mqtt_topic) == address


@given(st.one_of(st.text(), st.text().map("floor/v1/".__add__)))
def test_any_text_gives_an_address_or_invalid_message(topic: str) -> None:
    try:
        address = parse_topic(topic)
    except InvalidMessage as error:
        assert error.reason in set(DeadLetterReason)
    else:
        assert address.mqtt_topic == topic


@given(st.lists(st.sampled_from(["floor", "v1", "f", "L", "", "machine", "a" * 65]), max_size=8))
def test_near_miss_topics_give_an_address_or_invalid_message(levels: list[str]) -> None:
    topic = "/".join(levels)
    try:
        parse_topic(topic)
    except InvalidMessage:
        pass
