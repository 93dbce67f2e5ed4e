"""A line's efficiency over a range: which station, its stored buckets summed, a live tail.

The figures come from the buckets the processor keeps: one SQL aggregate sums the bucket
columns over the scheduled time, whole UTC hours from the hourly rollups and the minutes at
their edges (`services.efficiency.read.sum_buckets`), and the OEE core turns the sum into the answer
(`efficiency_from_totals`). No loop over the minutes of the range. Many lines (the factory
call) are read together: one statement chooses their stations, one sums their buckets. Every
read of one answer is in one read-only repeatable-read transaction, so that the stations, the
live tails and the sums see the same commit of the processor.

**Which station.** A line's figures are those of one station (docs/design.md): its
``constraint_station`` where set; else the only station it has; else the station that made
the most parts in the range (ties: the first by name); chosen in SQL
(`read.choose_stations`).

**The live tail.** A station still in a state now counts that state up to now, unless it
has been silent for longer than the line's ``stale_after_s``: from then on its time is
downtime ``no_signal`` (the stored silences, and the open one after its last event). The processor
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

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime, timedelta

from asyncpg import Connection, Pool

from schemas.line_settings import LineSettings
from services.api.scope import Scope
from services.efficiency import read
from services.efficiency.core import (
    Efficiency,
    Granularity,
    Interval,
    Losses,
    MinuteBucket,
    Period,
    context_bounds,
    efficiency_from_totals,
    fold_station,
    in_schedule,
    periods,
    scheduled_intervals,
    silent_intervals,
)

__all__ = ["LineAsked", "LineFigures", "as_body", "combined", "line_figures", "lines_figures"]

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
    return efficiency_from_totals(
        [_sum(bucket for figures in lines for bucket in figures.totals)], ideal_cycle_time_s=None
    )


_COUNTED_FIELDS = tuple(
    f.name for f in fields(MinuteBucket) if f.name not in ("ideal_time_s", "down_by_reason")
)


def _sum(buckets: Iterable[MinuteBucket]) -> MinuteBucket:
    """The buckets as one, field by field: what `efficiency_from_totals` reads of them, read
    once (integers summed; ideal time by one `math.fsum` of all the parts, as it sums them)."""
    listed = list(buckets)
    return MinuteBucket(
        **{name: sum(getattr(bucket, name) for bucket in listed) for name in _COUNTED_FIELDS},
        ideal_time_s=math.fsum(bucket.ideal_time_s for bucket in listed),
    )


_EFFICIENCY_FIELDS = tuple(f.name for f in fields(Efficiency) if f.name != "losses")
_LOSSES_FIELDS = tuple(f.name for f in fields(Losses))


def as_body(answer: Efficiency) -> dict[str, object]:
    """The figures as the response models take them: `dataclasses.asdict` without its deep
    copies, which cost more than the figures of a factory of 100 lines."""
    body: dict[str, object] = {name: getattr(answer, name) for name in _EFFICIENCY_FIELDS}
    body["losses"] = {name: getattr(answer.losses, name) for name in _LOSSES_FIELDS}
    return body


def _with_ideal(buckets: Sequence[MinuteBucket], ideal: float | None) -> tuple[MinuteBucket, ...]:
    """`buckets` with their ``count_without_ideal`` turned into ideal time at the line's
    ``ideal``, so that they no longer depend on the line's setting."""
    resolved = [replace(bucket, count_without_ideal=0) for bucket in buckets]
    parts = sum(bucket.count_without_ideal for bucket in buckets)
    return (*resolved, MinuteBucket(unknown_ms=0, ideal_time_s=parts * (ideal or 0.0)))


@dataclass(frozen=True, slots=True)
class LineAsked:
    """A line whose figures are asked for, with its settings as stored now."""

    line: str
    settings: LineSettings


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
    (found,) = await lines_figures(
        pool,
        scope=scope,
        factory=factory,
        lines=[LineAsked(line, settings)],
        start=start,
        end=end,
        granularity=granularity,
        now=now,
    )
    return found


async def lines_figures(
    pool: Pool,
    *,
    scope: Scope,
    factory: str,
    lines: Sequence[LineAsked],
    start: datetime,
    end: datetime,
    granularity: Granularity | None,
    now: datetime,
) -> list[LineFigures]:
    """`line_figures` of each of the factory's ``lines``, in order, in a bounded number of
    statements whatever their number: one to choose their stations, one to sum their
    buckets, and those of the live tails."""
    scope.require(factory)
    start, end, now = start.astimezone(UTC), end.astimezone(UTC), now.astimezone(UTC)
    async with (
        pool.acquire() as connection,
        connection.transaction(isolation="repeatable_read", readonly=True),
    ):  # one snapshot: the stations, tails and sums as one commit of the processor left them
        chosen = await read.choose_stations(
            connection,
            scope=scope,
            factory=factory,
            lines=[(asked.line, asked.settings.constraint_station) for asked in lines],
            start=start,
            end=end,
        )
        plans = [
            _Plan.of(asked, station, start, end, granularity)
            for asked, station in zip(lines, chosen, strict=True)
        ]
        for plan in plans:
            plan.tail = await _live_tail(
                connection, scope=scope, factory=factory, plan=plan, now=now
            )
        targets = [plan.target(end) for plan in plans if plan.chosen.station is not None]
        sums = iter(
            await read.sum_buckets(connection, scope=scope, factory=factory, targets=targets)
        )
    return [plan.figures([] if plan.chosen.station is None else next(sums)) for plan in plans]


@dataclass(slots=True)
class _Plan:
    """One line's answer in the making: its scheduled time, periods and station, then its
    live tail; `figures` turns its summed buckets into the answer."""

    asked: LineAsked
    chosen: read.Chosen
    start: datetime
    end: datetime
    scheduled: list[Interval]
    periods: list[Period]
    tail: list[tuple[datetime, MinuteBucket]]

    @classmethod
    def of(
        cls,
        asked: LineAsked,
        chosen: read.Chosen,
        start: datetime,
        end: datetime,
        granularity: Granularity | None,
    ) -> _Plan:
        settings = asked.settings
        scheduled = scheduled_intervals(settings, start, end)
        chosen_periods = [] if granularity is None else periods(settings, start, end, granularity)
        return cls(asked, chosen, start, end, scheduled, chosen_periods, [])

    def target(self, end: datetime) -> read.SumTarget:
        assert self.chosen.station is not None  # noqa: S101 - callers check
        groups: list[Sequence[Interval]] = [self.scheduled, *(p.scheduled for p in self.periods)]
        before = self.tail[0][0] if self.tail else end
        return read.SumTarget(self.asked.line, self.chosen.station, groups, before)

    def figures(self, sums: Sequence[MinuteBucket]) -> LineFigures:
        ideal = self.asked.settings.ideal_cycle_time_s
        if self.chosen.station is None:
            empty = efficiency_from_totals([], ideal_cycle_time_s=ideal)
            return LineFigures(None, empty, [(period, empty) for period in self.periods])

        def counted(stored: MinuteBucket, intervals: Sequence[Interval]) -> list[MinuteBucket]:
            return [stored, *in_schedule(self.tail, list(intervals))]

        whole = counted(sums[0], self.scheduled)
        return LineFigures(
            self.chosen.station,
            efficiency_from_totals(whole, ideal_cycle_time_s=ideal),
            [
                (
                    period,
                    efficiency_from_totals(
                        counted(stored, period.scheduled), ideal_cycle_time_s=ideal
                    ),
                )
                for period, stored in zip(self.periods, sums[1:], strict=True)
            ],
            _with_ideal(whole, ideal),
        )


async def _live_tail(
    connection: Connection, *, scope: Scope, factory: str, plan: _Plan, now: datetime
) -> list[tuple[datetime, MinuteBucket]]:
    """The station's buckets from its last machine change's minute to ``min(end, now)``,
    folded with ``open_until=now``, in minute order; ``[]`` where there is no tail.

    Minutes before the range's are left out (the change in force is still read), so a state
    older than the range costs only the range's minutes.
    """
    station, last = plan.chosen.station, plan.chosen.last_change
    upto = min(plan.end, now)
    if station is None or last is None or now <= last or upto <= last or upto <= plan.start:
        return []  # nothing live in the range: a range after now has no tail yet
    scope.require(factory)
    window_start = max(_floor_minute(last), _floor_minute(plan.start))
    window_end = _floor_minute(upto)
    if window_end < upto:
        window_end += _MINUTE
    threshold = plan.asked.settings.small_stop_threshold_s
    since, _ = context_bounds(window_start, window_end, small_stop_threshold_s=threshold)
    changes, production, orders = await read.fold_inputs(
        connection,
        scope=scope,
        factory=factory,
        line=plan.asked.line,
        station=station,
        since=since,
        until=now,
    )
    silent, heard = await read.heard_silences(
        connection,
        scope=scope,
        factory=factory,
        line=plan.asked.line,
        station=station,
        since=since,
        until=now,
    )
    if heard is not None:  # silent since stale_after_s after it, up to now
        silent += silent_intervals(
            [heard], stale_after_s=plan.asked.settings.stale_after_s, open_until=now
        )
    folded = fold_station(
        changes,
        production,
        orders,
        window_start=window_start,
        window_end=window_end,
        small_stop_threshold_s=threshold,
        open_until=now,
        silent=silent,
    )
    return sorted(folded.items())


def _floor_minute(instant: datetime) -> datetime:
    return instant.replace(second=0, microsecond=0)
