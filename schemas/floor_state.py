"""The live state of a line, the answer of ``GET .../lines/{line}/status`` (docs/contract.md §5).

Stations with their machine state and andon level, the operators checked in, the materials
with their levels and shortages, and the current work order with its target against actual.
The rules behind the figures are in `kanban` (andon, order progress).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from pydantic.config import JsonDict

from schemas.kanban import KanbanCard
from schemas.types import MachineState

__all__ = [
    "AndonLevel",
    "LineStatus",
    "MaterialStatus",
    "OperatorPresence",
    "OrderProgress",
    "OrderStatus",
    "StationStatus",
]


class AndonLevel(StrEnum):
    """The andon light of a station or a line, from best to worst news (see `kanban.andon`)."""

    RUNNING = "running"
    RUNNING_SLOW = "running_slow"
    STOPPED = "stopped"
    STOPPED_TOO_LONG = "stopped_too_long"
    STALE = "stale"
    UNKNOWN = "unknown"


OrderStatus = Literal["running", "done"]
"""A work order is ``done`` once its end is at or before now, else ``running``."""

_STATION: Final[JsonDict] = {
    "station": "press-2",
    "state": "down",
    "reason": "die change",
    "since": "2026-11-02T01:40:00Z",
    "state_for_s": 720.0,
    "last_seen": "2026-11-02T01:51:30Z",
    "stale": False,
    "andon": "stopped_too_long",
    "performance_10min": None,
}
_OPERATOR: Final[JsonDict] = {
    "operator_id": "op-17",
    "station": "press-2",
    "role": "setter",
    "since": "2026-11-01T22:02:00Z",
    "present_for_s": 13800.0,
}
_MATERIAL: Final[JsonDict] = {
    "material_id": "coil-dc04",
    "station": "press-1",
    "quantity": 0.0,
    "unit": "kg",
    "updated_at": "2026-11-02T01:45:00Z",
    "consumed": 412.5,
    "shortage": True,
    "shortage_since": "2026-11-02T01:45:00Z",
}
_ORDER: Final[JsonDict] = {
    "order_id": "WO-881",
    "product_id": "bracket-a",
    "target_quantity": 5000,
    "started_at": "2026-11-01T22:00:00Z",
    "ended_at": None,
    "ideal_cycle_time_s": 4.0,
    "station": "press-2",
    "good_count": 3120,
    "scrap_count": 41,
    "expected_count": 3480,
    "efficiency": 0.8966,
    "remaining": 1880,
    "projected_finish": "2026-11-02T04:11:47.692308Z",
    "status": "running",
}
_LINE: Final[JsonDict] = {
    "factory": "f1",
    "line": "l1",
    "name": "Press line 1",
    "at": "2026-11-02T01:52:00Z",
    "andon": "stopped_too_long",
    "stale": False,
    "last_seen": "2026-11-02T01:51:30Z",
    "stations": [
        {
            **_STATION,
            "station": "press-1",
            "state": "running",
            "reason": None,
            "since": "2026-11-02T01:10:00Z",
            "state_for_s": 2520.0,
            "last_seen": "2026-11-02T01:51:58Z",
            "andon": "running_slow",
            "performance_10min": 0.7421,
        },
        _STATION,
    ],
    "operators": [_OPERATOR],
    "materials": [_MATERIAL],
    "order": _ORDER,
    "cards": [],
}


def _example(example: JsonDict) -> ConfigDict:
    return ConfigDict(frozen=True, json_schema_extra={"examples": [example]})


class StationStatus(BaseModel):
    """One station now: its machine state, how long it has been in it, and its andon level."""

    model_config = _example(_STATION)

    station: str = Field(description="The station's name.")
    state: MachineState | None = Field(
        description="The state of its latest machine event; null before any machine event."
    )
    reason: str | None = Field(description="The reason given with that state, if any.")
    since: AwareDatetime | None = Field(
        description=(
            "When the station entered `state` with this `reason` (event time): machine events"
            " that repeat them, a station's heartbeats, do not move it; null without a state."
        )
    )
    state_for_s: float | None = Field(
        description="Seconds from `since` to `at` (0 when `since` is later); null without a state."
    )
    last_seen: AwareDatetime = Field(description="The time of its latest event of any kind.")
    stale: bool = Field(description="Silent for more than the line's `stale_after_s`.")
    andon: AndonLevel = Field(description="The station's andon level (see the call's rules).")
    performance_10min: float | None = Field(
        description="Ideal time / run time over the last 10 whole minutes, 4 decimals; null "
        "unless running with run time in them and a known ideal cycle time."
    )


class OperatorPresence(BaseModel):
    """An operator checked in on the line (one checked out is not listed)."""

    model_config = _example(_OPERATOR)

    operator_id: str = Field(description="The operator, as the line's check-in names them.")
    station: str = Field(description="The station they checked in at.")
    role: str | None = Field(description="Their role, if the check-in gave one.")
    since: AwareDatetime = Field(description="The time of their check-in.")
    present_for_s: float = Field(description="Seconds from `since` to `at`, at least 0.")


class MaterialStatus(BaseModel):
    """A material feeding the line: what is on hand, and whether it is short."""

    model_config = _example(_MATERIAL)

    material_id: str = Field(description="The material.")
    station: str = Field(description="The station it feeds, from its latest event.")
    quantity: float | None = Field(
        description="On hand: the latest level plus what was loaded or replenished after it; "
        "null until a level is known."
    )
    unit: str | None = Field(description="The unit of `quantity` and `consumed`, if given.")
    updated_at: AwareDatetime = Field(description="The time of its latest event.")
    consumed: float | None = Field(
        description="As last reported by a `consumed` event; null before any."
    )
    shortage: bool = Field(description="A `shortage` was reported and not replenished since.")
    shortage_since: AwareDatetime | None = Field(
        description="When the shortage was reported; null without a shortage."
    )


class OrderProgress(BaseModel):
    """The work order started last on the line: its target against the parts made."""

    model_config = _example(_ORDER)

    order_id: str
    product_id: str | None = Field(description="The product the order makes.")
    target_quantity: int = Field(description="Good parts the order asks for.")
    started_at: AwareDatetime
    ended_at: AwareDatetime | None = Field(description="Its end; null while not ended.")
    ideal_cycle_time_s: float | None = Field(
        description="Seconds per part: the order's, else the line's setting; null if neither."
    )
    station: str | None = Field(
        description="The station whose parts count: the line's `constraint_station`, else the "
        "one with the most good parts in the order (ties: first by name); null before any part."
    )
    good_count: int = Field(description="Good parts of `station` while the order ran.")
    scrap_count: int = Field(description="Scrap of `station` while the order ran.")
    expected_count: int | None = Field(
        description="Parts an ideal line would have made by now (or by the end), at most the "
        "target: min(target, ⌊elapsed / ideal cycle time⌋); null without a cycle time."
    )
    efficiency: float | None = Field(
        description="good / expected, 4 decimals; null when expected is 0 or null."
    )
    remaining: int = Field(description="max(0, target − good).")
    projected_finish: AwareDatetime | None = Field(
        description="At the pace so far: now + remaining × elapsed / good; null when ended, "
        "when nothing remains, or before the first good part."
    )
    status: OrderStatus = Field(description="`done` once ended at or before now, else `running`.")


class LineStatus(BaseModel):
    """A line now: stations, operators, materials and the current order, with its andon."""

    model_config = _example(_LINE)

    factory: str
    line: str
    name: str | None = Field(description="The line's name from its settings; null if none.")
    at: AwareDatetime = Field(description="The instant this answer describes (now).")
    andon: AndonLevel = Field(
        description="The worst station level; `unknown` when the line has no station yet."
    )
    stale: bool = Field(
        description="Nothing heard from the line for more than `stale_after_s`, or ever."
    )
    last_seen: AwareDatetime | None = Field(
        description="The latest event of any station; null before the first."
    )
    stations: list[StationStatus] = Field(description="By station name.")
    operators: list[OperatorPresence] = Field(description="Checked in; by station, then id.")
    materials: list[MaterialStatus] = Field(description="By station, then material.")
    order: OrderProgress | None = Field(description="The order started last; null if none.")
    cards: list[KanbanCard] = Field(
        default_factory=list,
        description="The line's open material replenishment cards, oldest raised first.",
    )
