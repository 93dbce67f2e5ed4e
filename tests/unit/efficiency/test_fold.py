"""fold_station: tables of events with their buckets worked out by hand."""

from __future__ import annotations

from datetime import UTC, timedelta

import pytest

from services.efficiency.core import (
    EfficiencyCoreError,
    MinuteBucket,
    fold_station,
)
from tests.unit.efficiency.builders import at, machine, order, produced

MIN = 60_000


def total(buckets: dict[object, MinuteBucket], name: str) -> int:
    return sum(getattr(bucket, name) for bucket in buckets.values())


def test_every_minute_of_the_window_is_present_and_unknown_without_events() -> None:
    buckets = fold_station(
        [],
        [],
        [],
        window_start=at("2026-11-02 10:00"),
        window_end=at("2026-11-02 10:03"),
        small_stop_threshold_s=0,
    )
    assert list(buckets) == [at("2026-11-02 10:00") + timedelta(minutes=i) for i in range(3)]
    assert all(bucket == MinuteBucket() for bucket in buckets.values())
    assert all(bucket.unknown_ms == MIN for bucket in buckets.values())


def test_an_interval_across_midnight_is_split_exactly_at_minute_boundaries() -> None:
    # down 23:59:30 → 00:00:45: 30 s in the 23:59 minute, 45 s in the 00:00 minute;
    # before 23:59:30 nothing is known, after 00:00:45 running until open_until 00:01:00.
    changes = [
        machine(at("2026-11-02 23:59:30"), "down", "jam"),
        machine(at("2026-11-03 00:00:45"), "running"),
    ]
    buckets = fold_station(
        changes,
        [],
        [],
        window_start=at("2026-11-02 23:59"),
        window_end=at("2026-11-03 00:01"),
        small_stop_threshold_s=0,
        open_until=at("2026-11-03 00:01"),
    )
    before, after = buckets[at("2026-11-02 23:59")], buckets[at("2026-11-03 00:00")]
    assert (before.unknown_ms, before.down_ms, before.down_by_reason) == (
        30_000,
        30_000,
        (("jam", 30_000),),
    )
    assert (after.down_ms, after.running_ms, after.unknown_ms) == (45_000, 15_000, 0)


def test_open_until_decides_how_long_the_last_state_lasts() -> None:
    changes = [machine(at("2026-11-02 10:00:20"), "running")]
    window = {"window_start": at("2026-11-02 10:00"), "window_end": at("2026-11-02 10:03")}
    # None: the last state lasts until its next change, unknown yet: counts for nothing.
    closed = fold_station(changes, [], [], small_stop_threshold_s=0, **window)
    assert total(closed, "running_ms") == 0 and total(closed, "unknown_ms") == 3 * MIN
    # 10:01:30: running 40 s + 30 s, the rest unknown.
    open_ = fold_station(
        changes, [], [], small_stop_threshold_s=0, open_until=at("2026-11-02 10:01:30"), **window
    )
    assert [b.running_ms for b in open_.values()] == [40_000, 30_000, 0]
    assert [b.unknown_ms for b in open_.values()] == [20_000, 30_000, MIN]
    # Before the last change, open_until changes nothing.
    early = fold_station(
        changes, [], [], small_stop_threshold_s=0, open_until=at("2026-11-02 10:00:10"), **window
    )
    assert early == closed


def test_small_stops_below_the_threshold_and_not_at_or_above_it() -> None:
    t = "2026-11-02 10:{}"
    changes = [
        machine(at(t.format("00:00")), "running"),
        machine(at(t.format("05:00")), "down", "jam"),  # 60 s: small
        machine(at(t.format("06:00")), "running"),
        machine(at(t.format("10:00")), "idle"),  # idle 40 s + starved 60 s: one stop of 100 s
        machine(at(t.format("10:40")), "starved"),
        machine(at(t.format("11:40")), "running"),
        machine(at(t.format("15:00")), "blocked"),  # 120 s: not below 120, downtime
        machine(at(t.format("17:00")), "running"),
        machine(at(t.format("20:00")), "down", "motor"),  # 180 s: downtime
        machine(at(t.format("23:00")), "running"),
        machine(at(t.format("25:00")), "planned_stop"),  # ends no stop, is none
        machine(at(t.format("27:00")), "running"),
    ]
    buckets = fold_station(
        changes,
        [],
        [],
        window_start=at(t.format("00")),
        window_end=at(t.format("30")),
        small_stop_threshold_s=120,
        open_until=at(t.format("30:00")),
    )
    assert total(buckets, "small_stop_ms") == 160_000
    assert (total(buckets, "idle_ms"), total(buckets, "starved_ms")) == (0, 0)
    assert (total(buckets, "blocked_ms"), total(buckets, "down_ms")) == (120_000, 180_000)
    assert total(buckets, "planned_stop_ms") == 120_000
    # 1 800 s − 160 − 120 − 180 − 120 = 1 220 s running.
    assert total(buckets, "running_ms") == 1_220_000
    reasons = [b.down_by_reason for b in buckets.values() if b.down_by_reason]
    assert reasons == [(("motor", MIN),)] * 3


def test_startup_and_production_rejects_and_ideal_time_by_order() -> None:
    # WO-1 (1 s/part) runs 08:00–09:00; setup 09:00–09:20; WO-2 (2 s/part) from 09:00.
    changes = [
        machine(at("2026-11-02 08:00"), "running"),
        machine(at("2026-11-02 09:00"), "setup", "changeover"),
        machine(at("2026-11-02 09:20"), "running"),
    ]
    orders = [
        order(at("2026-11-02 08:00"), "start", "WO-1", 1.0),
        order(at("2026-11-02 09:00"), "end", "WO-1"),
        order(at("2026-11-02 09:00"), "start", "WO-2", 2.0),
    ]
    production = [
        produced(at("2026-11-02 09:00:00"), 50, 10),  # made before 09:00: WO-1, not startup
        produced(at("2026-11-02 09:25:00"), 100, 20),  # 300 s after setup: startup
        produced(at("2026-11-02 09:30:00"), 200, 5),  # exactly 600 s after: startup
        produced(at("2026-11-02 09:40:00"), 300, 7),  # 1 200 s after: production rejects
    ]
    buckets = fold_station(
        changes,
        production,
        orders,
        window_start=at("2026-11-02 08:00"),
        window_end=at("2026-11-02 10:00"),
        small_stop_threshold_s=0,
    )
    figures = {
        minute.strftime("%H:%M"): (b.total_count, b.scrap_count, b.startup_scrap, b.ideal_time_s)
        for minute, b in buckets.items()
        if b.total_count
    }
    assert figures == {
        "09:00": (60, 10, 0, 60.0),
        "09:25": (120, 20, 20, 240.0),
        "09:30": (205, 5, 5, 410.0),
        "09:40": (307, 7, 0, 614.0),
    }
    assert total(buckets, "setup_ms") == 1_200_000
    assert total(buckets, "count_without_ideal") == 0


def test_parts_under_no_order_or_an_order_without_cycle_time_have_no_ideal_time() -> None:
    orders = [
        order(at("2026-11-02 08:10"), "start", "WO-1"),  # names no cycle time
        order(at("2026-11-02 08:20"), "start", "WO-2", 3.0),
        order(at("2026-11-02 08:30"), "end", "WO-1"),  # not running: no effect
        order(at("2026-11-02 08:40"), "end", "WO-2"),
    ]
    production = [produced(at(f"2026-11-02 08:{m}:30"), 10) for m in ("05", "15", "35", "45")]
    buckets = fold_station(
        [],
        production,
        orders,
        window_start=at("2026-11-02 08:00"),
        window_end=at("2026-11-02 09:00"),
        small_stop_threshold_s=0,
    )
    assert total(buckets, "count_without_ideal") == 30
    assert total(buckets, "ideal_time_s") == 30.0


def test_production_outside_the_window_is_left_out() -> None:
    production = [produced(at("2026-11-02 07:59:59"), 5), produced(at("2026-11-02 08:01"), 5)]
    buckets = fold_station(
        [],
        production,
        [],
        window_start=at("2026-11-02 08:00"),
        window_end=at("2026-11-02 08:01"),
        small_stop_threshold_s=0,
    )
    assert total(buckets, "total_count") == 0


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (at("2026-11-02 08:00:30"), at("2026-11-02 09:00")),
        (at("2026-11-02 08:00"), at("2026-11-02 08:00:00") + timedelta(microseconds=1)),
        (at("2026-11-02 09:00"), at("2026-11-02 08:00")),
        (at("2026-11-02 08:00").replace(tzinfo=None), at("2026-11-02 09:00")),
    ],
)
def test_bad_windows_are_refused(start: object, end: object) -> None:
    with pytest.raises(EfficiencyCoreError):
        fold_station(
            [],
            [],
            [],
            window_start=start,
            window_end=end,  # type: ignore[arg-type]
            small_stop_threshold_s=0,
        )


def test_an_empty_window_has_no_buckets() -> None:
    instant = at("2026-11-02 08:00")
    assert (
        fold_station([], [], [], window_start=instant, window_end=instant, small_stop_threshold_s=0)
        == {}
    )
    assert instant.tzinfo is UTC
