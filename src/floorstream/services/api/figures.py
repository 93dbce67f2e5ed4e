"""A line's efficiency over a range: which station, its stored buckets summed, a live tail.

The figures come from the per-minute buckets the processor keeps: one SQL aggregate sums the
bucket columns over the scheduled minutes (`store.sum_buckets`), and the OEE core turns the
sum into the answer (`efficiency_from_totals`). No loop over the minutes of the range.

**Which station.** A line's figures are those of one station (DESIGN.md): its
``constraint_station`` where set; else the only station it has; else the station that made
the most parts in the range (ties: the first by name).

**The live tail.** A station still in a state now counts that state up to now. The processor
folds with ``open_until=None``, so the minutes after a station's last machine change are
stored as unknown time (or not at all), their end not known yet. So where ``now`` is after
the station's last machine change and the range reaches past it, the minutes from that
change's minute to ``min(end, now)`` are folded here again with the core's `fold_station`,
with ``open_until=now``, from a small, bounded read of ``station_event`` (the changes
`context_bounds` names, the station's production events of those minutes, the line's order
events up to now). Those buckets are used *instead of* the stored ones: stored buckets count
only for minutes before the tail's first minute.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from asyncpg import Pool

from floorstream.schemas.line_settings import LineSettings
from floorstream.services.api import store
from floorstream.services.api.scope import Scope
from floorstream.services.efficiency import store as efficiency_store
from floorstream.services.efficiency.core import (
    Efficiency,
    Granularity,
    Interval,
    MinuteBucket,
    Period,
    context_bounds,
    efficiency_from_totals,
    fold_station,
    in_schedule,
    periods,
    scheduled_intervals,
)

__all__ = ["LineFigures", "combined", "line_figures"]

_MINUTE = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class LineFigures:
    """The answer's figures: of `station` (None: the line has none yet), over the range and,
    with a granularity, per period."""

    station: str | None
    total: Efficiency
    periods: list[tuple[Period, Efficiency]]
    totals: tuple[MinuteBucket, ...] = ()
    """The buckets `total` is computed from, the line's ideal cycle time already applied:
    ``efficiency_from_totals(totals, ideal_cycle_time_s=None) == total`` (see `combined`)."""


def combined(lines: Iterable[LineFigures]) -> Efficiency:
    """The figures of several lines as one, weighted by planned time: their totals (planned,
    run and ideal time, counts, losses) summed, then the figures computed once from the sums
    (not a mean of the lines' ratios)."""
    totals = [bucket for figures in lines for bucket in figures.totals]
    return efficiency_from_totals(totals, ideal_cycle_time_s=None)


def _with_ideal(buckets: Sequence[MinuteBucket], ideal: float | None) -> tuple[MinuteBucket, ...]:
    """`buckets` with their ``count_without_ideal`` turned into ideal time at the line's
    ``ideal``, so that they no longer depend on the line's setting."""
    resolved = [replace(bucket, count_without_ideal=0) for bucket in buckets]
    parts = sum(bucket.count_without_ideal for bucket in buckets)
    return (*resolved, MinuteBucket(unknown_ms=0, ideal_time_s=parts * (ideal or 0.0)))


async def line_figures(
    pool: Pool,
    *,
    scope: Scope,
    factory: str,
    line: str,
    settings: LineSettings,
    start: datetime,
    end: datetime,
    granularity: Granularity | None,
    now: datetime,
) -> LineFigures:
    """The line's efficiency over ``[start, end)`` (aware, start < end) as of ``now``."""
    scope.require(factory)
    start, end, now = start.astimezone(UTC), end.astimezone(UTC), now.astimezone(UTC)
    scheduled = scheduled_intervals(settings, start, end)
    chosen = [] if granularity is None else periods(settings, start, end, granularity)
    ideal = settings.ideal_cycle_time_s
    station = await _station(
        pool, scope=scope, factory=factory, line=line, settings=settings, start=start, end=end
    )
    if station is None:
        empty = efficiency_from_totals([], ideal_cycle_time_s=ideal)
        return LineFigures(None, empty, [(period, empty) for period in chosen])

    tail = await _live_tail(
        pool,
        scope=scope,
        factory=factory,
        line=line,
        station=station,
        settings=settings,
        start=start,
        end=end,
        now=now,
    )
    tail_start = tail[0][0] if tail else end
    groups: list[Sequence[Interval]] = [scheduled, *(period.scheduled for period in chosen)]
    sums = await store.sum_buckets(
        pool,
        scope=scope,
        factory=factory,
        line=line,
        station=station,
        groups=groups,
        before=tail_start,
    )

    def counted(stored: MinuteBucket, intervals: Sequence[Interval]) -> list[MinuteBucket]:
        return [stored, *in_schedule(tail, list(intervals))]

    def answer(stored: MinuteBucket, intervals: Sequence[Interval]) -> Efficiency:
        return efficiency_from_totals(counted(stored, intervals), ideal_cycle_time_s=ideal)

    whole = counted(sums[0], scheduled)
    return LineFigures(
        station,
        efficiency_from_totals(whole, ideal_cycle_time_s=ideal),
        [
            (period, answer(stored, period.scheduled))
            for period, stored in zip(chosen, sums[1:], strict=True)
        ],
        _with_ideal(whole, ideal),
    )


async def _station(
    pool: Pool,
    *,
    scope: Scope,
    factory: str,
    line: str,
    settings: LineSettings,
    start: datetime,
    end: datetime,
) -> str | None:
    if settings.constraint_station is not None:
        return settings.constraint_station
    ranked = await store.stations_by_parts(
        pool, scope=scope, factory=factory, line=line, start=start, end=end
    )
    return ranked[0][0] if ranked else None


async def _live_tail(
    pool: Pool,
    *,
    scope: Scope,
    factory: str,
    line: str,
    station: str,
    settings: LineSettings,
    start: datetime,
    end: datetime,
    now: datetime,
) -> list[tuple[datetime, MinuteBucket]]:
    """The station's buckets from its last machine change's minute to ``min(end, now)``,
    folded with ``open_until=now``, in minute order; ``[]`` where there is no tail.

    Minutes before the range's are left out (the change in force is still read), so a state
    older than the range costs only the range's minutes.
    """
    last = await store.last_machine_change(
        pool, scope=scope, factory=factory, line=line, station=station
    )
    upto = min(end, now)
    if last is None or now <= last or upto <= last:
        return []
    window_start = max(_floor_minute(last), _floor_minute(start))
    window_end = _floor_minute(upto)
    if window_end < upto:
        window_end += _MINUTE
    threshold = settings.small_stop_threshold_s
    since, _ = context_bounds(window_start, window_end, small_stop_threshold_s=threshold)
    changes, production, orders = await efficiency_store.fold_inputs(
        pool, factory=factory, line=line, station=station, since=since, until=now
    )
    buckets = fold_station(
        changes,
        production,
        orders,
        window_start=window_start,
        window_end=window_end,
        small_stop_threshold_s=threshold,
        open_until=now,
    )
    return sorted(buckets.items())


def _floor_minute(instant: datetime) -> datetime:
    return instant.replace(second=0, microsecond=0)
