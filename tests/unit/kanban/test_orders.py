"""Target against actual of a work order: tables of cases, and properties."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kanban.orders import WorkOrder, counted_station, order_progress
from schemas.line_settings import LineSettings

NOW = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)
LINE = LineSettings(name="l1")


def ago(seconds: float) -> datetime:
    return NOW - timedelta(seconds=seconds)


def order(**fields: Any) -> WorkOrder:
    values: dict[str, Any] = {
        "order_id": "WO-1",
        "product_id": "bracket-a",
        "target_quantity": 5000,
        "started_at": ago(3600),
        "ideal_cycle_time_s": 1.0,
    }
    return WorkOrder(**{**values, **fields})


def test_a_running_order_against_its_target() -> None:
    progress = order_progress(
        order(good_by_station={"a": 3000, "b": 3100}, scrap_by_station={"b": 12}),
        settings=LINE,
        now=NOW,
    )
    assert progress.station == "b"  # the most good parts
    assert (progress.good_count, progress.scrap_count) == (3100, 12)
    assert (progress.expected_count, progress.efficiency) == (3600, 0.8611)
    assert progress.remaining == 1900
    assert progress.projected_finish == NOW + timedelta(seconds=1900 * 3600 / 3100)
    assert progress.status == "running"
    assert progress.ideal_cycle_time_s == 1.0


@pytest.mark.parametrize(
    ("fields", "settings", "expected"),
    [
        # whose count: the constraint station, even with fewer parts or none
        ({"good_by_station": {"a": 5, "b": 9}}, {"constraint_station": "a"}, ("a", 5)),
        ({"good_by_station": {"b": 9}}, {"constraint_station": "a"}, ("a", 0)),
        # else the most good parts, ties first by name
        ({"good_by_station": {"c": 7, "b": 9, "a": 9}}, {}, ("a", 9)),
        ({"good_by_station": {"b": 0, "a": 0}}, {}, ("a", 0)),
        # no part yet, no constraint station: none
        ({}, {}, (None, 0)),
    ],
)
def test_which_stations_parts_count(
    fields: dict[str, Any], settings: dict[str, Any], expected: tuple[str | None, int]
) -> None:
    line = LineSettings(name="l1", **settings)
    progress = order_progress(order(**fields), settings=line, now=NOW)
    assert (progress.station, progress.good_count) == expected
    assert counted_station(order(**fields), line) == expected[0]


@pytest.mark.parametrize(
    ("fields", "line_cycle", "expected"),
    [
        # (cycle used, expected, efficiency)
        ({"ideal_cycle_time_s": 2.0}, 1.0, (2.0, 1800, 1.0)),  # the order's cycle first
        ({"ideal_cycle_time_s": None}, 4.0, (4.0, 900, 2.0)),  # else the line's
        ({"ideal_cycle_time_s": None}, None, (None, None, None)),  # else none
        ({"started_at": ago(86_400)}, None, (1.0, 5000, 0.36)),  # capped at the target
        ({"started_at": ago(0.5)}, None, (1.0, 0, None)),  # nothing expected yet
        ({"started_at": NOW + timedelta(seconds=30)}, None, (1.0, 0, None)),  # clock ahead
        ({"ideal_cycle_time_s": 0.1, "started_at": ago(3)}, None, (0.1, 30, 60.0)),  # no dust
    ],
)
def test_expected_parts_and_efficiency(
    fields: dict[str, Any],
    line_cycle: float | None,
    expected: tuple[float | None, int | None, float | None],
) -> None:
    line = LineSettings(name="l1", ideal_cycle_time_s=line_cycle)
    progress = order_progress(order(good_by_station={"a": 1800}, **fields), settings=line, now=NOW)
    assert (progress.ideal_cycle_time_s, progress.expected_count, progress.efficiency) == expected


def test_an_order_ended_before_now_is_done_and_counted_until_its_end() -> None:
    progress = order_progress(
        order(ended_at=ago(1800), good_by_station={"a": 1500}), settings=LINE, now=NOW
    )
    assert progress.status == "done"
    assert (progress.expected_count, progress.efficiency) == (1800, 0.8333)
    assert (progress.remaining, progress.projected_finish) == (3500, None)


def test_a_silent_line_is_measured_up_to_where_it_went_silent() -> None:
    """Issue 14, 8: last heard 50 minutes ago; with stale_after_s 300 the order's expected
    parts stop growing 5 minutes after that, not with the wall clock."""
    settings = LineSettings(name="l1", stale_after_s=300)
    silent = order_progress(
        order(good_by_station={"a": 600}), settings=settings, now=NOW, last_seen=ago(3000)
    )
    assert (silent.expected_count, silent.efficiency) == (900, 0.6667)  # 10 + 5 minutes
    heard = order_progress(
        order(good_by_station={"a": 600}), settings=settings, now=NOW, last_seen=ago(1)
    )
    assert heard.expected_count == 3600  # heard just now: up to now


def test_an_end_after_now_is_not_done_yet() -> None:
    progress = order_progress(
        order(ended_at=NOW + timedelta(seconds=60), good_by_station={"a": 1800}),
        settings=LINE,
        now=NOW,
    )
    assert progress.status == "running"
    assert progress.expected_count == 3600
    assert progress.projected_finish == NOW + timedelta(seconds=3200 * 3600 / 1800)


@pytest.mark.parametrize(
    ("good", "remaining", "projected"),
    [
        (0, 5000, None),  # no pace yet
        (5000, 0, None),  # nothing remains
        (6000, 0, None),  # more than the target
        (2500, 2500, NOW + timedelta(seconds=3600)),
    ],
)
def test_remaining_and_projected_finish(
    good: int, remaining: int, projected: datetime | None
) -> None:
    progress = order_progress(order(good_by_station={"a": good}), settings=LINE, now=NOW)
    assert (progress.remaining, progress.projected_finish) == (remaining, projected)


@given(
    target=st.integers(1, 100_000),
    good=st.integers(0, 200_000),
    elapsed_s=st.integers(0, 200_000),
    cycle=st.none() | st.floats(0.01, 100),
    ended=st.booleans(),
)
def test_progress_stays_within_its_bounds(
    target: int, good: int, elapsed_s: int, cycle: float | None, ended: bool
) -> None:
    progress = order_progress(
        order(
            target_quantity=target,
            started_at=ago(elapsed_s),
            ended_at=NOW if ended else None,
            ideal_cycle_time_s=cycle,
            good_by_station={"a": good},
        ),
        settings=LINE,
        now=NOW,
    )
    assert progress.remaining == max(0, target - good)
    assert progress.expected_count is None or 0 <= progress.expected_count <= target
    if progress.efficiency is not None:
        assert progress.expected_count
        assert progress.efficiency == pytest.approx(good / progress.expected_count, abs=5.1e-5)
    if progress.projected_finish is not None:
        assert progress.projected_finish >= NOW and progress.status == "running"
    assert (progress.status == "done") == ended
