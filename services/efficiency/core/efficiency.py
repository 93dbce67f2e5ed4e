"""`efficiency`: the OEE answer (docs/contract.md §5) from minute buckets and scheduled time.

Read-time rules (docs/design.md, "Line efficiency"):

- A bucket counts when its minute's start lies in a scheduled interval.
- Planned time = counted time − planned_stop − unknown. Unknown time (before a station's
  first event, or after ``open_until``) is left out like a planned stop: a line that starts
  sending mid-shift is not blamed for the time before.
- Downtime = time in down, setup, idle, starved, blocked, offline, small stops excepted.
- Run time = planned − downtime (= running + small stops).
- Ideal time = the buckets' `ideal_time_s` + `count_without_ideal` × the line's
  ``ideal_cycle_time_s``; without that setting, such parts add no ideal time.
- availability = run / planned; performance = ideal / run (not capped: above 1 shows a
  cycle time set too slow); quality = good / total; oee = their product. A ratio whose
  denominator is 0 is 0, so an answer over no planned time is all zeros. Ratios are
  rounded to 4 decimals, after oee is computed from the unrounded ones.
- Losses: breakdowns = down, setup = setup, small stops, slow cycles = run − ideal − small
  stops (not below 0), startup rejects, production rejects = scrap − startup rejects.
  Seconds are exact to the millisecond (durations are summed as integer ms).
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime

from services.efficiency.core.bucket import MinuteBucket
from services.efficiency.core.types import Interval, Millis

__all__ = ["Efficiency", "Losses", "efficiency", "efficiency_from_totals", "in_schedule"]


@dataclass(frozen=True, slots=True)
class Losses:
    """The six big losses: four in seconds, two in parts."""

    breakdowns_s: float
    setup_s: float
    small_stops_s: float
    slow_cycles_s: float
    startup_rejects: int
    production_rejects: int


@dataclass(frozen=True, slots=True)
class Efficiency:
    """The figures of an efficiency answer (the HTTP layer adds factory, line, start, end)."""

    availability: float
    performance: float
    quality: float
    oee: float
    planned_time_s: float
    run_time_s: float
    downtime_s: float
    total_count: int
    good_count: int
    scrap_count: int
    losses: Losses


@dataclass(slots=True)
class _Sums:
    planned_ms: Millis = 0
    downtime_ms: Millis = 0
    down_ms: Millis = 0
    setup_ms: Millis = 0
    small_ms: Millis = 0
    total: int = 0
    good: int = 0
    scrap: int = 0
    startup_scrap: int = 0
    count_without_ideal: int = 0

    def add(self, bucket: MinuteBucket) -> None:
        self.planned_ms += bucket.covered_ms - bucket.planned_stop_ms
        self.downtime_ms += bucket.downtime_ms
        self.down_ms += bucket.down_ms
        self.setup_ms += bucket.setup_ms
        self.small_ms += bucket.small_stop_ms
        self.total += bucket.total_count
        self.good += bucket.good_count
        self.scrap += bucket.scrap_count
        self.startup_scrap += bucket.startup_scrap
        self.count_without_ideal += bucket.count_without_ideal


def efficiency(
    buckets: Iterable[tuple[datetime, MinuteBucket]],
    scheduled: list[Interval],
    *,
    ideal_cycle_time_s: float | None,
) -> Efficiency:
    """OEE of the buckets whose minute starts inside `scheduled` (sorted, disjoint, UTC).

    `ideal_cycle_time_s` is the line's setting, for parts made under no order that names one.
    """
    return efficiency_from_totals(
        in_schedule(buckets, scheduled), ideal_cycle_time_s=ideal_cycle_time_s
    )


def in_schedule(
    buckets: Iterable[tuple[datetime, MinuteBucket]], scheduled: list[Interval]
) -> Iterator[MinuteBucket]:
    """The buckets whose minute starts inside `scheduled` (sorted, disjoint, UTC)."""
    starts = [low for low, _ in scheduled]
    for minute, bucket in buckets:
        index = bisect_right(starts, minute) - 1
        if index >= 0 and minute < scheduled[index][1]:
            yield bucket


def efficiency_from_totals(
    totals: Iterable[MinuteBucket], *, ideal_cycle_time_s: float | None
) -> Efficiency:
    """OEE of buckets already chosen as counting (their minutes scheduled), each maybe a sum.

    A "bucket" here may be the field-by-field sum of many minute buckets, as a database sums
    the stored columns over the scheduled minutes: every figure of the answer is a sum of
    bucket fields, so one summed bucket gives the same answer as its minutes one by one
    (``unknown_ms`` and ``down_by_reason`` are not read). `ideal_cycle_time_s` is the line's
    setting, for parts made under no order that names one.
    """
    sums, ideal_times = _Sums(), []
    for bucket in totals:
        sums.add(bucket)
        ideal_times.append(bucket.ideal_time_s)
    ideal_times.append(sums.count_without_ideal * (ideal_cycle_time_s or 0.0))
    return _answer(sums, math.fsum(ideal_times))


def _answer(sums: _Sums, ideal_s: float) -> Efficiency:
    run_ms = sums.planned_ms - sums.downtime_ms
    availability = _ratio(run_ms, sums.planned_ms)
    performance = _ratio(ideal_s * 1000, run_ms)
    quality = _ratio(sums.good, sums.total)
    slow_s = max(0.0, (run_ms - sums.small_ms) / 1000 - ideal_s)
    return Efficiency(
        availability=round(availability, 4),
        performance=round(performance, 4),
        quality=round(quality, 4),
        oee=round(availability * performance * quality, 4),
        planned_time_s=sums.planned_ms / 1000,
        run_time_s=run_ms / 1000,
        downtime_s=sums.downtime_ms / 1000,
        total_count=sums.total,
        good_count=sums.good,
        scrap_count=sums.scrap,
        losses=Losses(
            breakdowns_s=sums.down_ms / 1000,
            setup_s=sums.setup_ms / 1000,
            small_stops_s=sums.small_ms / 1000,
            slow_cycles_s=round(slow_s, 3),
            startup_rejects=sums.startup_scrap,
            production_rejects=sums.scrap - sums.startup_scrap,
        ),
    )


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator > 0 else 0.0
