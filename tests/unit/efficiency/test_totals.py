"""efficiency_from_totals: a field-by-field sum of buckets answers as the buckets one by one.

That is what lets the API sum the stored columns in SQL and still give the core's answer.
"""

from __future__ import annotations

from dataclasses import fields

from services.efficiency.core import (
    MinuteBucket,
    efficiency,
    efficiency_from_totals,
    fold_station,
    in_schedule,
    scheduled_intervals,
)
from tests.unit.efficiency.builders import SHANGHAI, at, line, machine, order, produced
from tests.unit.efficiency.test_schedule import SHIFT_A

_SUMMED = [f.name for f in fields(MinuteBucket) if f.name != "down_by_reason"]


def total(buckets: list[MinuteBucket]) -> MinuteBucket:
    """The buckets summed column by column, as ``SELECT sum(...)`` does."""
    return MinuteBucket(**{name: sum(getattr(b, name) for b in buckets) for name in _SUMMED})


def test_a_summed_bucket_answers_as_its_minutes() -> None:
    d = "2026-11-02 {}"
    changes = [
        machine(at(d.format(t), SHANGHAI), s, r)
        for t, s, r in [
            ("06:00", "running", None),
            ("07:12", "down", "jam"),
            ("07:59", "running", None),
            ("08:30", "idle", None),
            ("08:31", "running", None),
            ("09:40", "setup", None),
            ("09:55", "running", None),
            ("10:00", "planned_stop", None),
            ("10:15", "running", None),
            ("14:00", "idle", None),
        ]
    ]
    production = [
        produced(at(d.format("08:00"), SHANGHAI), 4000, 12),
        produced(at(d.format("10:00"), SHANGHAI), 700, 40),
        produced(at(d.format("13:00"), SHANGHAI), 9000, 100),
    ]
    orders = [order(at(d.format("09:56"), SHANGHAI), "start", "WO-1", 1.3)]
    start, end = at(d.format("00:00"), SHANGHAI), at(d.format("23:59"), SHANGHAI)
    buckets = fold_station(
        changes,
        production,
        orders,
        window_start=start,
        window_end=end,
        small_stop_threshold_s=120,
    )
    settings = line("Asia/Shanghai", [SHIFT_A], ideal=1.1)
    scheduled = scheduled_intervals(settings, start, end)
    one_by_one = efficiency(buckets.items(), scheduled, ideal_cycle_time_s=1.1)
    counted = list(in_schedule(buckets.items(), scheduled))
    summed = efficiency_from_totals([total(counted)], ideal_cycle_time_s=1.1)
    assert summed == one_by_one
    # A sum in two parts (stored minutes, then a live tail) answers the same too.
    split = efficiency_from_totals([total(counted[:100]), *counted[100:]], ideal_cycle_time_s=1.1)
    assert split == one_by_one
    assert one_by_one.losses.small_stops_s == 60
    assert one_by_one.losses.setup_s == 900


def test_nothing_counted_is_all_zeros() -> None:
    got = efficiency_from_totals([], ideal_cycle_time_s=None)
    assert (got.availability, got.oee, got.planned_time_s, got.total_count) == (0, 0, 0, 0)
