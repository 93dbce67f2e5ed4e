"""`ProcessorMetrics`: what the consumer loop records per group after each batch."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from services.runtime.consumer_metrics import NOT_AN_EVENT, PAST_RETENTION, ProcessorMetrics
from services.runtime.handler import BatchResult


def test_a_batch_updates_its_groups_series_only() -> None:
    registry = CollectorRegistry()
    metrics = ProcessorMetrics.create(registry)
    efficiency, floor = metrics.group("eff"), metrics.group("floor")
    result = BatchResult(
        applied=7, duplicates=2, late=1, skipped={NOT_AN_EVENT: 1, PAST_RETENTION: 3}
    )
    efficiency.batch_done(result, 0.2)
    efficiency.batch_done(None, 0.1)  # a handler with nothing to count
    floor.batch_done(BatchResult(applied=1), 0.05)

    def value(name: str, **labels: str) -> float | None:
        return registry.get_sample_value(name, labels)

    assert value("floorstream_processor_events_total", group="eff") == 7
    assert value("floorstream_processor_batches_total", group="eff") == 2
    assert value("floorstream_processor_batch_seconds_count", group="eff") == 2
    assert value("floorstream_processor_duplicates_total", group="eff") == 2
    assert value("floorstream_processor_late_events_total", group="eff") == 1
    assert value("floorstream_processor_skipped_total", group="eff", reason=PAST_RETENTION) == 3
    assert value("floorstream_processor_skipped_total", group="eff", reason=NOT_AN_EVENT) == 1
    assert value("floorstream_processor_events_total", group="floor") == 1
    assert value("floorstream_processor_duplicates_total", group="floor") == 0


def test_lag_is_per_partition_never_negative_and_forgotten_on_revoke() -> None:
    registry = CollectorRegistry()
    member = ProcessorMetrics.create(registry).group("eff")
    member.lag("floor.events.v1", 0, 120)
    member.lag("floor.events.v1", 1, -3)  # a highwater older than the position
    lag = {"group": "eff", "topic": "floor.events.v1"}
    assert registry.get_sample_value("floorstream_processor_lag", lag | {"partition": "0"}) == 120
    assert registry.get_sample_value("floorstream_processor_lag", lag | {"partition": "1"}) == 0
    member.forget("floor.events.v1", 0)
    member.forget("floor.events.v1", 7)  # never reported: nothing to forget
    assert registry.get_sample_value("floorstream_processor_lag", lag | {"partition": "0"}) is None
