"""LineSettings: the body of PUT /api/v1/factories/{factory}/lines/{line}."""

from __future__ import annotations

import json
from datetime import UTC, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from schemas import LineSettings, Shift


def settings(**fields: Any) -> dict[str, Any]:
    return {"name": "Press line 1", **fields}


def shift(name: str, start: str, end: str, *breaks: tuple[str, str]) -> dict[str, Any]:
    return {
        "name": name,
        "start": start,
        "end": end,
        "breaks": [{"start": s, "end": e} for s, e in breaks],
    }


def test_the_schema_example_is_valid_and_round_trips() -> None:
    example = LineSettings.model_json_schema()["examples"][0]

    line = LineSettings.model_validate_json(json.dumps(example))

    assert line.model_dump(mode="json") == example
    assert line.zone() == ZoneInfo("Asia/Shanghai")


def test_defaults() -> None:
    line = LineSettings.model_validate(settings())

    assert line.timezone == "UTC" and line.zone() is UTC
    assert line.ideal_cycle_time_s is None and line.constraint_station is None
    assert line.shifts == ()
    assert line.small_stop_threshold_s == 0
    assert line.stale_after_s == 300


def test_the_contract_shift_reads_as_times_of_day() -> None:
    body = {"shifts": [shift("A", "06:00", "14:00", ("09:00", "09:15"), ("11:30", "12:00"))]}

    (first,) = LineSettings.model_validate(settings(**body)).shifts

    assert (first.start, first.end) == (time(6), time(14))
    assert first.length == timedelta(hours=8)
    assert first.break_time == timedelta(minutes=45)
    assert not first.crosses_midnight


def test_a_night_shift_crosses_midnight_with_a_break_across_it() -> None:
    night = Shift.model_validate(shift("N", "22:00", "06:00", ("23:45", "00:15")))

    assert night.crosses_midnight
    assert night.length == timedelta(hours=8)
    assert night.break_time == timedelta(minutes=30)


def test_a_shift_from_a_time_to_the_same_time_lasts_a_day() -> None:
    assert Shift.model_validate(shift("D", "06:00", "06:00")).length == timedelta(days=1)


def test_shifts_that_meet_do_not_overlap() -> None:
    body = {"shifts": [shift("A", "06:00", "14:00"), shift("B", "14:00", "22:00"),
                       shift("C", "22:00", "06:00")]}  # fmt: skip

    assert len(LineSettings.model_validate(settings(**body)).shifts) == 3


def test_numbers_may_be_whole_in_json() -> None:
    line = LineSettings.model_validate_json(
        '{"name": "L", "ideal_cycle_time_s": 2, "small_stop_threshold_s": 30}'
    )

    assert line.ideal_cycle_time_s == 2.0


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({}, "name"),
        (settings(name=""), "name"),
        (settings(name="   "), "name"),
        (settings(name="x" * 201), "name"),
        (settings(name=7), "name"),
        (settings(colour="red"), "colour"),
        (settings(timezone="Mars/Olympus"), "unknown time zone"),
        (settings(timezone="localtime"), "unknown time zone"),
        (settings(timezone="../../etc/passwd"), "unknown time zone"),
        (settings(timezone=8), "timezone"),
        (settings(ideal_cycle_time_s=0), "ideal_cycle_time_s"),
        (settings(ideal_cycle_time_s="1.0"), "ideal_cycle_time_s"),
        (settings(constraint_station="Press 2"), "constraint_station"),
        (settings(small_stop_threshold_s=-1), "small_stop_threshold_s"),
        (settings(stale_after_s=0), "stale_after_s"),
        (settings(shifts=[shift("A", "6:00", "14:00")]), "HH:MM"),
        (settings(shifts=[shift("A", "06:00", "24:00")]), "midnight is 00:00"),
        (settings(shifts=[shift("A", "06:00:00", "14:00")]), "HH:MM"),
        (settings(shifts=[shift("", "06:00", "14:00")]), "name"),
        (settings(shifts=[{**shift("A", "06:00", "14:00"), "days": "mon"}]), "days"),
        (settings(shifts=[shift("A", "06:00", "14:00", ("13:45", "14:15"))]), "not within shift"),
        (settings(shifts=[shift("A", "06:00", "14:00", ("05:00", "06:30"))]), "not within shift"),
        (settings(shifts=[shift("N", "22:00", "06:00", ("12:00", "12:30"))]), "not within shift"),
        (settings(shifts=[shift("A", "06:00", "14:00", ("09:00", "09:00"))]), "is empty"),
        (
            settings(shifts=[shift("A", "06:00", "14:00", ("09:00", "09:30"), ("09:15", "09:45"))]),
            "overlap",
        ),
        (settings(shifts=[shift("A", "06:00", "14:00"), shift("A", "14:00", "22:00")]), "unique"),
        (settings(shifts=[shift("A", "06:00", "14:00"), shift("B", "13:00", "22:00")]), "overlap"),
        (settings(shifts=[shift("N", "22:00", "06:00"), shift("E", "05:00", "07:00")]), "overlap"),
        (settings(shifts=[shift("D", "06:00", "06:00"), shift("E", "12:00", "13:00")]), "overlap"),
    ],
)
def test_invalid_settings_are_refused_with_a_hint(body: dict[str, Any], words: str) -> None:
    with pytest.raises(ValidationError) as caught:
        LineSettings.model_validate_json(json.dumps(body))

    assert words in str(caught.value)


def test_settings_are_frozen() -> None:
    line = LineSettings.model_validate(settings())

    with pytest.raises(ValidationError):
        line.name = "other"  # type: ignore[misc]


@pytest.mark.parametrize(
    "settings",
    [
        {"name": "Press\x00line"},
        {"name": "l1", "shifts": [{"name": "A\x00", "start": "06:00", "end": "14:00"}]},
        {"name": "l1", "materials": {"coil\x00": {"reorder_point": 1, "container_quantity": 2}}},
    ],
)
def test_a_nul_character_is_refused(settings: dict[str, Any]) -> None:
    with pytest.raises(ValidationError, match="NUL character"):
        LineSettings.model_validate(settings)
