"""The pure OEE core: machine, production and order events → per-minute buckets → OEE.

Imports only the standard library, pydantic and `schemas`; time comes in as
parameters. Two halves:

- write side: `fold_station` turns a station's events into `MinuteBucket`s, a pure function
  of the set of events, so the processor recomputes and *replaces* buckets (exactly once,
  whatever the order of arrival); `context_bounds` says which events a window needs;
  `tally_production` is the part of new production alone, which the processor adds to the
  stored buckets where nothing else changed.
- read side: `scheduled_intervals` turns a line's shifts into UTC intervals, `efficiency`
  reads buckets over them into the contract's answer (`efficiency_from_totals` from
  buckets already summed, e.g. by SQL), `periods` and `efficiency_by` cut a
  range by hour, shift or day. Settings apply at read time, so changing them rewrites history.

Units and rules: `types` (integer milliseconds), `timeline` (stops), `production` (orders,
startup scrap), `schedule` (daylight saving), `efficiency` (unknown time, zero denominators).
"""

from services.efficiency.core.bucket import NOTHING_KNOWN, MinuteBucket
from services.efficiency.core.efficiency import (
    Efficiency,
    Losses,
    efficiency,
    efficiency_from_totals,
    in_schedule,
)
from services.efficiency.core.fold import (
    DEFAULT_STARTUP_WINDOW_S,
    context_bounds,
    fold_station,
    silent_intervals,
    tally_production,
)
from services.efficiency.core.periods import Period, efficiency_by, periods
from services.efficiency.core.schedule import (
    ShiftOccurrence,
    scheduled_intervals,
    shift_occurrences,
    wall_to_utc,
)
from services.efficiency.core.types import (
    EfficiencyCoreError,
    Granularity,
    Interval,
    MachineChange,
    Millis,
    OrderChange,
    Production,
)

__all__ = [
    "DEFAULT_STARTUP_WINDOW_S",
    "NOTHING_KNOWN",
    "Efficiency",
    "EfficiencyCoreError",
    "Granularity",
    "Interval",
    "Losses",
    "MachineChange",
    "MinuteBucket",
    "Millis",
    "OrderChange",
    "Period",
    "Production",
    "ShiftOccurrence",
    "context_bounds",
    "efficiency",
    "efficiency_by",
    "efficiency_from_totals",
    "fold_station",
    "in_schedule",
    "periods",
    "scheduled_intervals",
    "shift_occurrences",
    "silent_intervals",
    "tally_production",
    "wall_to_utc",
]
