"""Andon levels of a station and of a line: tables of cases, and properties."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kanban.andon import SEVERITY, AndonLevel, is_stale, line_andon, station_andon
from schemas.line_settings import LineSettings
from schemas.types import MachineState

NOW = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)
SETTINGS = LineSettings(name="l1")  # stale after 300 s, stop alert after 600 s, slow below 0.8
S = MachineState
A = AndonLevel


def ago(seconds: float) -> datetime:
    return NOW - timedelta(seconds=seconds)


@pytest.mark.parametrize(
    ("state", "since_s", "seen_s", "performance", "expected"),
    [
        # stale whatever the state: a silent station is never shown as running
        (S.RUNNING, 900, 301, 1.0, A.STALE),
        (S.DOWN, 9000, 301, None, A.STALE),
        (None, None, 301, None, A.STALE),
        (S.RUNNING, 900, 300, None, A.RUNNING),  # exactly stale_after_s is not stale yet
        # no machine event yet
        (None, None, 0, None, A.UNKNOWN),
        # running: slow only when performance is known and below slow_below
        (S.RUNNING, 60, 1, None, A.RUNNING),
        (S.RUNNING, 60, 1, 0.8, A.RUNNING),
        (S.RUNNING, 60, 1, 0.7999, A.RUNNING_SLOW),
        (S.RUNNING, 60, 1, 0.0, A.RUNNING_SLOW),
        (S.RUNNING, 6000, 1, 1.3, A.RUNNING),  # running long is no alert
        # a planned stop is never escalated
        (S.PLANNED_STOP, 60, 1, None, A.STOPPED),
        (S.PLANNED_STOP, 86_400, 1, None, A.STOPPED),
        # the other stops escalate at stop_alert_after_s
        (S.DOWN, 599, 1, None, A.STOPPED),
        (S.DOWN, 600, 1, None, A.STOPPED_TOO_LONG),
        (S.SETUP, 601, 1, None, A.STOPPED_TOO_LONG),
        (S.IDLE, 10, 10, None, A.STOPPED),
        (S.STARVED, 1000, 0, None, A.STOPPED_TOO_LONG),
        (S.BLOCKED, 1000, 0, None, A.STOPPED_TOO_LONG),
        (S.OFFLINE, 599.999, 0, None, A.STOPPED),
        (S.DOWN, -30, -30, None, A.STOPPED),  # a sender's clock ahead of ours
    ],
)
def test_a_stations_level(
    state: MachineState | None,
    since_s: float | None,
    seen_s: float,
    performance: float | None,
    expected: AndonLevel,
) -> None:
    since = ago(since_s) if since_s is not None else None
    level = station_andon(
        state,
        since=since,
        last_seen=ago(seen_s),
        performance_10min=performance,
        settings=SETTINGS,
        now=NOW,
    )
    assert level is expected


def test_the_thresholds_are_the_lines_settings() -> None:
    strict = LineSettings(name="l1", stale_after_s=30, stop_alert_after_s=60, slow_below=0.95)
    assert (
        station_andon(
            S.DOWN,
            since=ago(60),
            last_seen=ago(1),
            performance_10min=None,
            settings=strict,
            now=NOW,
        )
        is A.STOPPED_TOO_LONG
    )
    assert (
        station_andon(
            S.RUNNING,
            since=ago(60),
            last_seen=ago(1),
            performance_10min=0.9,
            settings=strict,
            now=NOW,
        )
        is A.RUNNING_SLOW
    )
    assert station_andon(
        S.RUNNING, since=ago(60), last_seen=ago(31), performance_10min=1.0, settings=strict, now=NOW
    ) is A.STALE  # fmt: skip


@pytest.mark.parametrize(
    ("levels", "expected"),
    [
        ([], A.UNKNOWN),
        ([A.UNKNOWN], A.UNKNOWN),
        ([A.UNKNOWN, A.RUNNING], A.RUNNING),
        ([A.RUNNING, A.RUNNING_SLOW], A.RUNNING_SLOW),
        ([A.RUNNING_SLOW, A.STALE, A.RUNNING], A.STALE),
        ([A.STALE, A.STOPPED], A.STOPPED),
        ([A.STOPPED, A.STOPPED_TOO_LONG, A.UNKNOWN], A.STOPPED_TOO_LONG),
    ],
)
def test_a_lines_level_is_the_worst(levels: list[AndonLevel], expected: AndonLevel) -> None:
    assert line_andon(levels) is expected


def test_the_severity_order_names_every_level_once() -> None:
    assert sorted(SEVERITY) == sorted(AndonLevel)
    assert SEVERITY[0] is A.UNKNOWN and SEVERITY[-1] is A.STOPPED_TOO_LONG


def test_a_line_never_heard_of_is_stale() -> None:
    assert is_stale(None, settings=SETTINGS, now=NOW)
    assert not is_stale(ago(300), settings=SETTINGS, now=NOW)


levels_st = st.lists(st.sampled_from(list(AndonLevel)), max_size=12)


@given(levels_st)
def test_the_lines_level_is_one_of_its_stations(levels: list[AndonLevel]) -> None:
    level = line_andon(levels)
    assert level in levels if levels else level is A.UNKNOWN
    assert all(SEVERITY.index(level) >= SEVERITY.index(other) for other in levels)


@given(levels_st, levels_st)
def test_adding_stations_never_makes_the_line_look_better(
    first: list[AndonLevel], more: list[AndonLevel]
) -> None:
    assert SEVERITY.index(line_andon(first + more)) >= SEVERITY.index(line_andon(first))


@given(
    st.sampled_from([None, *MachineState]),
    st.integers(0, 10_000),
    st.integers(0, 10_000),
    st.none() | st.floats(0, 3),
)
def test_a_stale_station_is_never_shown_running(
    state: MachineState | None, since_s: int, seen_s: int, performance: float | None
) -> None:
    level = station_andon(
        state,
        since=ago(since_s) if state is not None else None,
        last_seen=ago(seen_s),
        performance_10min=performance,
        settings=SETTINGS,
        now=NOW,
    )
    assert (level is A.STALE) == (seen_s > SETTINGS.stale_after_s)
    if level in (A.RUNNING, A.RUNNING_SLOW):
        assert state is MachineState.RUNNING
