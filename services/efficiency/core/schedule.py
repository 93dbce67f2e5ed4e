"""Scheduled time: a line's shifts minus their breaks, as UTC intervals.

Shifts and breaks are wall-clock times in the line's time zone, repeated every local day
(`LineSettings`). A wall-clock time becomes an instant by `wall_to_utc`, whose rule on
daylight-saving days is:

- a time that occurs twice (clocks set back) is its *first* occurrence;
- a time that does not exist (clocks set forward) is the first instant after the gap, e.g.
  02:30 in Europe/Berlin on 2026-03-29 is 03:00 CEST (01:00 UTC).

The rule is monotonic, so a shift or break never turns inside out; one that falls wholly in
a gap is empty. A night shift 22:00–06:00 thus lasts 7 h on the spring day, 9 h in autumn.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from schemas.line_settings import LineSettings, Shift
from services.efficiency.core.types import Interval, require_aware

__all__ = [
    "ShiftOccurrence",
    "clip",
    "merge",
    "scheduled_intervals",
    "shift_occurrences",
    "wall_to_utc",
]

_DAY = timedelta(days=1)
_SECOND = timedelta(seconds=1)


@dataclass(frozen=True, slots=True)
class ShiftOccurrence:
    """One shift on one local day: its name, start day, UTC bounds and breaks."""

    name: str
    day: date
    start: datetime
    end: datetime
    breaks: tuple[Interval, ...]

    def working(self) -> list[Interval]:
        """The shift minus its breaks, sorted."""
        pieces: list[Interval] = []
        cursor = self.start
        for brk_start, brk_end in sorted(self.breaks):
            if brk_start > cursor:
                pieces.append((cursor, brk_start))
            cursor = max(cursor, brk_end)
        if cursor < self.end:
            pieces.append((cursor, self.end))
        return pieces


def wall_to_utc(day: date, clock: time, zone: tzinfo) -> datetime:
    """The UTC instant of wall-clock `clock` on local `day` (DST rule in the module doc)."""
    local = datetime.combine(day, clock, tzinfo=zone)  # fold=0: first occurrence
    instant = local.astimezone(UTC)
    if instant.astimezone(zone).replace(tzinfo=None) == local.replace(tzinfo=None):
        return instant
    # In a gap: fold=1 reads it with the offset after the gap (an instant before the
    # transition), fold=0 with the one before (an instant after). Find the transition.
    low, high = local.replace(fold=1).astimezone(UTC), instant
    before = low.astimezone(zone).utcoffset()
    while high - low > _SECOND:
        middle = low + (high - low) // 2
        if middle.astimezone(zone).utcoffset() == before:
            low = middle
        else:
            high = middle
    return high.replace(microsecond=0)


def shift_occurrences(
    settings: LineSettings, start: datetime, end: datetime
) -> list[ShiftOccurrence]:
    """Every shift occurrence overlapping ``[start, end)``, sorted, unclipped."""
    start, end = require_aware(start, "start"), require_aware(end, "end")
    zone = settings.zone()
    first, last = start.astimezone(zone).date() - _DAY, end.astimezone(zone).date()
    found: list[ShiftOccurrence] = []
    day = first
    while day <= last:
        for shift in settings.shifts:
            occurrence = _occurrence(shift, day, zone)
            if occurrence.start < end and occurrence.end > start:
                found.append(occurrence)
        day += _DAY
    return sorted(found, key=lambda occurrence: occurrence.start)


def _occurrence(shift: Shift, day: date, zone: tzinfo) -> ShiftOccurrence:
    end_day = day + _DAY if shift.crosses_midnight else day
    breaks = []
    for brk in shift.breaks:
        # A break before the shift's start time of day lies on the shift's second day.
        brk_day = day if brk.start >= shift.start else day + _DAY
        brk_end_day = brk_day if brk.end > brk.start else brk_day + _DAY
        breaks.append(
            (wall_to_utc(brk_day, brk.start, zone), wall_to_utc(brk_end_day, brk.end, zone))
        )
    return ShiftOccurrence(
        shift.name,
        day,
        wall_to_utc(day, shift.start, zone),
        wall_to_utc(end_day, shift.end, zone),
        tuple(breaks),
    )


def scheduled_intervals(settings: LineSettings, start: datetime, end: datetime) -> list[Interval]:
    """Scheduled time within ``[start, end)``: UTC intervals, merged and sorted.

    All of ``[start, end)`` when the line has no shifts; else its shifts minus their breaks.
    """
    start, end = require_aware(start, "start"), require_aware(end, "end")
    if not settings.shifts:
        return [(start, end)] if start < end else []
    pieces = [
        piece
        for occurrence in shift_occurrences(settings, start, end)
        for piece in occurrence.working()
    ]
    return merge(clip(pieces, start, end))


def clip(intervals: Iterable[Interval], start: datetime, end: datetime) -> list[Interval]:
    """The non-empty parts of `intervals` within ``[start, end)``."""
    clipped = [(max(low, start), min(high, end)) for low, high in intervals]
    return [(low, high) for low, high in clipped if low < high]


def merge(intervals: Iterable[Interval]) -> list[Interval]:
    """Sorted intervals, overlapping and touching ones joined."""
    merged: list[Interval] = []
    for low, high in sorted(intervals):
        if merged and low <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], high))
        else:
            merged.append((low, high))
    return merged
