"""Performance of the moment: a station's speed over the last 10 whole minutes.

performance = ideal time / run time, where, as for OEE (docs/design.md, "Line efficiency"):

- run time = time ``running`` plus small stops (stops shorter than the line's threshold);
- ideal time = the ideal time of the parts made under an order that names a cycle time, plus
  the other parts × the line's ``ideal_cycle_time_s``.

It is unknown (None) without run time, or when the ideal time cannot be told: the line has no
``ideal_cycle_time_s`` and some part had no cycle time from its order, or no part was made
(zero parts is zero speed only where a cycle time says what was expected). The window is the
last `WINDOW` whole minutes before now: the current minute is still being written.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

__all__ = ["WINDOW", "RunWindow", "recent_performance", "recent_window"]

WINDOW: Final = timedelta(minutes=10)


@dataclass(frozen=True, slots=True)
class RunWindow:
    """A station's per-minute figures over the window, summed."""

    run_ms: int
    """Milliseconds running, plus small stops."""
    ideal_time_s: float
    """Ideal time of the parts made under an order that names its cycle time."""
    count_without_ideal: int
    """Parts made under no order that names a cycle time."""
    total_count: int


def recent_window(now: datetime) -> tuple[datetime, datetime]:
    """``[start, end)``: the `WINDOW` of whole minutes that ends at the start of now's minute."""
    end = now.astimezone(UTC).replace(second=0, microsecond=0)
    return end - WINDOW, end


def recent_performance(run: RunWindow, *, ideal_cycle_time_s: float | None) -> float | None:
    """Ideal time / run time of ``run``, 4 decimals; None where unknown (see the module)."""
    if run.run_ms <= 0:
        return None
    if ideal_cycle_time_s is None and (run.count_without_ideal > 0 or run.total_count == 0):
        return None
    ideal_s = run.ideal_time_s + run.count_without_ideal * (ideal_cycle_time_s or 0.0)
    return round(ideal_s * 1000 / run.run_ms, 4)
