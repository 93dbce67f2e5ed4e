"""A line's status assembled from floor-state rows at a given now."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from kanban.orders import WorkOrder
from kanban.performance import RunWindow
from kanban.status import (
    FloorState,
    MaterialRow,
    OperatorRow,
    StationRow,
    line_status,
)
from schemas.floor_state import AndonLevel, LineStatus
from schemas.line_settings import LineSettings
from schemas.types import MachineState

NOW = datetime(2026, 11, 2, 2, 0, 30, tzinfo=UTC)
LINE = LineSettings(name="Press line 1", ideal_cycle_time_s=1.0)


def ago(seconds: float) -> datetime:
    return NOW - timedelta(seconds=seconds)


def status(floor: FloorState, settings: LineSettings = LINE) -> LineStatus:
    return line_status(
        floor, factory="f1", line="l1", name="Press line 1", settings=settings, now=NOW
    )


def test_a_line_with_no_floor_state_yet() -> None:
    answer = status(FloorState())
    assert (answer.andon, answer.stale, answer.last_seen) == (AndonLevel.UNKNOWN, True, None)
    assert (answer.stations, answer.operators, answer.materials, answer.order) == ([], [], [], None)
    assert answer.at == NOW


def test_stations_in_several_states() -> None:
    answer = status(
        FloorState(
            stations=[
                StationRow("s3", MachineState.DOWN, "jam", ago(700), ago(5)),
                StationRow("s1", MachineState.RUNNING, None, ago(100), ago(1)),
                StationRow("s2", MachineState.RUNNING, None, ago(100), ago(2)),
                StationRow("s4", None, None, None, ago(10)),
                StationRow("s5", MachineState.RUNNING, None, ago(900), ago(400)),
            ],
            runs={
                "s1": RunWindow(600_000, 0.0, 570, 570),
                "s2": RunWindow(600_000, 0.0, 300, 300),
                "s3": RunWindow(600_000, 0.0, 600, 600),  # not running now: not shown
            },
        )
    )
    by_name = {station.station: station for station in answer.stations}
    assert list(by_name) == ["s1", "s2", "s3", "s4", "s5"]
    assert [s.andon for s in answer.stations] == [
        AndonLevel.RUNNING,
        AndonLevel.RUNNING_SLOW,
        AndonLevel.STOPPED_TOO_LONG,
        AndonLevel.UNKNOWN,
        AndonLevel.STALE,
    ]
    assert [s.performance_10min for s in answer.stations] == [0.95, 0.5, None, None, None]
    assert (by_name["s3"].state_for_s, by_name["s4"].state_for_s) == (700.0, None)
    assert [s.stale for s in answer.stations] == [False, False, False, False, True]
    assert (answer.andon, answer.stale, answer.last_seen) == (
        AndonLevel.STOPPED_TOO_LONG,
        False,
        ago(1),
    )


def test_operators_materials_and_order() -> None:
    answer = status(
        FloorState(
            stations=[StationRow("s1", MachineState.RUNNING, None, ago(100), ago(1))],
            operators=[
                OperatorRow("op-2", "s2", None, ago(60)),
                OperatorRow("op-1", "s2", "setter", NOW + timedelta(seconds=2)),
                OperatorRow("op-9", "s1", "lead", ago(3600)),
            ],
            materials=[
                MaterialRow("m2", "s1", 0.0, "kg", ago(30), 12.5, True, ago(40)),
                MaterialRow("m1", "s1", None, None, ago(30), None, False, ago(90)),
            ],
            order=WorkOrder("WO-1", "x", 100, ago(60), good_by_station={"s1": 30}),
        )
    )
    assert [(o.operator_id, o.present_for_s) for o in answer.operators] == [
        ("op-9", 3600.0),
        ("op-1", 0.0),  # checked in "after" now by a clock ahead
        ("op-2", 60.0),
    ]
    assert [(m.material_id, m.shortage, m.shortage_since) for m in answer.materials] == [
        ("m1", False, None),  # the latest status event was a replenishment
        ("m2", True, ago(40)),
    ]
    assert answer.order is not None
    assert (answer.order.expected_count, answer.order.efficiency) == (60, 0.5)
