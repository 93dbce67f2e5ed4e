"""The shift calendar and the layout of the simulated lines."""

from __future__ import annotations

import itertools
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from schemas.line_settings import LineSettings
from services.simulator.layout import (
    STATION_CHAIN,
    factory_timezone,
    line_profile,
    line_settings_for,
)
from services.simulator.shifts import ShiftWindow, calendar_windows

SHANGHAI = ZoneInfo("Asia/Shanghai")
BERLIN = ZoneInfo("Europe/Berlin")


def _local(windows: list[ShiftWindow], zone: ZoneInfo) -> list[tuple[str, str, str, str | None]]:
    def hhmm(t: float) -> str:
        return datetime.fromtimestamp(t, zone).strftime("%H:%M")

    return [(hhmm(w.start), hhmm(w.end), w.kind, w.shift) for w in windows]


def test_a_day_is_cut_into_shifts_breaks_and_off_time() -> None:
    start = datetime(2026, 11, 2, tzinfo=SHANGHAI)
    windows = list(itertools.islice(calendar_windows(SHANGHAI, start), 12))
    assert _local(windows, SHANGHAI) == [
        ("00:00", "06:00", "off", None),
        ("06:00", "09:00", "work", "A"),
        ("09:00", "09:15", "break", "A"),
        ("09:15", "11:30", "work", "A"),
        ("11:30", "12:00", "break", "A"),
        ("12:00", "14:00", "work", "A"),
        ("14:00", "17:00", "work", "B"),
        ("17:00", "17:15", "break", "B"),
        ("17:15", "19:30", "work", "B"),
        ("19:30", "20:00", "break", "B"),
        ("20:00", "22:00", "work", "B"),
        ("22:00", "06:00", "off", None),  # through midnight, one window
    ]


def test_the_first_window_starts_at_the_start() -> None:
    start = datetime(2026, 11, 2, 9, 5, 30, tzinfo=SHANGHAI)
    first = next(calendar_windows(SHANGHAI, start))
    assert first.start == start.timestamp()
    assert (first.kind, first.shift) == ("break", "A")


def test_windows_follow_each_other_across_a_daylight_saving_change() -> None:
    start = datetime(2026, 10, 24, 12, tzinfo=BERLIN)  # clocks go back on the 25th
    windows = list(itertools.islice(calendar_windows(BERLIN, start), 30))
    assert all(a.end == b.start for a, b in itertools.pairwise(windows))
    night = next(w for w in windows if w.kind == "off")
    assert night.end - night.start == 9 * 3600  # 22:00 to 06:00 with an extra hour


@pytest.mark.parametrize(("factory", "line"), [("f1", "l1"), ("f1", "l2"), ("f7", "l40")])
def test_a_line_has_three_to_five_stations_and_one_constraint(factory: str, line: str) -> None:
    profile = line_profile(factory, line)
    assert 3 <= len(profile.stations) <= 5
    assert list(profile.stations) == [s for s in STATION_CHAIN if s in profile.stations]
    assert profile.constraint in profile.stations[1:-1]
    assert {m.station for m in profile.materials} <= set(profile.stations)
    for shift in ("A", "B"):
        assert {op.station for op in profile.crew(shift)} <= set(profile.stations)
    assert 0.0 < profile.speed_loss < 0.1


def test_the_settings_match_the_simulated_line() -> None:
    profile = line_profile("f2", "l3")
    settings = line_settings_for("f2", "l3")
    assert settings["constraint_station"] == profile.constraint
    assert settings["ideal_cycle_time_s"] == profile.ideal_cycle_time_s
    assert settings["timezone"] == profile.timezone
    assert settings["small_stop_threshold_s"] == 120.0
    assert settings["materials"] == {
        m.material_id: {"reorder_point": m.reorder_at, "container_quantity": m.lot}
        for m in profile.materials
    }
    LineSettings.model_validate(settings)  # what `up` PUTs is valid
    assert line_settings_for("f2", "l3") == settings  # names alone decide, not the seed


def test_factories_are_mostly_in_shanghai() -> None:
    zones = [factory_timezone(f"f{i}") for i in range(1, 7)]
    assert zones[0] == "Asia/Shanghai"
    assert zones.count("Asia/Shanghai") == 3
    assert factory_timezone("plant-north") == factory_timezone("plant-north")


def test_the_lines_of_a_factory_vary() -> None:
    constraints = {line_profile("f1", f"l{i}").constraint for i in range(1, 60)}
    assert constraints == {"press", "weld", "paint"}
    assert {len(line_profile("f1", f"l{i}").stations) for i in range(1, 60)} == {3, 4, 5}
