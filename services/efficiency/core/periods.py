"""Periods for ``?granularity=``: local hours, shift occurrences or local days.

Each `Period` carries its own part of the scheduled time, so that the efficiency of a period
is `efficiency(buckets, period.scheduled, ...)`; `efficiency_by` does that for all periods,
reading each bucket once. Hours and days are those of the line's time zone: a local day is
23 or 25 hours long on a daylight-saving day, and hours follow the local clock (hour
boundaries are found by flooring local time, exact for offsets that change on whole hours).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from schemas.line_settings import LineSettings
from services.efficiency.core.bucket import MinuteBucket
from services.efficiency.core.efficiency import Efficiency, efficiency
from services.efficiency.core.schedule import (
    clip,
    merge,
    scheduled_intervals,
    shift_occurrences,
    wall_to_utc,
)
from services.efficiency.core.types import Granularity, Interval, require_aware

__all__ = ["Period", "efficiency_by", "periods"]


@dataclass(frozen=True, slots=True)
class Period:
    """``[start, end)`` in UTC; `shift` names the shift of a shift period."""

    start: datetime
    end: datetime
    shift: str | None
    scheduled: tuple[Interval, ...]


def periods(
    settings: LineSettings, start: datetime, end: datetime, granularity: Granularity
) -> list[Period]:
    """The periods of ``[start, end)``, clipped to it, in time order.

    Hours and days: every one overlapping the range, scheduled or not. Shifts: every shift
    occurrence overlapping the range (time outside shifts is in no period).
    """
    start, end = require_aware(start, "start"), require_aware(end, "end")
    scheduled = scheduled_intervals(settings, start, end)
    if granularity == "shift":
        return [
            Period(
                max(occ.start, start),
                min(occ.end, end),
                occ.name,
                tuple(merge(clip(occ.working(), start, end))),
            )
            for occ in shift_occurrences(settings, start, end)
        ]
    bounds = (
        _hour_bounds(settings, start, end)
        if granularity == "hour"
        else _day_bounds(settings, start, end)
    )
    return [
        Period(low, high, None, tuple(clip(scheduled, low, high)))
        for low, high in zip(bounds, bounds[1:], strict=False)
    ]


def _hour_bounds(settings: LineSettings, start: datetime, end: datetime) -> list[datetime]:
    zone, bounds, instant = settings.zone(), [start], start
    while True:
        local = (instant + timedelta(hours=1)).astimezone(zone)
        instant = local.astimezone(UTC) - timedelta(
            minutes=local.minute, seconds=local.second, microseconds=local.microsecond
        )
        if instant >= end:
            return [*bounds, end]
        bounds.append(instant)


def _day_bounds(settings: LineSettings, start: datetime, end: datetime) -> list[datetime]:
    zone, bounds = settings.zone(), [start]
    day = start.astimezone(zone).date() + timedelta(days=1)
    while (midnight := wall_to_utc(day, time(0, 0), zone)) < end:
        bounds.append(midnight)
        day += timedelta(days=1)
    return [*bounds, end]


def efficiency_by(
    buckets: Iterable[tuple[datetime, MinuteBucket]],
    chosen: list[Period],
    *,
    ideal_cycle_time_s: float | None,
) -> list[tuple[Period, Efficiency]]:
    """The efficiency of each period, from the buckets of the whole range."""
    ordered = sorted(buckets, key=lambda item: item[0])
    minutes = [minute for minute, _ in ordered]
    answers = []
    for period in chosen:
        low, high = bisect_left(minutes, period.start), bisect_left(minutes, period.end)
        answers.append(
            (
                period,
                efficiency(
                    ordered[low:high], list(period.scheduled), ideal_cycle_time_s=ideal_cycle_time_s
                ),
            )
        )
    return answers
