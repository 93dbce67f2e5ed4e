"""The answers of the manager's calls: a factory's efficiency, a line's downtime and timeline.

The efficiency figures are the line call's (`EfficiencyFigures`, reused, not copied), so a
factory's lines read exactly as the line call answers them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field

from schemas.efficiency import EFFICIENCY_EXAMPLE, EfficiencyFigures
from schemas.types import MachineState

__all__ = [
    "FactoryEfficiency",
    "FactoryLineEfficiency",
    "LineDowntime",
    "LineTimeline",
    "ReasonDowntime",
    "StateInterval",
    "StationDowntime",
    "StationTimeline",
]

_START: Final = "2026-11-02T06:00:00+08:00"
_END: Final = "2026-11-02T14:00:00+08:00"

_PRESS: Final[dict[str, Any]] = {
    key: value
    for key, value in EFFICIENCY_EXAMPLE.items()
    if key not in ("factory", "start", "end")
}
_WELD: Final[dict[str, Any]] = {
    "line": "l2",
    "name": "Weld line 2",
    "station": "weld-1",
    "in_whole": True,
    "availability": 0.5,
    "performance": 0.8333,
    "quality": 1.0,
    "oee": 0.4167,
    "planned_time_s": 3600,
    "run_time_s": 1800,
    "downtime_s": 1800,
    "total_count": 1500,
    "good_count": 1500,
    "scrap_count": 0,
    "losses": {
        "breakdowns_s": 1800,
        "setup_s": 0,
        "small_stops_s": 0,
        "slow_cycles_s": 300,
        "startup_rejects": 0,
        "production_rejects": 0,
    },
}

FACTORY_EXAMPLE: Final[dict[str, Any]] = {
    "factory": "f1",
    "start": _START,
    "end": _END,
    # Weighted by planned time: 0.7065, where the mean of the lines' OEE would be 0.5823.
    "availability": 0.8396,
    "performance": 0.859,
    "quality": 0.9796,
    "oee": 0.7065,
    "planned_time_s": 28800,
    "run_time_s": 24180,
    "downtime_s": 4620,
    "total_count": 20771,
    "good_count": 20348,
    "scrap_count": 423,
    "losses": {
        "breakdowns_s": 4620,
        "setup_s": 0,
        "small_stops_s": 0,
        "slow_cycles_s": 3409,
        "startup_rejects": 0,
        "production_rejects": 423,
    },
    "lines": [{**_PRESS, "name": "Press line 1", "in_whole": True}, _WELD],
}
"""Two lines of the contract's shift; the whole from their summed totals."""


class FactoryLineEfficiency(EfficiencyFigures):
    """One line of the factory, with the figures the line call answers for the range."""

    line: str = Field(description="The line.")
    name: str | None = Field(description="The line's name from its settings; null if none.")
    station: str | None = Field(
        description="The station whose figures these are; null while the line has none."
    )
    in_whole: bool = Field(
        default=True,
        description="Whether the line's totals are in the factory's figures: false for a line "
        "without settings (all its time scheduled) while another line of the factory has "
        "settings.",
    )


class FactoryEfficiency(EfficiencyFigures):
    """A factory's OEE over ``[start, end)``: the whole at the top level, and each line.

    The whole is weighted by planned time: each line's totals (planned, run and ideal time,
    counts, losses) are summed, and the figures computed once from the sums.
    """

    model_config = ConfigDict(json_schema_extra={"examples": [FACTORY_EXAMPLE]})

    factory: str = Field(description="The factory.")
    start: datetime = Field(description="Start of the range (inclusive), as asked.")
    end: datetime = Field(description="End of the range (exclusive), as asked.")
    lines: list[FactoryLineEfficiency] = Field(
        description="Every line of the factory, in order of `line`."
    )


class ReasonDowntime(BaseModel):
    """The stops for one reason in one state."""

    reason: str = Field(
        description="The reason the machine event gave; the state's name where it gave none.",
        examples=["jam"],
    )
    state: MachineState = Field(description="The state of the stops.")
    duration_s: float = Field(description="Their total duration in the range, in seconds.")
    count: int = Field(description="How many intervals overlap the range.")
    share: float = Field(description="`duration_s` / `total_stop_s`, 4 decimals.")


class StationDowntime(BaseModel):
    """The stops of one station."""

    station: str = Field(description="The station.", examples=["press-2"])
    duration_s: float = Field(description="Their total duration in the range, in seconds.")
    count: int = Field(description="How many intervals overlap the range.")
    share: float = Field(description="`duration_s` / `total_stop_s`, 4 decimals.")


class LineDowntime(BaseModel):
    """A line's stops over ``[start, end)``, ranked by total duration (a Pareto)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "factory": "f1",
                    "line": "l1",
                    "start": _START,
                    "end": _END,
                    "total_stop_s": 4500,
                    "stop_count": 3,
                    "small_stop_s": 95.5,
                    "small_stop_count": 4,
                    "unscheduled_stop_s": 0,
                    "by_reason": [
                        {
                            "reason": "jam",
                            "state": "down",
                            "duration_s": 2820,
                            "count": 1,
                            "share": 0.6267,
                        },
                        {
                            "reason": "setup",
                            "state": "setup",
                            "duration_s": 1200,
                            "count": 1,
                            "share": 0.2667,
                        },
                        {
                            "reason": "no material",
                            "state": "starved",
                            "duration_s": 480,
                            "count": 1,
                            "share": 0.1067,
                        },
                    ],
                    "by_station": [
                        {"station": "press-2", "duration_s": 4020, "count": 2, "share": 0.8933},
                        {"station": "press-1", "duration_s": 480, "count": 1, "share": 0.1067},
                    ],
                }
            ]
        }
    )

    factory: str = Field(description="The factory.")
    line: str = Field(description="The line.")
    start: datetime = Field(description="Start of the range (inclusive), as asked.")
    end: datetime = Field(description="End of the range (exclusive), as asked.")
    total_stop_s: float = Field(
        description="Time of all stations in a stop state, within scheduled time and not in "
        "a small stop (what the efficiency figures count as downtime), in seconds."
    )
    stop_count: int = Field(description="Stop intervals with time counted in `total_stop_s`.")
    small_stop_s: float = Field(
        description="Time in small stops within scheduled time (run time in the efficiency "
        "figures, their `losses.small_stops_s`), in seconds."
    )
    small_stop_count: int = Field(description="Small stops within scheduled time.")
    unscheduled_stop_s: float = Field(
        description="Time in a stop state outside scheduled time (not counted), in seconds."
    )
    by_reason: list[ReasonDowntime] = Field(
        description="Per reason and state, longest first (ties by reason, then state)."
    )
    by_station: list[StationDowntime] = Field(
        description="Per station, longest first (ties by station)."
    )


class StateInterval(BaseModel):
    """A station in one state over ``[start, end)``."""

    start: datetime = Field(description="Start (UTC), clipped to the range.")
    end: datetime = Field(
        description="End (UTC), clipped to the range; the last ends at min(end, now)."
    )
    state: MachineState = Field(description="The state.")
    reason: str | None = Field(description="The reason the machine event gave, if any.")


class StationTimeline(BaseModel):
    """One station's state intervals, in time order."""

    station: str = Field(description="The station.", examples=["press-2"])
    intervals: list[StateInterval] = Field(description="Its intervals in time order.")


class LineTimeline(BaseModel):
    """A line's stations and their states over ``[start, end)``, for a shift timeline."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "factory": "f1",
                    "line": "l1",
                    "start": _START,
                    "end": _END,
                    "stations": [
                        {
                            "station": "press-2",
                            "intervals": [
                                {
                                    "start": "2026-11-01T22:00:00Z",
                                    "end": "2026-11-01T23:12:00Z",
                                    "state": "running",
                                    "reason": None,
                                },
                                {
                                    "start": "2026-11-01T23:12:00Z",
                                    "end": "2026-11-01T23:59:00Z",
                                    "state": "down",
                                    "reason": "jam",
                                },
                                {
                                    "start": "2026-11-01T23:59:00Z",
                                    "end": "2026-11-02T06:00:00Z",
                                    "state": "running",
                                    "reason": None,
                                },
                            ],
                        }
                    ],
                }
            ]
        }
    )

    factory: str = Field(description="The factory.")
    line: str = Field(description="The line.")
    start: datetime = Field(description="Start of the range (inclusive), as asked.")
    end: datetime = Field(description="End of the range (exclusive), as asked.")
    stations: list[StationTimeline] = Field(
        description="Stations with an interval in the range, in order of `station`."
    )
