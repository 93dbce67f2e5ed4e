"""efficiency and efficiency_by: whole scenarios, figures worked out by hand."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from schemas import LineSettings
from services.efficiency.core import (
    Efficiency,
    Losses,
    MachineChange,
    MinuteBucket,
    OrderChange,
    Production,
    efficiency,
    efficiency_by,
    fold_station,
    periods,
    scheduled_intervals,
)
from tests.unit.efficiency.builders import (
    SHANGHAI,
    SHIFT_A,
    at,
    contract_shift,
    line,
    machine,
    order,
    produced,
)
from tests.unit.efficiency.test_schedule import NIGHT


def answer(
    settings: LineSettings,
    changes: Sequence[MachineChange],
    production: Sequence[Production],
    orders: Sequence[OrderChange],
    start: datetime,
    end: datetime,
    threshold: float = 0,
    open_until: datetime | None = None,
) -> Efficiency:
    """Fold one station over [start, end) and read its efficiency over the line's shifts."""
    buckets = fold_station(
        changes,
        production,
        orders,
        window_start=start,
        window_end=end,
        small_stop_threshold_s=threshold,
        open_until=open_until,
    )
    scheduled = scheduled_intervals(settings, start, end)
    return efficiency(buckets.items(), scheduled, ideal_cycle_time_s=settings.ideal_cycle_time_s)


def test_the_contract_example_a_full_shift_with_breaks() -> None:
    # Shift A 06:00–14:00 (+08:00), breaks 09:00–09:15 and 11:30–12:00: 26 100 s scheduled.
    # planned_stop 10:00–10:15 (900 s): planned 25 200 s. down 07:12–07:59: 2 820 s.
    # run 22 380 s. 18 848 good + 423 scrap at 1 s/part (line setting): ideal 19 271 s.
    # A = 22380/25200 = .8881, P = 19271/22380 = .8611, Q = 18848/19271 = .9780,
    # OEE = 18848/25200 = .7479; slow cycles = 22380 − 19271 = 3 109 s.
    d = "2026-11-02 {}"
    changes, production = contract_shift()
    got = answer(
        line("Asia/Shanghai", [SHIFT_A]),
        changes,
        production,
        [],
        at(d.format("00:00"), SHANGHAI),
        at(d.format("23:59"), SHANGHAI),
    )
    assert got == Efficiency(
        availability=0.8881,
        performance=0.8611,
        quality=0.978,
        oee=0.7479,
        planned_time_s=25_200,
        run_time_s=22_380,
        downtime_s=2_820,
        total_count=19_271,
        good_count=18_848,
        scrap_count=423,
        losses=Losses(
            breakdowns_s=2_820,
            setup_s=0,
            small_stops_s=0,
            slow_cycles_s=3_109,
            startup_rejects=0,
            production_rejects=423,
        ),
    )


def test_a_setup_at_an_order_change_with_another_cycle_time() -> None:
    # All time scheduled 08:00–10:00 UTC. Running 08:00–09:00 and 09:20–10:00 (6 000 s),
    # setup 09:00–09:20 (1 200 s). Parts: 3 000 good under WO-1 (1 s), then those of
    # test_fold's table: ideal 3000 + 60 + 240 + 410 + 614 = 4 324 s; good 3 650, scrap 42
    # (startup 25, production 17), total 3 692.
    # A = 6000/7200 = .8333, P = 4324/6000 = .7207, Q = 3650/3692 = .9886,
    # OEE = 4324·3650 / (7200·3692) = .5937; slow = 6000 − 4324 = 1 676 s.
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
        produced(at("2026-11-02 08:59"), 3000),
        produced(at("2026-11-02 09:00"), 50, 10),
        produced(at("2026-11-02 09:25"), 100, 20),
        produced(at("2026-11-02 09:30"), 200, 5),
        produced(at("2026-11-02 09:40"), 300, 7),
    ]
    got = answer(
        line(ideal=None),
        changes,
        production,
        orders,
        at("2026-11-02 08:00"),
        at("2026-11-02 10:00"),
        open_until=at("2026-11-02 10:00"),
    )
    assert (got.availability, got.performance, got.quality, got.oee) == (
        0.8333,
        0.7207,
        0.9886,
        0.5937,
    )
    assert got.losses == Losses(
        breakdowns_s=0,
        setup_s=1_200,
        small_stops_s=0,
        slow_cycles_s=1_676,
        startup_rejects=25,
        production_rejects=17,
    )


def test_small_stops_count_as_run_time_and_a_planned_stop_as_no_time() -> None:
    # The stops of test_fold's small-stop table, 10:00–10:30 UTC, threshold 120 s:
    # planned 1 800 − 120 (planned stop) = 1 680 s; downtime 120 + 180 = 300 s; run 1 380 s,
    # of which 160 s small stops. 1 200 parts at 1 s: A = .8214, P = 1200/1380 = .8696,
    # OEE = 1200/1680 = .7143; slow = 1380 − 1200 − 160 = 20 s.
    t = "2026-11-02 10:{}"
    changes = [
        machine(at(t.format(m)), s)
        for m, s in [
            ("00:00", "running"),
            ("05:00", "down"),
            ("06:00", "running"),
            ("10:00", "idle"),
            ("10:40", "starved"),
            ("11:40", "running"),
            ("15:00", "blocked"),
            ("17:00", "running"),
            ("20:00", "down"),
            ("23:00", "running"),
            ("25:00", "planned_stop"),
            ("27:00", "running"),
        ]
    ]
    production = [produced(at(t.format("29:59")), 1200)]
    window = (at(t.format("00")), at(t.format("30")))
    got = answer(line(), changes, production, [], *window, 120, at(t.format("30:00")))
    assert (got.planned_time_s, got.downtime_s, got.run_time_s) == (1_680, 300, 1_380)
    assert (got.availability, got.performance, got.quality, got.oee) == (0.8214, 0.8696, 1, 0.7143)
    assert got.losses == Losses(
        breakdowns_s=180,
        setup_s=0,
        small_stops_s=160,
        slow_cycles_s=20,
        startup_rejects=0,
        production_rejects=0,
    )
    # Threshold 0: every stop is downtime: 60 + 100 + 120 + 180 = 460 s.
    strict = answer(line(), changes, production, [], *window, 0, at(t.format("30:00")))
    assert (strict.downtime_s, strict.run_time_s, strict.losses.small_stops_s) == (460, 1_220, 0)


def test_a_night_shift_across_midnight_with_a_breakdown_across_midnight() -> None:
    # Shift N 22:00–06:00 (+08:00), break 02:00–02:30: 27 000 s planned. Down 23:50–00:10:
    # 1 200 s. A = 25800/27000 = .9556. No parts: P = Q = OEE = 0.
    changes = [
        machine(at("2026-11-01 21:00", SHANGHAI), "running"),
        machine(at("2026-11-01 23:50", SHANGHAI), "down", "jam"),
        machine(at("2026-11-02 00:10", SHANGHAI), "running"),
    ]
    got = answer(
        line("Asia/Shanghai", [NIGHT]),
        changes,
        [],
        [],
        at("2026-11-01 12:00", SHANGHAI),
        at("2026-11-02 12:00", SHANGHAI),
        open_until=at("2026-11-02 12:00", SHANGHAI),
    )
    assert (got.planned_time_s, got.downtime_s, got.availability) == (27_000, 1_200, 0.9556)
    assert (got.performance, got.quality, got.oee) == (0, 0, 0)


def test_daylight_saving_nights_in_berlin_plan_seven_and_nine_hours() -> None:
    settings = line("Europe/Berlin", [{"name": "N", "start": "22:00", "end": "06:00"}])
    for day, planned in (("2026-03-28", 7 * 3600), ("2026-10-24", 9 * 3600)):
        start = at(f"{day} 12:00")
        end = start.replace(day=start.day + 1)
        got = answer(settings, [machine(start, "running")], [], [], start, end, open_until=end)
        assert (got.planned_time_s, got.availability) == (planned, 1)


def test_unknown_time_before_the_first_event_is_not_planned() -> None:
    # Scheduled 06:00–14:00 UTC; the station speaks first at 10:00: planned 4 h, not 8.
    shift = [{"name": "A", "start": "06:00", "end": "14:00"}]
    got = answer(
        line("UTC", shift),
        [machine(at("2026-11-02 10:00"), "running")],
        [],
        [],
        at("2026-11-02 00:00"),
        at("2026-11-03 00:00"),
        open_until=at("2026-11-03 00:00"),
    )
    assert (got.planned_time_s, got.availability) == (4 * 3600, 1)


def test_no_planned_time_answers_zeros() -> None:
    empty = efficiency([(at("2026-11-02 10:00"), MinuteBucket())], [], ideal_cycle_time_s=1.0)
    assert empty == Efficiency(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, Losses(0, 0, 0, 0, 0, 0))


def test_efficiency_by_shift_splits_the_answer() -> None:
    settings = line("Asia/Shanghai", [SHIFT_A, NIGHT])
    start, end = at("2026-11-02 00:00", SHANGHAI), at("2026-11-03 00:00", SHANGHAI)
    buckets = fold_station(
        [machine(start, "running")],
        [],
        [],
        window_start=start,
        window_end=end,
        small_stop_threshold_s=0,
        open_until=end,
    )
    by_shift = efficiency_by(
        buckets.items(), periods(settings, start, end, "shift"), ideal_cycle_time_s=1.0
    )
    assert [(p.shift, e.planned_time_s) for p, e in by_shift] == [
        ("N", 5.5 * 3600),
        ("A", 7.25 * 3600),
        ("N", 2 * 3600),
    ]
    whole = efficiency(
        buckets.items(), scheduled_intervals(settings, start, end), ideal_cycle_time_s=1.0
    )
    assert whole.planned_time_s == sum(e.planned_time_s for _, e in by_shift)
    assert start.astimezone(UTC).hour == 16
