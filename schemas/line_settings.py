"""A line's settings: the body of ``PUT /api/v1/factories/{factory}/lines/{line}``.

The contract is docs/contract.md §5.

Shifts repeat every day in the line's ``timezone``. A shift whose ``end`` is not after its
``start`` ends on the next day (``22:00``–``06:00``; ``06:00``–``06:00`` is a 24-hour shift).
Breaks lie within their shift and may cross midnight the same way; breaks of a shift do not
overlap, and neither do the shifts of a line, so that no minute is scheduled twice.

An unknown setting is an error rather than ignored: a misspelt ``small_stop_treshold_s`` would
otherwise silently change nothing.
"""

from __future__ import annotations

import re
import zoneinfo
from datetime import UTC, time, timedelta, tzinfo
from functools import lru_cache
from typing import Annotated, Any, Final, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    StringConstraints,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic.config import JsonDict
from pydantic_core import PydanticCustomError

from schemas.types import Identifier, Segment, refuse_nul

__all__ = ["Break", "ClockTime", "LineSettings", "MaterialKanban", "Shift"]

_DAY_MINUTES: Final = 24 * 60
_HHMM: Final = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])", re.ASCII)
_HHMM_PATTERN: Final = "^([01][0-9]|2[0-3]):[0-5][0-9]$"
# Files under the zoneinfo folder that are not time zones an integrator means.
_NOT_ZONES: Final = frozenset({"localtime", "posixrules", "Factory"})


def _parse_clock(value: Any) -> Any:
    if isinstance(value, time) and value.second == 0 and value.microsecond == 0:
        return value.replace(tzinfo=None)
    if isinstance(value, str) and _HHMM.fullmatch(value):
        return time(int(value[:2]), int(value[3:]))
    raise PydanticCustomError(
        "clock_time", 'expected a time of day as "HH:MM", 00:00 to 23:59 (midnight is 00:00)'
    )


ClockTime = Annotated[
    time,
    BeforeValidator(_parse_clock),
    PlainSerializer(lambda value: value.strftime("%H:%M"), return_type=str),
    WithJsonSchema({"type": "string", "pattern": _HHMM_PATTERN, "examples": ["06:00"]}),
]
"""A time of day, ``"HH:MM"`` in JSON, in the line's time zone."""

Name = Annotated[
    str,
    StringConstraints(strict=True, strip_whitespace=True, min_length=1),
    AfterValidator(refuse_nul),
]
PositiveSeconds = Annotated[float, Field(strict=True, gt=0, allow_inf_nan=False)]


def _minutes(clock: time) -> int:
    return clock.hour * 60 + clock.minute


def _span(start: time, end: time) -> tuple[int, int]:
    """Start minute of the day and length in minutes; an end not after the start is next day."""
    length = (_minutes(end) - _minutes(start)) % _DAY_MINUTES
    return _minutes(start), length or _DAY_MINUTES


class Break(BaseModel):
    """A scheduled break within a shift."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    start: ClockTime
    end: ClockTime

    @model_validator(mode="after")
    def _not_empty(self) -> Self:
        if self.start == self.end:
            raise ValueError(f"break {self.start:%H:%M}–{self.end:%H:%M} is empty")
        return self


class Shift(BaseModel):
    """A daily shift; ``end`` not after ``start`` means it ends on the next day."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: Annotated[Name, Field(max_length=64)]
    start: ClockTime
    end: ClockTime
    breaks: tuple[Break, ...] = ()

    @property
    def length(self) -> timedelta:
        """Time from start to end, breaks included."""
        return timedelta(minutes=_span(self.start, self.end)[1])

    @property
    def break_time(self) -> timedelta:
        """Total scheduled break time."""
        return timedelta(minutes=sum(_span(b.start, b.end)[1] for b in self.breaks))

    @property
    def crosses_midnight(self) -> bool:
        """Whether the shift ends on the day after it starts."""
        return self.end <= self.start

    @model_validator(mode="after")
    def _breaks_fit(self) -> Self:
        shift_start, shift_length = _span(self.start, self.end)
        placed: list[tuple[int, int, Break]] = []
        for brk in self.breaks:
            break_start, break_length = _span(brk.start, brk.end)
            offset = (break_start - shift_start) % _DAY_MINUTES
            if offset + break_length > shift_length:
                raise ValueError(
                    f"break {brk.start:%H:%M}–{brk.end:%H:%M} is not within shift "
                    f"{self.name!r} ({self.start:%H:%M}–{self.end:%H:%M})"
                )
            placed.append((offset, offset + break_length, brk))
        placed.sort(key=lambda item: item[0])
        for (_, end, first), (start, _, second) in zip(placed, placed[1:], strict=False):
            if start < end:
                raise ValueError(
                    f"breaks {first.start:%H:%M}–{first.end:%H:%M} and "
                    f"{second.start:%H:%M}–{second.end:%H:%M} of shift {self.name!r} overlap"
                )
        return self


@lru_cache(maxsize=1)
def _known_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones() - _NOT_ZONES)


_EXAMPLE: Final[JsonDict] = {
    "name": "Press line 1",
    "timezone": "Asia/Shanghai",
    "ideal_cycle_time_s": 1.0,
    "constraint_station": "press-2",
    "shifts": [
        {
            "name": "A",
            "start": "06:00",
            "end": "14:00",
            "breaks": [{"start": "09:00", "end": "09:15"}, {"start": "11:30", "end": "12:00"}],
        },
        {"name": "N", "start": "22:00", "end": "06:00", "breaks": []},
    ],
    "small_stop_threshold_s": 120,
    "stale_after_s": 300,
    "stop_alert_after_s": 600,
    "slow_below": 0.8,
    "materials": {"steel-coil-2mm": {"reorder_point": 500, "container_quantity": 1000}},
}


class MaterialKanban(BaseModel):
    """Replenishment of one material at the line: when its quantity on hand falls to
    ``reorder_point`` or below, a kanban card asks the warehouse for a container."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    reorder_point: float = Field(
        strict=True, ge=0, allow_inf_nan=False,
        description="A card is raised when the quantity on hand is at or below this.",
    )  # fmt: skip
    container_quantity: float = Field(
        strict=True, gt=0, allow_inf_nan=False,
        description="What one card asks for; one more card for each further container below "
        "the reorder point.",
    )  # fmt: skip


class LineSettings(BaseModel):
    """Settings of one production line."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        title="LineSettings",
        json_schema_extra={"examples": [_EXAMPLE]},
    )

    name: Annotated[Name, Field(max_length=200, description="Shown on boards and reports.")]
    timezone: str = Field(
        default="UTC", strict=True, description="IANA time zone of the shifts, e.g. Europe/Berlin."
    )
    ideal_cycle_time_s: PositiveSeconds | None = Field(
        default=None, description="Seconds per part at ideal speed, when no order names one."
    )
    constraint_station: Segment | None = Field(
        default=None, description="The station whose figures are the line's; needed with several."
    )
    shifts: tuple[Shift, ...] = Field(
        default=(), description="Daily shifts; none means all time is scheduled."
    )
    small_stop_threshold_s: float = Field(
        default=0, strict=True, ge=0, allow_inf_nan=False,
        description="Stops shorter than this count as run time (a speed loss).",
    )  # fmt: skip
    stale_after_s: PositiveSeconds = Field(
        default=300, description="A station silent for this long is shown as stale on boards."
    )
    stop_alert_after_s: PositiveSeconds = Field(
        default=600,
        description="A station stopped this long raises the andon to `stopped_too_long`.",
    )
    slow_below: float = Field(
        default=0.8, strict=True, gt=0, le=1, allow_inf_nan=False,
        description="A running station whose performance over the last 10 minutes is below "
        "this is `running_slow` on the andon.",
    )  # fmt: skip
    materials: dict[Identifier, MaterialKanban] = Field(
        default_factory=dict,
        description="Material replenishment kanban, per `material_id` of the line's material "
        "events: its reorder point and container quantity, in the unit of its events.",
    )

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        if value != "UTC" and value not in _known_zones():
            raise ValueError(
                f"unknown time zone {value[:60]!r}; use an IANA name such as Asia/Shanghai"
            )
        return value

    @model_validator(mode="after")
    def _shifts_apart(self) -> Self:
        names = [shift.name for shift in self.shifts]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"shift names must be unique: {', '.join(duplicates)} repeated")
        for index, first in enumerate(self.shifts):
            for second in self.shifts[index + 1 :]:
                if _overlap(first, second):
                    raise ValueError(f"shifts {first.name!r} and {second.name!r} overlap")
        return self

    def zone(self) -> tzinfo:
        """The line's time zone, for reading shift times as instants."""
        # UTC needs no time zone database, which a slim container may lack.
        return UTC if self.timezone == "UTC" else zoneinfo.ZoneInfo(self.timezone)


def _overlap(first: Shift, second: Shift) -> bool:
    # Two arcs of the daily circle overlap when either starts inside the other.
    first_start, first_length = _span(first.start, first.end)
    second_start, second_length = _span(second.start, second.end)
    return (second_start - first_start) % _DAY_MINUTES < first_length or (
        first_start - second_start
    ) % _DAY_MINUTES < second_length
