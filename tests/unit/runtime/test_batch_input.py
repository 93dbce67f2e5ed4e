"""A batch read as events: events older than the retention period or further ahead than the
future tolerance, and bad records, skipped."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiokafka.structs import ConsumerRecord

from schemas import validate_message
from services.runtime.batch_input import read_events, retaining
from services.runtime.consumer import Records
from services.runtime.handler import BatchResult

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


def test_events_further_ahead_than_the_tolerance_are_skipped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    limit = NOW + timedelta(minutes=5)
    records = [
        _record(0, _machine("at-the-limit", limit)),
        _record(1, _machine("beyond", limit + timedelta(microseconds=1))),
        _record(2, _machine("2090", datetime(2090, 1, 1, tzinfo=UTC))),
        _record(3, _machine("old", NOW - timedelta(days=91))),
    ]
    kept, skipped = read_events(records, NOW - timedelta(days=90), limit)
    assert [event.event_id for event in kept] == ["at-the-limit"]
    assert skipped == {"from_the_future": 2, "past_retention": 1}
    assert "2 event(s) from the future" in caplog.text


async def test_retaining_hands_the_handler_its_cut_offs_from_one_reading_of_the_clock() -> None:
    seen: dict[str, datetime | None] = {}

    async def apply_batch(
        connection: Any,
        records: Records,
        *,
        not_before: datetime | None = None,
        not_after: datetime | None = None,
        late_before: datetime | None = None,
    ) -> BatchResult:
        seen.update(not_before=not_before, not_after=not_after, late_before=late_before)
        return BatchResult()

    readings = iter([NOW, NOW + timedelta(hours=1)])
    ahead = timedelta(seconds=30)
    handle = retaining(apply_batch, timedelta(days=90), lambda: next(readings), ahead)
    await handle(None, [])
    assert seen == {
        "not_before": NOW - timedelta(days=90),
        "not_after": NOW + timedelta(seconds=30),
        "late_before": NOW - timedelta(hours=1),
    }
