"""The publishing loop: each simulated event goes out once simulated time reaches it.

For each event, in event-time order:

1. wait until the timeline says its instant has come (simulated time never passes the wall
   clock, so a replay catches up and then follows real time);
2. publish it (the sink waits while too many messages are in flight);
3. once a minute, log progress: events published, their rate, simulated time.

The loop ends when the events end (``--duration``) or ``stop`` is set (SIGINT/SIGTERM).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from services.simulator.clock import Clock, Timeline
from services.simulator.publisher import EventSink
from services.simulator.types import SimEvent

log = logging.getLogger(f"floorstream.{__name__}")

_LONGEST_NAP_S = 1.0  # a waiting loop looks at the stop flag at least this often


@dataclass(slots=True)
class _Progress:
    clock: Clock
    every: timedelta
    published: int = 0
    last_count: int = 0
    last_log: datetime | None = None

    def tick(self, sink: EventSink, simulated: datetime) -> None:
        self.published += 1
        now = self.clock.now()
        if self.last_log is None:
            self.last_log = now
        elif now - self.last_log >= self.every:
            seconds = (now - self.last_log).total_seconds()
            rate = (self.published - self.last_count) / seconds
            log.info(
                "published %d events (%.0f/s), simulated time %s, %d in flight",
                self.published,
                rate,
                simulated.isoformat(timespec="seconds"),
                sink.in_flight,
            )
            self.last_log, self.last_count = now, self.published


def run_simulation(
    events: Iterable[SimEvent],
    sink: EventSink,
    clock: Clock,
    timeline: Timeline,
    stop: threading.Event,
    *,
    log_every_s: float = 60.0,
) -> int:
    """Publish ``events`` as simulated time reaches them; the number published."""
    progress = _Progress(clock, timedelta(seconds=log_every_s))
    last: datetime | None = None
    for event in events:
        # 1. Wait for its instant.
        if not _wait_until(clock, timeline.due(event.time), stop):
            break
        # 2. Publish.
        if not sink.publish(event.topic, event.encode()):
            break
        # 3. Progress.
        last = event.time
        progress.tick(sink, event.time)
    reached = "nothing" if last is None else last.isoformat(timespec="seconds")
    log.info("published %d events, simulated time reached %s", progress.published, reached)
    return progress.published


def _wait_until(clock: Clock, due: datetime, stop: threading.Event) -> bool:
    """Sleep until ``due``; False if ``stop`` was set first."""
    while not stop.is_set():
        delay = (due - clock.now()).total_seconds()
        if delay <= 0.0:
            return True
        clock.sleep(min(delay, _LONGEST_NAP_S))
    return False
