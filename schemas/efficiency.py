"""Efficiency answers of the API: OEE figures of a line or a factory over a range."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field

_EFFICIENCY_FIGURES: Final[dict[str, Any]] = {
    "availability": 0.8881,
    "performance": 0.8611,
    "quality": 0.978,
    "oee": 0.7479,
    "planned_time_s": 25200,
    "run_time_s": 22380,
    "downtime_s": 2820,
    "total_count": 19271,
    "good_count": 18848,
    "scrap_count": 423,
    "losses": {
        "breakdowns_s": 2820,
        "setup_s": 0,
        "small_stops_s": 0,
        "slow_cycles_s": 3109,
        "startup_rejects": 0,
        "production_rejects": 423,
    },
}

EFFICIENCY_EXAMPLE: Final[dict[str, Any]] = {
    "factory": "f1",
    "line": "l1",
    "start": "2026-11-02T06:00:00+08:00",
    "end": "2026-11-02T14:00:00+08:00",
    "station": "press-2",
    **_EFFICIENCY_FIGURES,
}
"""The contract's example: shift A of a line in Asia/Shanghai (docs/contract.md §5)."""


class EfficiencyLosses(BaseModel):
    """The six big losses: four in seconds, two in parts."""

    breakdowns_s: float = Field(description="Planned time in `down` (small stops out).")
    setup_s: float = Field(description="Planned time in `setup` (small stops out).")
    small_stops_s: float = Field(description="Stops shorter than `small_stop_threshold_s`.")
    slow_cycles_s: float = Field(description="Run time − ideal time − small stops, at least 0.")
    startup_rejects: int = Field(description="Scrap within 10 minutes after a setup ended.")
    production_rejects: int = Field(description="The other scrap.")


class EfficiencyFigures(BaseModel):
    """OEE figures over some scheduled time (docs/design.md, "Line efficiency")."""

    availability: float = Field(description="Run time / planned time, 4 decimals.")
    performance: float = Field(
        description="Ideal time / run time, 4 decimals; not capped (above 1: cycle time too slow)."
    )
    quality: float = Field(description="Good / total count, 4 decimals.")
    oee: float = Field(description="availability × performance × quality, 4 decimals.")
    planned_time_s: float = Field(
        description="Scheduled time minus planned stops and time with no known state."
    )
    run_time_s: float
    downtime_s: float
    total_count: int
    good_count: int
    scrap_count: int
    losses: EfficiencyLosses


class EfficiencyPeriod(EfficiencyFigures):
    """One period of ``granularity``: a local hour or day, or one occurrence of a shift."""

    start: datetime = Field(description="The period's start (UTC), clipped to the range.")
    end: datetime = Field(description="The period's end (UTC), clipped to the range.")
    name: str | None = Field(description="The shift's name (granularity=shift), else null.")


class LineEfficiency(EfficiencyFigures):
    """A line's OEE over ``[start, end)``."""

    model_config = ConfigDict(json_schema_extra={"examples": [EFFICIENCY_EXAMPLE]})

    factory: str
    line: str
    start: datetime
    end: datetime
    station: str | None = Field(
        description="The station whose figures these are; null while the line has none."
    )
    buckets: list[EfficiencyPeriod] = Field(
        default_factory=list,
        description="Per period, in time order; present only when `granularity` is given.",
    )
