"""`MinuteBucket`: what one station did in one UTC minute, independent of any schedule.

A bucket holds only figures that no line setting changes: milliseconds per machine state,
counts, and ideal time of the parts made under an order that names its cycle time. Shifts,
breaks and the line's own ideal cycle time are applied when the buckets are read
(`efficiency`), so a change of settings applies to past figures too.

Exactness: for every bucket, ``sum of the state fields + small_stop_ms + unknown_ms`` is
60 000 ms (`MinuteBucket.covered_ms` + `unknown_ms`).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Final

from schemas.types import MachineState
from services.efficiency.core.types import MINUTE_MS, Millis

__all__ = ["NOTHING_KNOWN", "MinuteBucket", "MinuteTally"]


@dataclass(frozen=True, slots=True)
class MinuteBucket:
    """One station's figures for one whole UTC minute (durations in integer milliseconds).

    The per-state fields of the downtime states leave out small stops: their milliseconds are
    in `small_stop_ms` only. `unknown_ms` is time with no known state (before the station's
    first change, or after the last interval that counts; see `fold_station`).
    `down_by_reason` splits `down_ms` by reason, sorted by reason, ``""`` for no reason.
    `ideal_time_s` is total count × ideal cycle time of the order running, for parts made
    under an order that names one, the cycle time counted in whole microseconds, so that the
    sum is exact and the production part of a bucket is a plain sum over its events (the
    processor adds new production to a stored bucket; see `tally_production`);
    `count_without_ideal` are the other parts, which the reader multiplies by the line's
    ``ideal_cycle_time_s`` setting.
    """

    running_ms: Millis = 0
    idle_ms: Millis = 0
    starved_ms: Millis = 0
    blocked_ms: Millis = 0
    down_ms: Millis = 0
    setup_ms: Millis = 0
    planned_stop_ms: Millis = 0
    offline_ms: Millis = 0
    small_stop_ms: Millis = 0
    unknown_ms: Millis = MINUTE_MS
    total_count: int = 0
    good_count: int = 0
    scrap_count: int = 0
    startup_scrap: int = 0
    ideal_time_s: float = 0.0
    count_without_ideal: int = 0
    down_by_reason: tuple[tuple[str, Millis], ...] = ()

    def state_ms(self, state: MachineState) -> Millis:
        """Milliseconds in `state` (small stops left out)."""
        value: Millis = getattr(self, f"{state.value}_ms")
        return value

    @property
    def covered_ms(self) -> Millis:
        """Milliseconds with a known state: 60 000 − `unknown_ms`."""
        return sum(self.state_ms(state) for state in MachineState) + self.small_stop_ms

    @property
    def downtime_ms(self) -> Millis:
        """Milliseconds in down, setup, idle, starved, blocked and offline, small stops out."""
        return self.covered_ms - self.running_ms - self.planned_stop_ms - self.small_stop_ms


NOTHING_KNOWN: Final = MinuteBucket()
"""The bucket of a minute with nothing in it (all unknown). `fold_station` answers this very
instance for such minutes, so a writer may skip them by identity."""


@dataclass(slots=True)
class MinuteTally:
    """The mutable accumulator behind one `MinuteBucket`, used while folding."""

    state_ms: dict[MachineState, Millis] = field(default_factory=lambda: defaultdict(int))
    small_stop_ms: Millis = 0
    down_by_reason: dict[str, Millis] = field(default_factory=lambda: defaultdict(int))
    good: int = 0
    scrap: int = 0
    startup_scrap: int = 0
    ideal_us: int = 0
    count_without_ideal: int = 0

    def add_state(self, state: MachineState, reason: str | None, ms: Millis, small: bool) -> None:
        """Count `ms` of `state`; a small stop counts as `small_stop_ms` only."""
        if small:
            self.small_stop_ms += ms
            return
        self.state_ms[state] += ms
        if state is MachineState.DOWN:
            self.down_by_reason[reason or ""] += ms

    def _ms(self, state: MachineState) -> Millis:
        return self.state_ms.get(state, 0)

    def freeze(self) -> MinuteBucket:
        """The bucket of the tallied figures."""
        known = sum(self.state_ms.values()) + self.small_stop_ms
        return MinuteBucket(
            running_ms=self._ms(MachineState.RUNNING),
            idle_ms=self._ms(MachineState.IDLE),
            starved_ms=self._ms(MachineState.STARVED),
            blocked_ms=self._ms(MachineState.BLOCKED),
            down_ms=self._ms(MachineState.DOWN),
            setup_ms=self._ms(MachineState.SETUP),
            planned_stop_ms=self._ms(MachineState.PLANNED_STOP),
            offline_ms=self._ms(MachineState.OFFLINE),
            small_stop_ms=self.small_stop_ms,
            unknown_ms=MINUTE_MS - known,
            total_count=self.good + self.scrap,
            good_count=self.good,
            scrap_count=self.scrap,
            startup_scrap=self.startup_scrap,
            ideal_time_s=self.ideal_us / 1_000_000,  # correctly rounded: exact where it can be
            count_without_ideal=self.count_without_ideal,
            down_by_reason=tuple(sorted(self.down_by_reason.items())),
        )
