"""A batch read as events: events older than the retention period, and bad records, skipped."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from aiokafka.structs import ConsumerRecord

from floorstream.schemas import validate_message
from floorstream.services.runtime.batch_input import read_events

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def _record(offset: int, value: bytes) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord("floor.events.v1", 0, offset, 0, 0, b"f1/l1", value, None, 5, 0, ())


def _machine(event_id: str, ts: datetime) -> bytes:
    payload = f'{{"event_id": "{event_id}", "ts": "{ts.isoformat()}", "state": "running"}}'
    return validate_message("floor/v1/f1/l1/s1/machine", payload.encode()).to_kafka_value()


def test_events_older_than_the_cutoff_and_bad_records_are_skipped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    cutoff = NOW - timedelta(days=90)
    records = [
        _record(0, _machine("old", cutoff - timedelta(seconds=1))),
        _record(1, _machine("edge", cutoff)),
        _record(2, b"not json"),
        _record(3, _machine("new", NOW)),
    ]
    kept, skipped = read_events(records, cutoff)
    assert [event.event_id for event in kept] == ["edge", "new"]
    assert skipped == {"past_retention": 1, "not_an_event": 1}  # for the processor's metrics
    assert "1 event(s) older than the retention period" in caplog.text
    assert "not an event of the contract" in caplog.text


def test_without_a_cutoff_every_event_is_kept() -> None:
    records = [_record(0, _machine("ancient", datetime(2001, 1, 1, tzinfo=UTC)))]
    kept, skipped = read_events(records, None)
    assert [event.event_id for event in kept] == ["ancient"] and skipped == {}
