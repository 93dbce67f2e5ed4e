"""The efficiency processor: each batch of ``floor.events.v1``, inside its transaction (the
consumer loop of `runtime.consumer` stores the offsets in the same one):

1. read the records; one that is not an event of the contract is logged and skipped (policy:
   skip, never stop: the gateway validated it, so it is a producer bug, not a line's); so is an
   event older than the retention period (``not_before``): the events around it that its minutes
   would be folded from are deleted, so it could only corrupt them;
2. store the events not stored yet: a repeated ``event_id`` on a line counts once; register
   their lines (a line is known from its first valid event on);
3. work out, per station, the minutes the new events can change: a machine change at ``ts``
   changes the intervals from the change before it to the change after it; production at
   ``ts`` its own minute; an order event at ``ts`` every station of the line from ``ts`` to the
   next order event (or the line's last production). Each is widened by the small-stop
   threshold and the startup window, which look across minute boundaries;
4. fold each such station over those minutes from all its stored events, and replace its
   buckets there. A bucket is a function of the set of events, so neither duplicates nor the
   order of arrival can change a figure, and a late event corrects the minutes it belongs to.

It returns what it did (`BatchResult`: applied, duplicates, late, skipped by reason), which
the consumer loop turns into the processor's metrics.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from floorstream.schemas import Event
from floorstream.schemas.types import Kind
from floorstream.services.efficiency import store
from floorstream.services.efficiency.core import (
    DEFAULT_STARTUP_WINDOW_S,
    context_bounds,
    fold_station,
)
from floorstream.services.runtime import batch_input
from floorstream.services.runtime.consumer import Handler, Records
from floorstream.services.runtime.consumer_metrics import (
    BatchResult,
)

log = logging.getLogger(__name__)

StationKey = tuple[str, str, str]
Window = tuple[datetime, datetime]

_MINUTE = timedelta(minutes=1)
_EFFICIENCY_KINDS = frozenset({Kind.MACHINE, Kind.PRODUCTION, Kind.ORDER})


def retaining(retention: timedelta, clock: Callable[[], datetime]) -> Handler:
    """`apply_batch` with the retention and lateness cut-offs (`batch_input.retaining`)."""
    return batch_input.retaining(apply_batch, retention, clock)


def _floor(ts: datetime) -> datetime:
    ts = ts.astimezone(UTC)
    return ts.replace(second=0, microsecond=0)


def _ceil(ts: datetime) -> datetime:
    floor = _floor(ts)
    return floor if floor == ts else floor + _MINUTE


def _merge(
    windows: dict[StationKey, Window], key: StationKey, start: datetime, end: datetime
) -> None:
    if key in windows:
        old_start, old_end = windows[key]
        start, end = min(start, old_start), max(end, old_end)
    windows[key] = (start, end)


async def apply_batch(
    connection: Any,
    records: Records,
    *,
    not_before: datetime | None = None,
    late_before: datetime | None = None,
) -> BatchResult:
    """Steps 1–4 for one batch, on the batch's connection (inside its transaction)."""
    events, skipped = batch_input.read_events(records, not_before)  # 1
    stored = await store.insert_new_events(connection, events=events)  # 2
    new = [e for e in events if f"{e.factory}/{e.line}/{e.event_id}" in stored]
    late = {
        f"{e.factory}/{e.line}/{e.event_id}"
        for e in new
        if late_before is not None and e.ts < late_before
    }
    result = BatchResult(
        applied=len(stored), duplicates=len(events) - len(stored), late=len(late), skipped=skipped
    )
    if not new:
        return result
    lines = {(e.factory, e.line) for e in new}
    await store.register_lines(connection, lines=lines)
    thresholds = await store.small_stop_thresholds(connection, lines=lines)
    windows = await _touched(connection, new, thresholds)  # 3
    for (factory, line, station), (start, end) in windows.items():  # 4
        threshold = thresholds.get((factory, line), 0.0)
        since, until = context_bounds(start, end, small_stop_threshold_s=threshold)
        changes, made, orders = await store.fold_inputs(
            connection, factory=factory, line=line, station=station, since=since, until=until
        )
        buckets = fold_station(
            changes,
            made,
            orders,
            window_start=start,
            window_end=end,
            small_stop_threshold_s=threshold,
        )
        await store.replace_buckets(
            connection,
            factory=factory,
            line=line,
            station=station,
            start=start,
            end=end,
            buckets=buckets,
        )
    return result


async def _touched(
    connection: Any, events: Iterable[Event], thresholds: dict[tuple[str, str], float]
) -> dict[StationKey, Window]:
    """Step 3: per station, the whole minutes the new events can change."""
    windows: dict[StationKey, Window] = {}
    for event in events:
        if event.kind not in _EFFICIENCY_KINDS:
            continue
        factory, line = event.factory, event.line
        margin = timedelta(
            seconds=max(thresholds.get((factory, line), 0.0), DEFAULT_STARTUP_WINDOW_S)
        )
        for station, start, end in await _reach(connection, event):
            _merge(
                windows,
                (factory, line, station),
                _floor(start - margin),
                _ceil(end + margin) + _MINUTE,
            )
    return windows


async def _reach(connection: Any, event: Event) -> list[tuple[str, datetime, datetime]]:
    """The stations an event concerns, and the span of time it can change for each."""
    factory, line = event.factory, event.line
    if event.kind is Kind.MACHINE:
        before, after = await store.neighbours(
            connection, factory=factory, line=line, station=event.station, ts=event.ts
        )
        return [(event.station, before or event.ts, after or event.ts)]
    if event.kind is Kind.PRODUCTION:
        return [(event.station, event.ts, event.ts)]
    end = (
        await store.next_order_change(connection, factory=factory, line=line, ts=event.ts)
        or await store.last_production(connection, factory=factory, line=line)
        or event.ts
    )
    stations = await store.stations(connection, factory=factory, line=line)
    return [(station, event.ts, max(end, event.ts)) for station in stations]
