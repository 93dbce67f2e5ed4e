"""The simulated factory as a pure, deterministic stream of events in event-time order.

No clock, socket or event loop here: the start instant comes in, events come out. The same
:class:`SimulationConfig`, ``start`` and ``end`` give the identical events, byte for byte.

Where line-level events go (each on a real station, so no pseudo-station appears on a board):

- ``order`` on the line's constraint station, whose cycle time the order's ``ideal_cycle_time_s``
  is and whose figures are the line's OEE;
- ``people`` on the station the operator works at (team lead: the constraint; quality: the last);
- ``material`` on the station the material feeds (coil or sheet: the first, cartons: ``pack``,
  paint: ``paint``).

A station reports production only when it made parts; while it makes none it repeats its
machine state every `params.HEARTBEAT_S` (`heartbeat`), so that a stopped station is not taken
for a silent one.
"""

from __future__ import annotations

import hashlib
import heapq
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

from services.simulator import params
from services.simulator.heartbeat import with_heartbeats
from services.simulator.layout import (
    LineProfile,
    factory_names,
    line_names,
    line_profile,
)
from services.simulator.line import LineSim
from services.simulator.production import Ledger, Reporter, report_period
from services.simulator.shifts import calendar_windows
from services.simulator.types import Draft, SimEvent, topic_for


@dataclass(frozen=True, slots=True)
class SimulationConfig:
    """What to simulate: ``factories`` × ``lines`` lines; ``rate`` counter readings a second,
    all stations together (a reading with no part made since the previous report sends nothing).
    """

    factories: int = 1
    lines: int = 2
    seed: int = 1
    rate: float = 20.0

    def profiles(self) -> list[LineProfile]:
        return [
            line_profile(factory, line)
            for factory in factory_names(self.factories)
            for line in line_names(self.lines)
        ]


def run_tag(seed: int, start: datetime) -> str:
    """A short tag of one run, in its ``event_id`` s and order ids.

    A run restarted from another instant sends new ids, which the stack must not mistake for
    duplicates of the previous run's; the same run replayed sends the same ids.
    """
    key = f"{seed}|{round(start.timestamp() * 1000)}"
    return hashlib.sha256(key.encode()).hexdigest()[:8]


def simulate(
    config: SimulationConfig, start: datetime, end: datetime | None = None
) -> Iterator[SimEvent]:
    """The events of the simulated factory from ``start`` (inclusive) to ``end`` (exclusive, or
    forever), in non-decreasing event time; ties keep factory, line and station order.
    """
    if start.tzinfo is None or (end is not None and end.tzinfo is None):
        raise ValueError("start and end must be timezone-aware")
    profiles = config.profiles()
    total = sum(len(profile.stations) for profile in profiles)
    period = report_period(total, config.rate)
    tag = run_tag(config.seed, start)
    streams = []
    first = 0
    for profile in profiles:
        slots = [
            (
                (first + i + 0.5) * period / total,
                station,
                1.0 if station == profile.constraint else params.OTHER_STATION_SCRAP_SHARE,
            )
            for i, station in enumerate(profile.stations)
        ]
        first += len(profile.stations)
        streams.append(_line_events(profile, config.seed, tag, start, end, slots, period))
    return heapq.merge(*streams, key=lambda event: event.time)


def _line_events(
    profile: LineProfile,
    seed: int,
    tag: str,
    start: datetime,
    end: datetime | None,
    slots: Sequence[tuple[float, str, float]],
    period: float,
) -> Iterator[SimEvent]:
    """One line's events: its happenings merged with its stations' production reports, and
    the heartbeats of its stations that have nothing to report."""
    stop = float("inf") if end is None else end.timestamp()
    finish = _Finisher(profile, tag)
    drafts = _line_drafts(profile, seed, tag, start, slots, period)
    for draft in with_heartbeats(drafts, params.HEARTBEAT_S):
        if draft.t >= stop:
            return  # a happening past the end of the run
        yield finish(draft)


def _line_drafts(
    profile: LineProfile,
    seed: int,
    tag: str,
    start: datetime,
    slots: Sequence[tuple[float, str, float]],
    period: float,
) -> Iterator[Draft]:
    """One line's happenings and production reports, window by window, forever."""
    name = f"{seed}/{profile.factory}/{profile.line}"
    # A simulation, not cryptography: seeded, reproducible generators are the point.
    sim = LineSim(profile, random.Random(f"{name}/floor"), tag)  # noqa: S311
    ledger = Ledger()
    scrap_rng = random.Random(f"{name}/scrap")  # noqa: S311
    reporter = Reporter(ledger, scrap_rng, slots, start.timestamp(), period)
    for window in calendar_windows(profile.zone, start):
        drafts, pieces, parts = sim.run_window(window)
        ledger.add_window(pieces, parts)
        yield from heapq.merge(drafts, reporter.reports(window.end), key=lambda d: d.t)


class _Finisher:
    """Gives a line's drafts their ``event_id`` (a per-line sequence) and ``ts``."""

    def __init__(self, profile: LineProfile, tag: str) -> None:
        self._profile = profile
        self._zone = profile.zone
        self._tag = tag
        self._seq = 0

    def __call__(self, draft: Draft) -> SimEvent:
        self._seq += 1
        when = datetime.fromtimestamp(draft.t, self._zone)
        when = when.replace(microsecond=when.microsecond // 1000 * 1000)
        payload = {
            "event_id": f"{self._tag}-{self._seq}",
            "ts": when.isoformat(timespec="milliseconds"),
            **draft.body,
        }
        topic = topic_for(self._profile.factory, self._profile.line, draft.station, draft.kind)
        return SimEvent(when, topic, payload)
