"""A line's status now, from the rows of the live floor state (see `LineStatus`).

The rows come in as the floor-state processor keeps them; this module adds what depends on
"now": how long each state and presence has lasted, staleness, andon levels (`andon`), the
performance of running stations (`performance`) and the order's progress (`orders`).
Stations, operators and materials are answered in a stable order: by station, then name.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from kanban.andon import is_stale, line_andon, station_andon
from kanban.orders import WorkOrder, order_progress
from kanban.performance import RunWindow, recent_performance
from schemas.floor_state import (
    LineStatus,
    MaterialStatus,
    OperatorPresence,
    StationStatus,
)
from schemas.kanban import KanbanCard
from schemas.line_settings import LineSettings
from schemas.types import MachineState

__all__ = ["FloorState", "MaterialRow", "OperatorRow", "StationRow", "line_status", "seconds"]


@dataclass(frozen=True, slots=True)
class StationRow:
    """A station's latest state (None before its first machine event) and latest event."""

    station: str
    state: MachineState | None
    reason: str | None
    since: datetime | None
    last_seen: datetime


@dataclass(frozen=True, slots=True)
class OperatorRow:
    """An operator checked in on the line."""

    operator_id: str
    station: str
    role: str | None
    since: datetime


@dataclass(frozen=True, slots=True)
class MaterialRow:
    """A material at the line; ``status_ts`` is its latest shortage or replenished event."""

    material_id: str
    station: str
    quantity: float | None
    unit: str | None
    updated_at: datetime
    consumed: float | None
    shortage: bool
    status_ts: datetime | None


@dataclass(frozen=True, slots=True)
class FloorState:
    """What the floor state holds for a line; ``runs`` are the running stations' last minutes."""

    stations: Sequence[StationRow] = ()
    runs: Mapping[str, RunWindow] = field(default_factory=dict)
    operators: Sequence[OperatorRow] = ()
    materials: Sequence[MaterialRow] = ()
    order: WorkOrder | None = None
    cards: Sequence[KanbanCard] = ()


def seconds(since: datetime, now: datetime) -> float:
    """Seconds from ``since`` to ``now``, 0 when ``since`` is later (a sender's clock ahead)."""
    return max(0.0, round((now - since).total_seconds(), 3))


def _station(
    row: StationRow, run: RunWindow | None, settings: LineSettings, now: datetime
) -> StationStatus:
    performance = None
    if row.state is MachineState.RUNNING and run is not None:
        performance = recent_performance(run, ideal_cycle_time_s=settings.ideal_cycle_time_s)
    andon = station_andon(
        row.state,
        since=row.since,
        last_seen=row.last_seen,
        performance_10min=performance,
        settings=settings,
        now=now,
    )
    return StationStatus(
        station=row.station,
        state=row.state,
        reason=row.reason,
        since=row.since,
        state_for_s=seconds(row.since, now) if row.since is not None else None,
        last_seen=row.last_seen,
        stale=is_stale(row.last_seen, settings=settings, now=now),
        andon=andon,
        performance_10min=performance,
    )


def _operator(row: OperatorRow, now: datetime) -> OperatorPresence:
    return OperatorPresence(
        operator_id=row.operator_id,
        station=row.station,
        role=row.role,
        since=row.since,
        present_for_s=seconds(row.since, now),
    )


def _material(row: MaterialRow) -> MaterialStatus:
    return MaterialStatus(
        material_id=row.material_id,
        station=row.station,
        quantity=row.quantity,
        unit=row.unit,
        updated_at=row.updated_at,
        consumed=row.consumed,
        shortage=row.shortage,
        shortage_since=row.status_ts if row.shortage else None,
    )


def line_status(
    floor: FloorState,
    *,
    factory: str,
    line: str,
    name: str | None,
    settings: LineSettings,
    now: datetime,
) -> LineStatus:
    """The line's status at ``now``; the line is stale when its latest event is (or none)."""
    stations = [
        _station(row, floor.runs.get(row.station), settings, now)
        for row in sorted(floor.stations, key=lambda row: row.station)
    ]
    last_seen = max((row.last_seen for row in floor.stations), default=None)
    operators = sorted(floor.operators, key=lambda row: (row.station, row.operator_id))
    materials = sorted(floor.materials, key=lambda row: (row.station, row.material_id))
    order = floor.order
    return LineStatus(
        factory=factory,
        line=line,
        name=name,
        at=now,
        andon=line_andon(station.andon for station in stations),
        stale=is_stale(last_seen, settings=settings, now=now),
        last_seen=last_seen,
        stations=stations,
        operators=[_operator(row, now) for row in operators],
        materials=[_material(row) for row in materials],
        order=(
            order_progress(order, settings=settings, now=now, last_seen=last_seen)
            if order is not None
            else None
        ),
        cards=list(floor.cards),
    )
