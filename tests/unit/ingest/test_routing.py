from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from ingest import routing
from ingest.routing import FUTURE_TOLERANCE, how_long, route
from schemas import DLQ_TOPIC, EVENTS_TOPIC, validate_message
from schemas.types import EARLIEST_TS, LATEST_TS

NOW = datetime(2026, 11, 2, 6, 0, tzinfo=UTC)


def test_a_dead_letter_keeps_the_raw_bytes_topic_reason_and_arrival() -> None:
    raw = b"\xff\x00 raw"
    record, reason = route("floor/v1/f1/l1/s1/machine", raw, lambda: NOW)
    body = json.loads(record.value)
    assert (record.topic, record.key) == (DLQ_TOPIC, b"floor/v1/f1/l1/s1/machine")
    assert base64.b64decode(body["payload_b64"]) == raw
    assert body["reason"] == reason == "not_utf8"
    assert datetime.fromisoformat(body["received_at"]) == NOW


def test_a_valid_event_is_keyed_by_its_line() -> None:
    payload = b'{"event_id": "p-1", "ts": "2026-11-02T06:01:00+08:00", "good": 58, "scrap": 2}'
    record, reason = route("floor/v1/f1/l3/press/production", payload, lambda: NOW)
    assert reason is None
    assert (record.topic, record.key) == (EVENTS_TOPIC, b"f1/l3")
    assert json.loads(record.value)["good"] == 58


def test_an_unexpected_validation_error_is_dead_lettered_not_raised(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(topic: str, payload: bytes) -> None:
        raise ZeroDivisionError

    monkeypatch.setattr(routing, "validate_kafka_record", broken)
    record, reason = route("floor/v1/f1/l1/s1/machine", b"{}", lambda: NOW)
    assert (record.topic, reason) == (DLQ_TOPIC, "invalid_field")
    assert "ZeroDivisionError" in json.loads(record.value)["detail"]


def _machine_at(ts: str) -> bytes:
    return json.dumps({"event_id": "m-1", "ts": ts, "state": "down"}).encode()


def test_an_event_at_the_tolerance_ahead_of_the_clock_is_accepted() -> None:
    at_limit = (NOW + FUTURE_TOLERANCE).isoformat()
    record, reason = route("floor/v1/f1/l1/s1/machine", _machine_at(at_limit), lambda: NOW)
    assert (record.topic, reason) == (EVENTS_TOPIC, None)


def test_an_event_beyond_the_tolerance_is_dead_lettered_as_from_the_future() -> None:
    beyond = (NOW + FUTURE_TOLERANCE + timedelta(milliseconds=1)).isoformat()
    record, reason = route("floor/v1/f1/l1/s1/machine", _machine_at(beyond), lambda: NOW)
    assert (record.topic, reason) == (DLQ_TOPIC, "from_the_future")
    assert json.loads(record.value)["detail"].endswith(
        "is 301 s ahead of the gateway's clock (tolerance 300 s); check the line's clock"
    )


def test_a_line_clock_decades_ahead_is_told_in_years() -> None:
    raw = _machine_at("2090-01-01T00:00:00Z")
    record, reason = route("floor/v1/f1/l1/s1/machine", raw, lambda: NOW)
    body = json.loads(record.value)
    assert (record.topic, reason) == (DLQ_TOPIC, body["reason"]) == (DLQ_TOPIC, "from_the_future")
    assert body["detail"] == (
        "ts 2090-01-01T00:00:00Z is 63 years ahead of the gateway's clock (tolerance 300 s); "
        "check the line's clock"
    )
    assert base64.b64decode(body["payload_b64"]) == raw
    assert datetime.fromisoformat(body["received_at"]) == NOW


def test_the_offset_counts_and_the_tolerance_is_the_callers() -> None:
    four_minutes_ahead = "2026-11-02T14:04:00+08:00"  # NOW is 06:00 UTC
    topic = "floor/v1/f1/l1/s1/machine"
    assert route(topic, _machine_at(four_minutes_ahead), lambda: NOW)[1] is None
    tight = timedelta(seconds=60)
    record, reason = route(topic, _machine_at(four_minutes_ahead), lambda: NOW, tight)
    assert reason == "from_the_future"
    assert json.loads(record.value)["detail"] == (
        "ts 2026-11-02T14:04:00+08:00 is 240 s ahead of the gateway's clock "
        "(tolerance 60 s); check the line's clock"
    )


def test_a_far_past_event_in_the_contracts_range_is_left_to_the_processors() -> None:
    raw = _machine_at("2000-01-01T00:00:00Z")
    record, reason = route("floor/v1/f1/l1/s1/machine", raw, lambda: NOW)
    assert (record.topic, reason) == (EVENTS_TOPIC, None)  # their retention skips it


@pytest.mark.parametrize(
    ("span", "words"),
    [
        (timedelta(seconds=300, microseconds=1), "301 s"),
        (timedelta(seconds=301), "301 s"),
        (timedelta(hours=1, minutes=59), "7140 s"),
        (timedelta(hours=8, minutes=59), "8 hours"),  # a local clock sent as UTC
        (timedelta(hours=47), "47 hours"),
        (timedelta(days=364), "364 days"),
        (timedelta(days=366), "1 year"),
        (timedelta(days=366 * 3), "3 years"),
    ],
)
def test_how_long_names_the_largest_whole_unit(span: timedelta, words: str) -> None:
    assert how_long(span) == words


_OFFSETS = st.integers(-(24 * 60 - 1), 24 * 60 - 1).map(lambda m: timezone(timedelta(minutes=m)))
_TOLERANCES = st.timedeltas(min_value=timedelta(seconds=1), max_value=timedelta(days=1))
# Near the boundary (to the microsecond, either side), or anywhere from decades behind to ahead.
_AHEAD = st.one_of(
    st.integers(-2_000_000, 2_000_000).map(lambda us: timedelta(microseconds=us)),
    st.timedeltas(min_value=-timedelta(days=365 * 30), max_value=timedelta(days=365 * 75)),
)


@given(
    now=st.datetimes(datetime(2020, 1, 1), datetime(2040, 1, 1), timezones=st.just(UTC)),  # noqa: DTZ001
    tolerance=_TOLERANCES,
    ahead=_AHEAD,
    near=st.booleans(),
    offset=_OFFSETS,
)
def test_an_event_is_from_the_future_exactly_when_it_is_beyond_the_tolerance(
    now: datetime, tolerance: timedelta, ahead: timedelta, near: bool, offset: timezone
) -> None:
    ts = (now + (tolerance + ahead if near else ahead)).astimezone(offset)
    assume(EARLIEST_TS <= ts < LATEST_TS)  # the contract's range
    topic = "floor/v1/f1/l1/s1/machine"
    raw = _machine_at(ts.isoformat())
    record, reason = route(topic, raw, lambda: now, tolerance)
    if ts - now > tolerance:
        assert (record.topic, reason) == (DLQ_TOPIC, "from_the_future")
        assert json.loads(record.value)["reason"] == "from_the_future"
    else:  # accepted, as the contract's validation alone would have it
        event = validate_message(topic, raw)
        assert (reason, record.topic) == (None, EVENTS_TOPIC)
        assert (record.key, record.value) == (event.kafka_key, event.to_kafka_value())
