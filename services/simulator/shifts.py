"""The shift calendar: the shifts every simulated line works, cut into windows of time.

A line's time is a sequence of :class:`ShiftWindow` s in its factory's time zone: ``work`` inside a
shift, ``break`` during a scheduled break, ``off`` between shifts. The line simulation runs its
machines only in ``work`` windows; everything else is ``planned_stop``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Final, Literal
from zoneinfo import ZoneInfo

WindowKind = Literal["work", "break", "off"]


@dataclass(frozen=True, slots=True)
class Break:
    start: time
    end: time


@dataclass(frozen=True, slots=True)
class Shift:
    """A shift of one day, local time; it ends on the day it starts."""

    name: str
    start: time
    end: time
    breaks: tuple[Break, ...]

    def as_setting(self) -> dict[str, object]:
        """The shift as the API's line settings spell it (docs/contract.md §5)."""
        return {
            "name": self.name,
            "start": self.start.strftime("%H:%M"),
            "end": self.end.strftime("%H:%M"),
            "breaks": [
                {"start": b.start.strftime("%H:%M"), "end": b.end.strftime("%H:%M")}
                for b in self.breaks
            ],
        }


SHIFTS: Final = (
    Shift("A", time(6), time(14), (Break(time(9), time(9, 15)), Break(time(11, 30), time(12)))),
    Shift("B", time(14), time(22), (Break(time(17), time(17, 15)), Break(time(19, 30), time(20)))),
)


@dataclass(frozen=True, slots=True)
class ShiftWindow:
    """``[start, end)`` in POSIX seconds; ``shift`` is the shift it belongs to (None when off)."""

    start: float
    end: float
    kind: WindowKind
    shift: str | None


def _at(day: date, clock: time, zone: ZoneInfo) -> float:
    return datetime.combine(day, clock, tzinfo=zone).timestamp()


def _day_windows(day: date, zone: ZoneInfo, shifts: tuple[Shift, ...]) -> Iterator[ShiftWindow]:
    """The windows of one local day, from its midnight to the next, without gaps."""
    cursor = _at(day, time(0), zone)
    for shift in shifts:
        marks: list[tuple[float, WindowKind]] = [(_at(day, shift.start, zone), "work")]
        for pause in shift.breaks:
            marks.append((_at(day, pause.start, zone), "break"))
            marks.append((_at(day, pause.end, zone), "work"))
        first = marks[0][0]
        if first > cursor:
            yield ShiftWindow(cursor, first, "off", None)
        ends = [mark for mark, _ in marks[1:]] + [_at(day, shift.end, zone)]
        for (begin, kind), end in zip(marks, ends, strict=True):
            yield ShiftWindow(begin, end, kind, shift.name)
        cursor = ends[-1]
    midnight = _at(day + timedelta(days=1), time(0), zone)
    if midnight > cursor:
        yield ShiftWindow(cursor, midnight, "off", None)


def calendar_windows(
    zone: ZoneInfo, start: datetime, shifts: tuple[Shift, ...] = SHIFTS
) -> Iterator[ShiftWindow]:
    """The windows from ``start`` on, forever; the first one is cut to begin at ``start``.

    Adjacent ``off`` windows (22:00–24:00 and 00:00–06:00) are joined into one.
    """
    origin = start.timestamp()
    day = start.astimezone(zone).date()
    pending: ShiftWindow | None = None
    while True:
        for window in _day_windows(day, zone, shifts):
            if window.end <= origin:
                continue
            if window.start < origin:
                window = ShiftWindow(origin, window.end, window.kind, window.shift)
            if pending is not None and pending.kind == window.kind == "off":
                pending = ShiftWindow(pending.start, window.end, "off", None)
                continue
            if pending is not None:
                yield pending
            pending = window
        day += timedelta(days=1)
