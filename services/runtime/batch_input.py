"""What every processor does first with a batch: read its records as events (`parse_record`, one
msgspec decode each into a typed struct), and skip those that are not (policy: skip, never
stop), are older than the retention period, or are further ahead of the processor's clock than
the future tolerance.

A record that is not an event of the contract was written by a producer with a bug, not by a
line (the gateway validated every event), so it is logged and skipped; an event older than the
retention period would be folded against neighbours retention has deleted, so it is skipped too.
An event from the future (the gateway dead-letters those, but Kafka may hold some from before,
or from another producer) would hold its station in its state until then, and stretch every
fold "until the next event" to it, so it is skipped as well. All are counted by reason
(`BatchResult.skipped`).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime, timedelta
from typing import Any, Final, Protocol

from schemas import InvalidMessage
from schemas.records import ProductionRecord, Record, parse_record
from schemas.types import FUTURE_TOLERANCE_S, EventKey, Kind
from services.runtime.consumer import Handler, Records
from services.runtime.consumer_metrics import (
    FROM_THE_FUTURE,
    LATE_AFTER,
    NOT_AN_EVENT,
    PAST_RETENTION,
)
from services.runtime.handler import BatchResult

log = logging.getLogger(f"floorstream.{__name__}")

FUTURE_TOLERANCE: Final = timedelta(seconds=FUTURE_TOLERANCE_S)


class ApplyBatch(Protocol):
    """A processor's batch handler with its cut-offs (see `retaining`)."""

    def __call__(
        self,
        connection: Any,
        records: Records,
        *,
        not_before: datetime | None = None,
        not_after: datetime | None = None,
        late_before: datetime | None = None,
    ) -> Awaitable[BatchResult]: ...


def read_events(
    records: Records, not_before: datetime | None, not_after: datetime | None = None
) -> tuple[list[Record], dict[str, int]]:
    """The events of the batch from ``not_before`` to ``not_after`` (both included, either
    open where None); the records skipped, by reason."""
    events = []
    skipped: dict[str, int] = {}
    for record in records:
        try:
            events.append(parse_record(record.value))
        except InvalidMessage as error:
            log.warning(
                "skipped %s[%d]@%d: not an event of the contract (%s)",
                record.topic,
                record.partition,
                record.offset,
                error,
            )
            skipped[NOT_AN_EVENT] = skipped.get(NOT_AN_EVENT, 0) + 1
    if not_before is not None:
        kept = [event for event in events if event.ts >= not_before]
        if len(kept) < len(events):
            skipped[PAST_RETENTION] = len(events) - len(kept)
            log.warning(
                "skipped %d event(s) older than the retention period (before %s)",
                len(events) - len(kept),
                not_before.isoformat(),
            )
        events = kept
    if not_after is not None:
        kept = [event for event in events if event.ts <= not_after]
        if len(kept) < len(events):
            skipped[FROM_THE_FUTURE] = len(events) - len(kept)
            log.warning(
                "skipped %d event(s) from the future (after %s: ahead of the processor's clock "
                "by more than the tolerance); check the clocks of the lines that sent them",
                len(events) - len(kept),
                not_after.isoformat(),
            )
        events = kept
    return events, skipped


def unique(events: Iterable[Record]) -> list[Record]:
    """The events without repeats of an ``event_id`` on a line; the first of each is kept, as a
    repeat in a later batch is not stored again."""
    seen: set[EventKey] = set()
    kept = []
    for event in events:
        key = (event.factory, event.line, event.event_id)
        if key not in seen:
            seen.add(key)
            kept.append(event)
    return kept


def split_production(events: Iterable[Record]) -> tuple[list[ProductionRecord], list[Record]]:
    """The batch's events made `unique`, its production reports (most events, which both
    processors store one row per station and minute) apart from the others."""
    reports: list[ProductionRecord] = []
    others: list[Record] = []
    for event in unique(events):
        if event.kind is Kind.PRODUCTION:
            reports.append(event)
        else:
            others.append(event)
    return reports, others


def retaining(
    apply_batch: ApplyBatch,
    retention: timedelta,
    clock: Callable[[], datetime],
    future_tolerance: timedelta = FUTURE_TOLERANCE,
) -> Handler:
    """``apply_batch`` skipping events older than ``retention`` before ``clock()`` or more than
    ``future_tolerance`` after it, and counting as late those applied more than `LATE_AFTER`
    after their ``ts``."""

    async def handle(connection: Any, records: Records) -> BatchResult:
        now = clock()
        return await apply_batch(
            connection,
            records,
            not_before=now - retention,
            not_after=now + future_tolerance,
            late_before=now - LATE_AFTER,
        )

    return handle
