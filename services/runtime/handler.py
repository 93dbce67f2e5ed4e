"""What the transactional consumer (`runtime.consumer`) hands its handler, and what it gets back.

A handler applies a batch of Kafka records inside the consumer's open transaction and returns a
`BatchResult`: what it did with the events, which the consumer turns into metrics after the
commit (`runtime.consumer_metrics`). Here rather than in `consumer`, so that the poison-record
isolation the consumer uses (`runtime.poison`) can merge results without importing it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiokafka.structs import ConsumerRecord


@dataclass(frozen=True)
class BatchResult:
    """What a handler did with one batch (counts of events, for the metrics only)."""

    applied: int = 0
    """Events stored and applied now."""
    duplicates: int = 0
    """Events dropped because their ``event_id`` on the line was applied already."""
    late: int = 0
    """Applied events whose ``ts`` was more than `consumer_metrics.LATE_AFTER` before the
    processor's clock."""
    skipped: dict[str, int] = field(default_factory=dict)
    """Records skipped, by reason (the reasons of `consumer_metrics`: ``not_an_event``,
    ``past_retention``, ``from_the_future``, ``poison``)."""


def merged(results: Iterable[BatchResult | None]) -> BatchResult:
    """The sum of the results of a batch's parts (None counts nothing)."""
    applied = duplicates = late = 0
    skipped: dict[str, int] = {}
    for result in results:
        if result is None:
            continue
        applied += result.applied
        duplicates += result.duplicates
        late += result.late
        for reason, count in result.skipped.items():
            skipped[reason] = skipped.get(reason, 0) + count
    return BatchResult(applied=applied, duplicates=duplicates, late=late, skipped=skipped)


Records = Sequence[ConsumerRecord[bytes, bytes]]
Handler = Callable[[Any, Records], Awaitable[BatchResult | None]]
"""Applies a batch inside the open transaction (an asyncpg connection is passed); returns
what it did with the events, for the metrics (None: nothing to count)."""
