"""Properties of fold_station: order, repeats and window cuts never change a figure."""

from __future__ import annotations

import random
from bisect import bisect_left, bisect_right
from datetime import datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from schemas import MachinePayload, OrderPayload, ProductionPayload
from schemas.types import MachineState
from services.efficiency.core import context_bounds, fold_station, silent_intervals
from services.efficiency.core.types import MINUTE_MS
from tests.unit.efficiency.builders import at

BASE = at("2026-11-02 10:00")
START, MIDDLE, END = BASE, BASE + timedelta(minutes=30), BASE + timedelta(minutes=60)
STATES = ["running", "idle", "starved", "blocked", "down", "setup", "planned_stop", "offline"]
# Offsets in ms from 09:40 to 11:20, so that events fall before, in and after the window.
offsets = st.integers(min_value=-20 * MINUTE_MS, max_value=80 * MINUTE_MS)


def instant(offset_ms: int) -> datetime:
    return BASE + timedelta(milliseconds=offset_ms)


changes_st = st.lists(
    st.builds(
        lambda i, t, s, r: MachinePayload(event_id=f"m{i}", ts=instant(t), state=s, reason=r),
        st.integers(0, 10**6),
        offsets,
        st.sampled_from(STATES),
        st.sampled_from([None, "jam", "motor"]),
    ),
    max_size=25,
    unique_by=lambda change: change.event_id,
)
production_st = st.lists(
    st.builds(
        lambda i, t, g, s: ProductionPayload(event_id=f"p{i}", ts=instant(t), good=g, scrap=s),
        st.integers(0, 10**6),
        offsets,
        st.integers(0, 500),
        st.integers(0, 50),
    ),
    max_size=15,
    unique_by=lambda event: event.event_id,
)
orders_st = st.lists(
    st.builds(
        lambda i, t, a, o, c: OrderPayload(
            event_id=f"o{i}",
            ts=instant(t),
            action=a,
            order_id=o,
            product_id="x",
            target_quantity=1,
            ideal_cycle_time_s=c,
        ),
        st.integers(0, 10**6),
        offsets,
        st.sampled_from(["start", "end"]),
        st.sampled_from(["WO-1", "WO-2"]),
        st.sampled_from([None, 0.7, 1.3, 2.0]),
    ),
    max_size=6,
    unique_by=lambda event: event.event_id,
)
thresholds = st.sampled_from([0, 30, 120, 400.5])
startup_windows = st.sampled_from([0, 90, 600])
open_untils = st.sampled_from([None, START + timedelta(minutes=45), END + timedelta(hours=1)])


@settings(max_examples=150, deadline=None)
@given(
    changes_st,
    production_st,
    orders_st,
    thresholds,
    startup_windows,
    open_untils,
    st.randoms(use_true_random=False),
)
def test_any_order_and_every_event_twice_give_identical_buckets(
    changes: list[MachinePayload],
    production: list[ProductionPayload],
    orders: list[OrderPayload],
    threshold: float,
    startup: float,
    open_until: datetime | None,
    rng: random.Random,
) -> None:
    options = {
        "window_start": START,
        "window_end": END,
        "small_stop_threshold_s": threshold,
        "startup_window_s": startup,
        "open_until": open_until,
    }
    once = fold_station(changes, production, orders, **options)  # type: ignore[arg-type]
    twice = [list(events) * 2 for events in (changes, production, orders)]
    for events in twice:
        rng.shuffle(events)
    assert fold_station(*twice, **options) == once  # type: ignore[arg-type]


@settings(max_examples=150, deadline=None)
@given(changes_st, production_st, orders_st, thresholds, startup_windows, open_untils)
def test_two_halves_with_their_context_equal_the_whole(
    changes: list[MachinePayload],
    production: list[ProductionPayload],
    orders: list[OrderPayload],
    threshold: float,
    startup: float,
    open_until: datetime | None,
) -> None:
    options = {
        "small_stop_threshold_s": threshold,
        "startup_window_s": startup,
        "open_until": open_until,
    }
    whole = fold_station(changes, production, orders, window_start=START, window_end=END, **options)  # type: ignore[arg-type]
    halves: dict[datetime, object] = {}
    for low, high in ((START, MIDDLE), (MIDDLE, END)):
        context = _context(changes, low, high, threshold, startup)
        halves |= fold_station(
            context, production, orders, window_start=low, window_end=high, **options
        )  # type: ignore[arg-type]
    assert halves == whole


@settings(max_examples=150, deadline=None)
@given(changes_st, production_st, thresholds, open_untils)
def test_every_minute_adds_up_to_exactly_sixty_seconds(
    changes: list[MachinePayload],
    production: list[ProductionPayload],
    threshold: float,
    open_until: datetime | None,
) -> None:
    buckets = fold_station(
        changes,
        production,
        [],
        window_start=START,
        window_end=END,
        small_stop_threshold_s=threshold,
        open_until=open_until,
    )
    assert len(buckets) == 60
    for bucket in buckets.values():
        assert bucket.covered_ms + bucket.unknown_ms == MINUTE_MS
        assert min(bucket.covered_ms, bucket.unknown_ms, bucket.downtime_ms) >= 0
        assert sum(ms for _, ms in bucket.down_by_reason) == bucket.down_ms
        assert bucket.startup_scrap <= bucket.scrap_count


def _context(
    changes: list[MachinePayload], low: datetime, high: datetime, threshold: float, startup: float
) -> list[MachinePayload]:
    """What `context_bounds` says to pass: changes in [since, until], one before, one after."""
    since, until = context_bounds(
        low, high, small_stop_threshold_s=threshold, startup_window_s=startup
    )
    ordered = sorted(changes, key=lambda change: change.ts)
    times = [change.ts for change in ordered]
    first, last = bisect_left(times, since), bisect_right(times, until)
    before = [c for c in ordered if c.ts == times[first - 1]] if first > 0 else []
    after = [c for c in ordered if c.ts == times[last]] if last < len(times) else []
    return before + ordered[first:last] + after


stales = st.sampled_from([60, 300, 900.5])


@settings(max_examples=150, deadline=None)
@given(changes_st, production_st, thresholds, stales, open_untils)
def test_silences_turn_known_time_into_no_signal_and_only_that(
    changes: list[MachinePayload],
    production: list[ProductionPayload],
    threshold: float,
    stale: float,
    open_until: datetime | None,
) -> None:
    """Silences (gaps between any events longer than `stale_after_s`) change no minute's known
    time; they move exactly their overlap with it into ``down``/``no_signal``; a window's
    halves with their context still equal the whole."""
    heard = [e.ts for e in [*changes, *production]]
    silent = silent_intervals(heard, stale_after_s=stale, open_until=open_until)
    options = {"small_stop_threshold_s": threshold, "open_until": open_until}
    plain = fold_station(changes, production, [], window_start=START, window_end=END, **options)  # type: ignore[arg-type]
    quiet = fold_station(
        changes, production, [], window_start=START, window_end=END, silent=silent, **options
    )  # type: ignore[arg-type]
    for minute, bucket in quiet.items():
        assert bucket.unknown_ms == plain[minute].unknown_ms
        assert bucket.total_count == plain[minute].total_count
    # The known time runs from the first change to the last (or to `open_until`).
    floor_ms = timedelta(milliseconds=1)
    times = [START + (c.ts - START) // floor_ms * floor_ms for c in changes]
    known = (min(times), max([*times, *([open_until] if open_until else [])])) if times else None
    expected = timedelta(0)
    for low, high in silent:
        if known is not None:
            low, high = max(low, known[0], START), min(high, known[1], END)
            expected += max(high - low, timedelta(0))
    # Without planned stops (a silence leaves them be) nor small stops (which would hide a
    # short silence's time), the silences' time in the known time is all no_signal.
    unplanned = [
        c.model_copy(update={"state": MachineState.IDLE}) if c.state == "planned_stop" else c
        for c in changes
    ]
    flat = fold_station(
        unplanned, production, [], window_start=START, window_end=END, silent=silent,
        small_stop_threshold_s=0, open_until=open_until,
    )  # type: ignore[arg-type]  # fmt: skip
    no_signal = sum(dict(b.down_by_reason).get("no_signal", 0) for b in flat.values())
    assert no_signal == expected // floor_ms
    halves: dict[datetime, object] = {}
    for low, high in ((START, MIDDLE), (MIDDLE, END)):
        context = _context(changes, low, high, threshold, 600)
        halves |= fold_station(
            context, production, [], window_start=low, window_end=high, silent=silent, **options
        )  # type: ignore[arg-type]
    assert halves == quiet
