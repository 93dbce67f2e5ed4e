from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import pytest

from floorstream.ingest import routing
from floorstream.ingest.routing import route
from floorstream.schemas import DLQ_TOPIC, EVENTS_TOPIC

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
