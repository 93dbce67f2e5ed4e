"""Wall time and simulated time.

The clock is injected (:class:`Clock`), so tests drive time with a fake and never sleep. The
:class:`Timeline` maps wall time to simulated time: ``speedup`` times faster from the simulated
``start``, but never ahead of the wall clock; once simulated time has caught up with now, it
runs in real time.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final, Protocol

REPLAY_WHEN_FAST: Final = timedelta(hours=8)


class Clock(Protocol):
    """The wall clock of the publisher."""

    def now(self) -> datetime:
        """The current instant, timezone-aware."""
        ...

    def sleep(self, seconds: float) -> None:
        """Let ``seconds`` pass (or fewer, when the service is stopping)."""
        ...


class SystemClock:
    """The real clock; :meth:`sleep` returns early once ``stop`` is set."""

    def __init__(self, stop: threading.Event) -> None:
        self._stop = stop

    def now(self) -> datetime:
        return datetime.now(UTC)

    def sleep(self, seconds: float) -> None:
        self._stop.wait(max(0.0, seconds))


@dataclass(frozen=True, slots=True)
class Timeline:
    """Simulated time is ``start`` at wall time ``wall_start`` and runs ``speedup`` times faster,
    capped at the wall clock."""

    start: datetime
    wall_start: datetime
    speedup: float = 1.0

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.wall_start.tzinfo is None:
            raise ValueError("the timeline needs timezone-aware instants")
        if self.speedup < 1.0:
            raise ValueError("speedup must be at least 1")

    def simulated_at(self, wall: datetime) -> datetime:
        """The simulated instant at wall instant ``wall``."""
        return min(self.start + (wall - self.wall_start) * self.speedup, wall)

    def due(self, simulated: datetime) -> datetime:
        """The first wall instant at which simulated time reaches ``simulated``."""
        return max(self.wall_start + (simulated - self.start) / self.speedup, simulated)


def default_start(now: datetime, speedup: float) -> datetime:
    """Now in real time; with a speedup, eight hours ago, so a shift's worth replays quickly."""
    return now if speedup == 1.0 else now - REPLAY_WHEN_FAST
