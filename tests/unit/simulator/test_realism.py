"""A simulated day of two lines behaves like a floor: the invariants the OEE figures rely on."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, time, timedelta

from services.simulator.layout import line_profile
from services.simulator.shifts import SHIFTS
from tests.unit.simulator.conftest import DAY_START
from tests.unit.simulator.floor import (
    Record,
    lines_of,
    order_spans,
    overlap_s,
    state_intervals,
)

DAY_END = DAY_START + timedelta(days=1)
BREAKS = [(b.start, b.end) for shift in SHIFTS for b in shift.breaks]


def _local(record: Record) -> time:
    return record.time.astimezone(DAY_START.tzinfo).time()


def _constraint_key(line: tuple[str, str]) -> tuple[str, str, str]:
    return (*line, line_profile(*line).constraint)


def test_every_state_but_offline_occurs(day: list[Record]) -> None:
    states = {r.payload["state"] for r in day if r.kind == "machine"}
    assert states == {"running", "idle", "starved", "blocked", "down", "setup", "planned_stop"}


def test_every_stop_says_why(day: list[Record]) -> None:
    for record in day:
        if record.kind == "machine" and record.payload["state"] != "running":
            assert record.payload.get("reason"), record.payload


def test_breaks_and_the_time_between_shifts_are_planned_stops(day: list[Record]) -> None:
    for record in day:
        if record.kind != "machine":
            continue
        local = _local(record)
        scheduled = time(6) <= local < time(22) and not any(a <= local < b for a, b in BREAKS)
        assert (record.payload["state"] == "planned_stop") != scheduled, record.payload
    # Every station stops at the start of every break.
    break_starts = defaultdict(set)
    for record in day:
        if record.kind == "machine" and record.payload["state"] == "planned_stop":
            break_starts[_local(record)].add((record.line_key, record.station))
    stations = {(r.line_key, r.station) for r in day if r.kind == "machine"}
    for start, _ in BREAKS:
        assert break_starts[start] == stations


def test_a_blocked_station_has_a_stop_downstream(day: list[Record]) -> None:
    for line in lines_of(day):
        order = line_profile(*line).stations
        state: dict[str, str] = {}
        batch_time = None
        for record in (r for r in day if r.line_key == line and r.kind == "machine"):
            if record.time != batch_time:
                _check_blocking(order, state)
                batch_time = record.time
            state[record.station] = record.payload["state"]
        _check_blocking(order, state)


def _check_blocking(order: tuple[str, ...], state: dict[str, str]) -> None:
    for i, station in enumerate(order):
        if state.get(station) == "blocked":
            downstream = {state.get(s) for s in order[i + 1 :]}
            assert downstream & {"down", "starved"}, state


def test_every_order_starts_after_a_setup(day: list[Record]) -> None:
    for line in lines_of(day):
        constraint = line_profile(*line).constraint
        current = None
        setups_since_end = 1  # the first order of the run follows the first setup
        starts = 0
        for record in (r for r in day if r.line_key == line):
            if record.kind == "machine" and record.station == constraint:
                current = record.payload["state"]
                setups_since_end += current == "setup"
            elif record.kind == "order" and record.payload["action"] == "end":
                setups_since_end = 0
            elif record.kind == "order":
                starts += 1
                assert current == "setup" and setups_since_end >= 1, record.payload
        assert starts >= 4  # a few order changes a shift


def test_operators_check_in_at_shift_start_and_out_at_shift_end(day: list[Record]) -> None:
    people = [r for r in day if r.kind == "people"]
    ins = [r for r in people if r.payload["action"] == "check_in"]
    outs = [r for r in people if r.payload["action"] == "check_out"]
    window = timedelta(minutes=5)
    for records, marks in ((ins, [s.start for s in SHIFTS]), (outs, [s.end for s in SHIFTS])):
        for record in records:
            starts = [datetime.combine(DAY_START.date(), m, DAY_START.tzinfo) for m in marks]
            assert any(m <= record.time < m + window for m in starts), record.payload
    crews = sum(len(line_profile(*line).crew(s.name)) for line in lines_of(day) for s in SHIFTS)
    assert len(ins) == len(outs) == crews
    assert {r.payload["role"] for r in people} >= {"operator", "team_lead"}
    assert {r.payload["operator_id"] for r in ins} == {r.payload["operator_id"] for r in outs}


def _running_expectation(day: list[Record], line: tuple[str, str]) -> tuple[float, float]:
    """Running seconds of the constraint, and the parts its orders' ideal cycles allow in them."""
    runs = [i for i in state_intervals(day, DAY_END)[_constraint_key(line)] if i.state == "running"]
    ideal_parts = 0.0
    for span in order_spans(day, line, DAY_END):
        seconds = sum(overlap_s(span.start, span.end, i.start, i.end) for i in runs)
        ideal_parts += seconds / span.ideal_cycle_time_s
    return sum(i.seconds for i in runs), ideal_parts


def _station(record: Record) -> tuple[str, str, str]:
    return record.factory, record.line, record.station


def _counts(day: list[Record], key: tuple[str, str, str]) -> tuple[int, int]:
    reports = [r for r in day if r.kind == "production" and _station(r) == key]
    return sum(r.payload["good"] for r in reports), sum(r.payload["scrap"] for r in reports)


def test_output_per_running_hour_follows_the_ideal_cycle_less_the_speed_loss(
    day: list[Record],
) -> None:
    """Tolerance: all parts within 2 % of ideal x (1 - speed loss) per running hour (the loss
    varies by up to one point per order); good parts 0-8 % below it (the scrap)."""
    for line in lines_of(day):
        running_s, ideal_parts = _running_expectation(day, line)
        assert running_s > 8 * 3600  # most of the 14.5 planned hours
        expected = ideal_parts * (1.0 - line_profile(*line).speed_loss)
        good, scrap = _counts(day, _constraint_key(line))
        assert abs(good + scrap - expected) <= 0.02 * expected
        assert 0.92 * expected <= good <= expected


def test_scrap_is_a_few_percent_and_more_right_after_a_setup(day: list[Record]) -> None:
    for line in lines_of(day):
        key = _constraint_key(line)
        good, scrap = _counts(day, key)
        assert 0.01 <= scrap / (good + scrap) <= 0.06
        starts = [s.start for s in order_spans(day, line, DAY_END)]
        early = [0, 0]  # scrap, total within 5 minutes of an order start
        for record in day:
            if record.kind != "production" or _station(record) != key:
                continue
            if any(s < record.time <= s + timedelta(minutes=5) for s in starts):
                early[0] += record.payload["scrap"]
                early[1] += record.payload["good"] + record.payload["scrap"]
        assert early[1] > 0
        assert early[0] / early[1] > 3 * scrap / (good + scrap)


def test_shortages_starve_the_line_until_replenished(day: list[Record]) -> None:
    shortages = 0
    for line in lines_of(day):
        recs = [r for r in day if r.line_key == line]
        for n, record in enumerate(recs):
            if record.kind == "material" and record.payload["action"] == "shortage":
                shortages += 1
                _check_starved_until_replenished(recs[n + 1 :], record)
    assert shortages >= 1


def _check_starved_until_replenished(after: list[Record], shortage: Record) -> None:
    material = shortage.payload["material_id"]
    starved = False
    for record in after:
        if record.kind == "machine" and record.station == shortage.station:
            if not starved:
                assert record.time == shortage.time
                assert record.payload["state"] == "starved"
                assert record.payload["reason"] == "material_shortage"
                starved = True
            else:
                assert record.payload["state"] in {"starved", "planned_stop"}
        if record.kind == "material" and record.payload["material_id"] == material:
            if record.payload["action"] == "replenished":
                assert starved
                return
            assert record.payload["action"] == "level"
    # Not replenished within the day: only when it ran out shortly before the end of shift B
    # (deliveries come in working time, the longest an hour after the reorder).
    assert _local(shortage) >= time(21)


def test_materials_are_consumed_in_proportion_to_production(day: list[Record]) -> None:
    for line in lines_of(day):
        profile = line_profile(*line)
        good, scrap = _counts(day, _constraint_key(line))
        material = profile.materials[0]
        consumed = sum(
            r.payload["quantity"]
            for r in day
            if r.line_key == line
            and r.kind == "material"
            and r.payload["action"] == "consumed"
            and r.payload["material_id"] == material.material_id
        )
        finished_orders = len(order_spans(day, line, DAY_END)) - 1
        assert finished_orders >= 1
        assert 0 < consumed <= (good + scrap) * material.per_part * 1.01
