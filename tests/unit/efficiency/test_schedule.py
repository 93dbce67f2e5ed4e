"""scheduled_intervals, wall_to_utc and periods: shifts, midnight, daylight saving."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from services.efficiency.core import periods, scheduled_intervals, wall_to_utc
from tests.unit.efficiency.builders import SHANGHAI, SHIFT_A, at, line

BERLIN, NEW_YORK = ZoneInfo("Europe/Berlin"), ZoneInfo("America/New_York")
NIGHT = {
    "name": "N",
    "start": "22:00",
    "end": "06:00",
    "breaks": [{"start": "02:00", "end": "02:30"}],
}


def utc(text: str) -> datetime:
    return at(text, UTC)


def hours(intervals: list[tuple[datetime, datetime]]) -> float:
    return sum((high - low).total_seconds() for low, high in intervals) / 3600


def test_no_shifts_schedules_all_time() -> None:
    start, end = utc("2026-11-02 00:00"), utc("2026-11-05 00:00")
    assert scheduled_intervals(line(), start, end) == [(start, end)]


def test_a_shift_minus_its_breaks_in_the_line_time_zone() -> None:
    got = scheduled_intervals(
        line("Asia/Shanghai", [SHIFT_A]),
        at("2026-11-02 00:00", SHANGHAI),
        at("2026-11-03 00:00", SHANGHAI),
    )
    # 06:00–09:00, 09:15–11:30, 12:00–14:00 at +08:00.
    assert got == [
        (utc("2026-11-01 22:00"), utc("2026-11-02 01:00")),
        (utc("2026-11-02 01:15"), utc("2026-11-02 03:30")),
        (utc("2026-11-02 04:00"), utc("2026-11-02 06:00")),
    ]


def test_a_shift_across_midnight_from_the_day_before_and_into_the_next() -> None:
    got = scheduled_intervals(
        line("Asia/Shanghai", [NIGHT]),
        at("2026-11-02 00:00", SHANGHAI),
        at("2026-11-03 00:00", SHANGHAI),
    )
    # local 00:00–02:00 and 02:30–06:00 (shift of the 1st), 22:00–24:00 (shift of the 2nd).
    assert got == [
        (utc("2026-11-01 16:00"), utc("2026-11-01 18:00")),
        (utc("2026-11-01 18:30"), utc("2026-11-01 22:00")),
        (utc("2026-11-02 14:00"), utc("2026-11-02 16:00")),
    ]


def test_adjacent_shifts_merge() -> None:
    shifts = [
        {"name": "A", "start": "06:00", "end": "14:00"},
        {"name": "B", "start": "14:00", "end": "22:00"},
    ]
    got = scheduled_intervals(line("UTC", shifts), utc("2026-11-02 00:00"), utc("2026-11-03 00:00"))
    assert got == [(utc("2026-11-02 06:00"), utc("2026-11-02 22:00"))]


@pytest.mark.parametrize(
    ("day", "clock", "zone", "expected"),
    [
        # Berlin springs forward 02:00 → 03:00 CEST at 01:00 UTC: 02:30 does not exist.
        (date(2026, 3, 29), time(2, 30), BERLIN, "2026-03-29 01:00"),
        (date(2026, 3, 29), time(3, 0), BERLIN, "2026-03-29 01:00"),
        (date(2026, 3, 29), time(1, 59), BERLIN, "2026-03-29 00:59"),
        # Berlin falls back 03:00 → 02:00 CET at 01:00 UTC: 02:30 occurs twice, first one.
        (date(2026, 10, 25), time(2, 30), BERLIN, "2026-10-25 00:30"),
        (date(2026, 10, 25), time(3, 0), BERLIN, "2026-10-25 02:00"),
        # New York: 02:00 → 03:00 EDT at 07:00 UTC; 01:30 twice on 1 Nov, first is EDT.
        (date(2026, 3, 8), time(2, 15), NEW_YORK, "2026-03-08 07:00"),
        (date(2026, 11, 1), time(1, 30), NEW_YORK, "2026-11-01 05:30"),
    ],
)
def test_wall_clock_times_on_daylight_saving_days(
    day: date, clock: time, zone: ZoneInfo, expected: str
) -> None:
    assert wall_to_utc(day, clock, zone) == utc(expected)


def test_night_shift_is_seven_hours_in_spring_and_nine_in_autumn_in_berlin() -> None:
    settings = line("Europe/Berlin", [{"name": "N", "start": "22:00", "end": "06:00"}])
    spring = scheduled_intervals(settings, utc("2026-03-28 12:00"), utc("2026-03-29 12:00"))
    autumn = scheduled_intervals(settings, utc("2026-10-24 12:00"), utc("2026-10-25 12:00"))
    assert spring == [(utc("2026-03-28 21:00"), utc("2026-03-29 04:00"))]
    assert autumn == [(utc("2026-10-24 20:00"), utc("2026-10-25 05:00"))]


def test_a_break_inside_the_spring_gap_is_empty() -> None:
    settings = line("Europe/Berlin", [NIGHT])
    got = scheduled_intervals(settings, utc("2026-03-28 12:00"), utc("2026-03-29 12:00"))
    # 22:00 CET (21:00 UTC) to 06:00 CEST (04:00 UTC); 02:00–02:30 does not exist.
    assert got == [(utc("2026-03-28 21:00"), utc("2026-03-29 04:00"))]
    assert (
        hours(scheduled_intervals(settings, utc("2026-10-24 12:00"), utc("2026-10-25 12:00")))
        == 8.5
    )


def test_new_york_shift_hours_on_both_daylight_saving_days() -> None:
    settings = line("America/New_York", [{"name": "N", "start": "20:00", "end": "04:00"}])
    assert (
        hours(scheduled_intervals(settings, utc("2026-03-07 12:00"), utc("2026-03-08 12:00"))) == 7
    )
    assert (
        hours(scheduled_intervals(settings, utc("2026-10-31 12:00"), utc("2026-11-01 12:00"))) == 9
    )


def test_days_and_hours_follow_the_local_clock_on_daylight_saving_days() -> None:
    settings = line("Europe/Berlin")
    day = periods(settings, utc("2026-03-28 23:00"), utc("2026-03-29 22:00"), "day")
    assert [(p.start, p.end) for p in day] == [(utc("2026-03-28 23:00"), utc("2026-03-29 22:00"))]
    assert len(periods(settings, utc("2026-03-28 23:00"), utc("2026-03-29 22:00"), "hour")) == 23
    autumn = periods(settings, utc("2026-10-24 22:00"), utc("2026-10-25 23:00"), "hour")
    assert len(autumn) == 25 and all(p.end - p.start == timedelta(hours=1) for p in autumn)
    two_days = periods(settings, utc("2026-10-24 22:00"), utc("2026-10-26 23:00"), "day")
    assert [p.end - p.start for p in two_days] == [timedelta(hours=25), timedelta(hours=24)]


def test_hours_in_a_half_hour_zone_start_on_the_local_hour() -> None:
    kolkata = periods(
        line("Asia/Kolkata"), utc("2026-11-02 00:00"), utc("2026-11-02 02:00"), "hour"
    )
    assert [p.start.minute for p in kolkata] == [0, 30, 30]


def test_shift_periods_name_their_shift_and_carry_its_scheduled_time() -> None:
    settings = line("Asia/Shanghai", [SHIFT_A, NIGHT])
    got = periods(
        settings, at("2026-11-02 00:00", SHANGHAI), at("2026-11-03 00:00", SHANGHAI), "shift"
    )
    assert [p.shift for p in got] == ["N", "A", "N"]
    assert [hours(list(p.scheduled)) for p in got] == [5.5, 7.25, 2.0]
    assert got[0].start == at("2026-11-02 00:00", SHANGHAI)
