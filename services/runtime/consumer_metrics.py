"""The processors' Prometheus metrics: a typed bundle on an injected registry.

The consumer loop (`runtime.consumer`) updates them at its edge, after each batch commits,
from the `BatchResult` its handler returns; the handlers' folds never see them. Every series
is labelled by consumer ``group``, so the efficiency and floor processors of one process
are told apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Final

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from services.runtime.handler import BatchResult

LATE_AFTER: Final = timedelta(hours=1)
"""An event applied more than this after its ``ts`` counts as late."""

NOT_AN_EVENT: Final = "not_an_event"
PAST_RETENTION: Final = "past_retention"
FROM_THE_FUTURE: Final = "from_the_future"
"""An event whose ``ts`` is further ahead of the processor's clock than ``future_tolerance_s``
(the gateway dead-letters those; another producer, or an older gateway, may not have)."""
POISON: Final = "poison"
"""A record the handler failed on alone, set aside by the consumer loop (`runtime.poison`)."""


@dataclass(frozen=True)
class ProcessorMetrics:
    events: Counter
    batches: Counter
    batch_seconds: Histogram
    lag: Gauge
    duplicates: Counter
    late_events: Counter
    skipped: Counter
    log_lost: Counter
    position_reset: Counter

    @classmethod
    def create(cls, registry: CollectorRegistry) -> ProcessorMetrics:
        prefix = "floorstream_processor"
        return cls(
            events=Counter(
                f"{prefix}_events",
                "events applied (stored for the first time)",
                ["group"],
                registry=registry,
            ),
            batches=Counter(
                f"{prefix}_batches",
                "batches committed with their offsets",
                ["group"],
                registry=registry,
            ),
            batch_seconds=Histogram(
                f"{prefix}_batch_seconds",
                "time to apply a fetched batch and commit it with its offsets in PostgreSQL",
                ["group"],
                buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
                registry=registry,
            ),
            lag=Gauge(
                f"{prefix}_lag",
                "records behind: the partition's log end offset minus the next offset to apply",
                ["group", "topic", "partition"],
                registry=registry,
            ),
            duplicates=Counter(
                f"{prefix}_duplicates",
                "events dropped because their event_id on the line was applied already",
                ["group"],
                registry=registry,
            ),
            late_events=Counter(
                f"{prefix}_late_events",
                "events applied more than 1 hour after their ts (late or replayed; they "
                "correct the minutes they belong to)",
                ["group"],
                registry=registry,
            ),
            skipped=Counter(
                f"{prefix}_skipped",
                "records skipped, by reason: not_an_event (not of the contract), "
                "past_retention (ts older than the retention period), from_the_future (ts "
                "further ahead of the processor's clock than future_tolerance_s), poison (the "
                "processor failed on the record alone: set aside in poison_record)",
                ["group", "reason"],
                registry=registry,
            ),
            log_lost=Counter(
                f"{prefix}_log_lost",
                "a partition's log found not to be the one its stored offset belongs to (the "
                "broker lost its log, or the topic was created again): read from its start",
                ["group", "topic", "partition"],
                registry=registry,
            ),
            position_reset=Counter(
                f"{prefix}_position_reset",
                "a partition's position moved past records never applied (retention deleted "
                "them before they were read)",
                ["group", "topic", "partition"],
                registry=registry,
            ),
        )

    def group(self, group: str) -> GroupMetrics:
        return GroupMetrics(self, group)


class GroupMetrics:
    """The bundle's series of one consumer group: what the consumer loop calls."""

    def __init__(self, metrics: ProcessorMetrics, group: str) -> None:
        self._metrics = metrics
        self._group = group
        self._events = metrics.events.labels(group)
        self._batches = metrics.batches.labels(group)
        self._seconds = metrics.batch_seconds.labels(group)
        self._duplicates = metrics.duplicates.labels(group)
        self._late = metrics.late_events.labels(group)

    def batch_done(self, result: BatchResult | None, seconds: float) -> None:
        self._batches.inc()
        self._seconds.observe(seconds)
        if result is None:
            return
        self._events.inc(result.applied)
        self._duplicates.inc(result.duplicates)
        self._late.inc(result.late)
        for reason, count in result.skipped.items():
            self._metrics.skipped.labels(self._group, reason).inc(count)

    def lag(self, topic: str, partition: int, lag: int) -> None:
        self._metrics.lag.labels(self._group, topic, str(partition)).set(max(lag, 0))

    def log_lost(self, topic: str, partition: int) -> None:
        self._metrics.log_lost.labels(self._group, topic, str(partition)).inc()

    def position_reset(self, topic: str, partition: int) -> None:
        self._metrics.position_reset.labels(self._group, topic, str(partition)).inc()

    def forget(self, topic: str, partition: int) -> None:
        """A partition went to another member: its lag is that member's to report."""
        try:
            self._metrics.lag.remove(self._group, topic, str(partition))
        except KeyError:
            pass
