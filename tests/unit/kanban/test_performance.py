"""Performance over the last 10 whole minutes, and which minutes those are."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from kanban.performance import RunWindow, recent_performance, recent_window


def run(run_s: float, ideal_s: float = 0.0, without: int = 0, total: int = 0) -> RunWindow:
    return RunWindow(int(run_s * 1000), ideal_s, without, total)


@pytest.mark.parametrize(
    ("window", "line_cycle", "expected"),
    [
        (run(600, ideal_s=540, total=540), None, 0.9),  # parts under an order's cycle time
        (run(600, without=450, total=450), 1.0, 0.75),  # the line's cycle time for the rest
        (run(600, ideal_s=300, without=150, total=450), 2.0, 1.0),  # both
        (run(600, total=0), 1.0, 0.0),  # running without a part, at a known cycle time
        (run(480, ideal_s=500, total=500), None, 1.0417),  # not capped
        (run(600, ideal_s=1 / 3 * 600, total=600), None, 0.3333),  # 4 decimals
        (run(0, ideal_s=5, total=5), 1.0, None),  # no run time
        (run(600, ideal_s=300, without=10, total=310), None, None),  # parts of unknown cycle
        (run(600, total=0), None, None),  # no part, no cycle time known
    ],
)
def test_performance_of_the_last_minutes(
    window: RunWindow, line_cycle: float | None, expected: float | None
) -> None:
    assert recent_performance(window, ideal_cycle_time_s=line_cycle) == expected


@pytest.mark.parametrize(
    ("now", "start", "end"),
    [
        ("2026-11-02T10:07:31.5+00:00", "2026-11-02T09:57:00+00:00", "2026-11-02T10:07:00+00:00"),
        ("2026-11-02T10:07:00+00:00", "2026-11-02T09:57:00+00:00", "2026-11-02T10:07:00+00:00"),
        ("2026-11-02T18:07:59+08:00", "2026-11-02T09:57:00+00:00", "2026-11-02T10:07:00+00:00"),
    ],
)
def test_the_window_is_the_ten_whole_minutes_before_nows(now: str, start: str, end: str) -> None:
    low, high = recent_window(datetime.fromisoformat(now))
    assert (low, high) == (datetime.fromisoformat(start), datetime.fromisoformat(end))
    assert high - low == timedelta(minutes=10) and high.tzinfo is UTC
