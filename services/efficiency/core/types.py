"""The vocabulary of the OEE core: units, the shapes of its inputs, and its errors.

Units: every duration inside the core is an integer number of milliseconds (`Millis`) and
every instant is milliseconds since the Unix epoch in UTC, so that sums are exact and a
figure never depends on the order in which floats were added. Timestamps are floored to the
millisecond on the way in. Ideal time is the one float figure (a count times a cycle time in
seconds): in a minute bucket it is a whole number of microseconds (the cycle time counted to
the microsecond), an exact sum; buckets are summed with `math.fsum`, whose result does not
depend on order either.

Inputs are structural (`Protocol`s): the event models of `schemas` fit them, and
so does any row type of the processor that has the same attributes.

Errors::

    EfficiencyCoreError (ValueError)   bad arguments: a naive datetime, a window not on
                                       whole minutes, an end before a start
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Final, Literal, Protocol, TypeAlias

from schemas.types import MachineState, OrderAction

__all__ = [
    "DOWNTIME_STATES",
    "EPOCH",
    "MINUTE_MS",
    "EfficiencyCoreError",
    "Granularity",
    "Interval",
    "MachineChange",
    "Millis",
    "OrderChange",
    "Production",
    "from_ms",
    "require_aware",
    "to_ms",
]

Millis: TypeAlias = int
"""A duration in milliseconds, or an instant in milliseconds since `EPOCH`."""

Interval: TypeAlias = tuple[datetime, datetime]
"""A half-open ``[start, end)`` of UTC instants."""

Granularity: TypeAlias = Literal["hour", "shift", "day"]
"""How `periods` cuts a range, as in ``?granularity=`` of the efficiency call."""

EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
MINUTE_MS: Final[Millis] = 60_000
_ONE_MS: Final = timedelta(milliseconds=1)

DOWNTIME_STATES: Final = frozenset(
    {
        MachineState.DOWN,
        MachineState.SETUP,
        MachineState.IDLE,
        MachineState.STARVED,
        MachineState.BLOCKED,
        MachineState.OFFLINE,
    }
)
"""States that stop production and count as downtime (or as a small stop, when short)."""


class EfficiencyCoreError(ValueError):
    """Root of the OEE core's errors: an argument that breaks the documented rules."""


class MachineChange(Protocol):
    """A station's state from `ts` on (a `MachinePayload` or `MachineEvent` fits)."""

    @property
    def event_id(self) -> str: ...
    @property
    def ts(self) -> datetime: ...
    @property
    def state(self) -> MachineState: ...
    @property
    def reason(self) -> str | None: ...


class Production(Protocol):
    """Parts finished since the previous production event (a `ProductionPayload` fits)."""

    @property
    def event_id(self) -> str: ...
    @property
    def ts(self) -> datetime: ...
    @property
    def good(self) -> int: ...
    @property
    def scrap(self) -> int: ...


class OrderChange(Protocol):
    """A work order starting or ending on the line (an `OrderPayload` fits)."""

    @property
    def event_id(self) -> str: ...
    @property
    def ts(self) -> datetime: ...
    @property
    def action(self) -> OrderAction: ...
    @property
    def order_id(self) -> str: ...
    @property
    def ideal_cycle_time_s(self) -> float | None: ...


def require_aware(value: datetime, name: str) -> datetime:
    """`value` in UTC; a naive datetime is an `EfficiencyCoreError`."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise EfficiencyCoreError(f"{name} must be timezone-aware, got {value.isoformat()}")
    return value.astimezone(UTC)


def to_ms(value: datetime) -> Millis:
    """An aware instant as milliseconds since the epoch, floored."""
    if value.tzinfo is None or value.utcoffset() is None:
        require_aware(value, "timestamp")  # raises
    # The difference of aware datetimes is taken in UTC, whatever their offsets.
    return (value - EPOCH) // _ONE_MS


def from_ms(value: Millis) -> datetime:
    """Milliseconds since the epoch as a UTC datetime."""
    return EPOCH + value * _ONE_MS
