"""The pure model: deterministic, in event-time order, ids unique per line, counters read at the
rate asked."""

from __future__ import annotations

import ast
from collections import Counter, defaultdict
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from services import simulator
from services.simulator.layout import line_profile
from services.simulator.model import SimulationConfig, run_tag, simulate
from tests.unit.simulator.conftest import DAY_START
from tests.unit.simulator.floor import Record, records

TWO_HOURS = timedelta(hours=2)


def _wire(config: SimulationConfig, start: datetime, span: timedelta) -> list[tuple[str, bytes]]:
    return [(e.topic, e.encode()) for e in simulate(config, start, start + span)]


def test_the_same_seed_start_and_options_give_the_same_bytes() -> None:
    config = SimulationConfig(factories=2, lines=2, seed=7, rate=5.0)
    start = DAY_START + timedelta(hours=5, minutes=30)
    assert _wire(config, start, TWO_HOURS) == _wire(config, start, TWO_HOURS)


def test_another_seed_gives_another_floor() -> None:
    start = DAY_START + timedelta(hours=6)
    first = _wire(SimulationConfig(seed=1, rate=5.0), start, TWO_HOURS)
    second = _wire(SimulationConfig(seed=2, rate=5.0), start, TWO_HOURS)
    assert first != second
    machine_first = [payload for topic, payload in first if topic.endswith("/machine")]
    machine_second = [payload for topic, payload in second if topic.endswith("/machine")]
    assert machine_first != machine_second


def test_a_run_from_another_instant_sends_other_event_ids() -> None:
    assert run_tag(1, DAY_START) == run_tag(1, DAY_START)
    assert run_tag(1, DAY_START) != run_tag(1, DAY_START + timedelta(seconds=1))
    assert run_tag(1, DAY_START) != run_tag(2, DAY_START)


def test_events_come_in_non_decreasing_event_time(day: list[Record]) -> None:
    times = [record.time for record in day]
    assert all(a <= b for a, b in zip(times, times[1:], strict=False))
    assert all(record.event.time == record.time for record in day)


def test_lines_in_different_time_zones_merge_in_event_time() -> None:
    config = SimulationConfig(factories=5, lines=1, rate=10.0)  # f5 is in Europe/Berlin
    events = list(simulate(config, DAY_START, DAY_START + timedelta(hours=1)))
    offsets = {e.payload["ts"][-6:] for e in events}  # type: ignore[index]
    assert {"+08:00", "+01:00", "+07:00"} <= offsets
    times = [datetime.fromisoformat(str(e.payload["ts"])) for e in events]
    assert all(a <= b for a, b in zip(times, times[1:], strict=False))


def test_event_ids_are_unique_per_line(day: list[Record]) -> None:
    ids: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for record in day:
        ids[record.line_key][record.payload["event_id"]] += 1
    for counter in ids.values():
        assert counter.most_common(1)[0][1] == 1


def test_the_day_ends_before_its_end_and_starts_at_its_start(day: list[Record]) -> None:
    assert day[0].time == DAY_START
    assert day[-1].time < DAY_START + timedelta(days=1)


def test_a_naive_start_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        next(simulate(SimulationConfig(), datetime(2026, 11, 2)))  # noqa: DTZ001


@pytest.mark.parametrize(
    ("config", "hour"),
    [
        (SimulationConfig(), 10),  # the defaults, during shift A
        (SimulationConfig(factories=3, lines=4, rate=7.5), 15),
    ],
)
def test_the_counters_are_read_at_the_rate_and_report_only_what_was_made(
    config: SimulationConfig, hour: int
) -> None:
    start = DAY_START + timedelta(hours=hour)
    hour = records(simulate(config, start, start + timedelta(hours=1)))
    made = [r.payload for r in hour if r.kind == "production"]
    assert 0 < len(made) <= config.rate * 3600
    assert all(p["good"] + p["scrap"] > 0 for p in made)


def test_the_timestamps_are_in_the_factory_time_zone() -> None:
    config = SimulationConfig(factories=1, lines=1)
    event = next(simulate(config, datetime(2026, 11, 2, tzinfo=ZoneInfo("UTC"))))
    assert str(event.payload["ts"]).endswith("+08:00")
    assert line_profile("f1", "l1").timezone == "Asia/Shanghai"


CORE = [
    "types", "shifts", "layout", "params", "line_state", "materials", "production", "line",
    "heartbeat",
]  # fmt: skip


@pytest.mark.parametrize("module", [*CORE, "model"])
def test_the_model_is_pure(module: str) -> None:
    """No event loop, network, threads or wall clock in the model: time comes in as a parameter."""
    path = Path(simulator.__file__).parent / f"{module}.py"
    tree = ast.parse(path.read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(_top(node.module))
        elif isinstance(node, ast.Attribute):
            assert node.attr not in {"now", "today", "utcnow", "monotonic", "perf_counter"}
    outside = {m for m in imported if not m.startswith("services.simulator.")}
    assert outside <= PURE_IMPORTS, outside
    assert {m.rsplit(".", 1)[-1] for m in imported - outside} <= set(CORE)


def _top(module: str) -> str:
    top = module.split(".")[0]
    return module if top in {"services", "ingest", "kanban", "schemas"} else top


PURE_IMPORTS = {
    "__future__", "collections", "dataclasses", "datetime", "functools", "hashlib", "heapq",
    "json", "math", "random", "re", "typing", "zlib", "zoneinfo", "services.simulator",
}  # fmt: skip


def test_a_run_started_mid_shift_checks_the_crew_in_and_sets_up_first() -> None:
    start = DAY_START + timedelta(hours=10, minutes=7)
    events = list(simulate(SimulationConfig(rate=1.0), start, start + timedelta(hours=1)))
    first_people = [e for e in events if e.topic.endswith("/people")]
    assert first_people and all(e.time == start for e in first_people)
    assert {e.payload["action"] for e in first_people} == {"check_in"}
    machine = [e for e in events if e.topic.endswith("/machine") and e.time == start]
    assert {e.payload["state"] for e in machine} == {"setup"}
    assert len(machine) == sum(len(line_profile("f1", f"l{i}").stations) for i in (1, 2))
