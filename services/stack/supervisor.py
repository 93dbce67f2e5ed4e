"""Supervision of the service processes that `floorstream up` runs.

The protocol, per child:

1. start it (from the main thread: see ``embedded.process``);
2. when it exits while the stack is running, log the exit and restart it after a back-off that
   doubles from 1 s up to 30 s, and starts again from 1 s once the child has lived a minute;
3. on stop, signal every child in reverse start order and wait for each;
4. `pause` stops one child and keeps it stopped until `resume` (the stack's owner does this
   around a server it restarts, or to stop children in an order of its own).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from services.stack.embedded.process import ChildProcess

log = logging.getLogger(f"floorstream.{__name__}")

FIRST_DELAY_S = 1.0
MAX_DELAY_S = 30.0
HEALTHY_AFTER_S = 60.0


def next_delay(previous: float | None, uptime_s: float) -> float:
    """The back-off before a restart, given the previous one and how long the child lived."""
    if previous is None or uptime_s >= HEALTHY_AFTER_S:
        return FIRST_DELAY_S
    return min(previous * 2, MAX_DELAY_S)


@dataclass(frozen=True)
class ServiceSpec:
    """A service to run: its name, command line, and variables set for it alone (over the
    supervisor's environment), e.g. its own MQTT login."""

    name: str
    argv: Sequence[str]
    env: Mapping[str, str] = field(default_factory=dict)


@dataclass
class _Supervised:
    spec: ServiceSpec
    child: ChildProcess
    started_at: float = 0.0
    delay: float | None = None
    restart_at: float | None = None
    restarts: int = field(default=0)
    paused: bool = False


class Supervisor:
    """Runs services as child processes and restarts the ones that die."""

    def __init__(
        self,
        specs: Sequence[ServiceSpec],
        *,
        env: Mapping[str, str],
        clock: Callable[[], float] = time.monotonic,
        poll_s: float = 0.2,
    ) -> None:
        self._clock = clock
        self._poll_s = poll_s
        self._env = env
        self._children = [
            _Supervised(spec, ChildProcess(spec.name, spec.argv, env={**env, **spec.env}))
            for spec in specs
        ]

    def pids(self) -> dict[str, int | None]:
        return {entry.spec.name: entry.child.pid for entry in self._children}

    def start(self) -> None:
        for entry in self._children:
            self._start(entry)

    def add(self, spec: ServiceSpec) -> None:
        """Start one more service now, supervised like the others."""
        entry = _Supervised(spec, ChildProcess(spec.name, spec.argv, env={**self._env, **spec.env}))
        self._children.append(entry)
        self._start(entry)

    async def run(self, stop: asyncio.Event) -> None:
        """Watch the children until ``stop`` is set, restarting the ones that exit."""
        self.start()
        try:
            while not stop.is_set():
                self.tick()
                try:
                    await asyncio.wait_for(stop.wait(), self._poll_s)
                except TimeoutError:
                    pass
        finally:
            self.stop()

    def names(self) -> list[str]:
        return [entry.spec.name for entry in self._children]

    def pause(self, name: str, *, grace: float = 15) -> None:
        """Stop ``name`` (its stop signal, then SIGKILL after ``grace``); not restarted until
        `resume`. A name not supervised is ignored."""
        for entry in self._children:
            if entry.spec.name == name:
                entry.paused = True
                entry.restart_at = None
                entry.child.stop(grace=grace)

    def resume(self, name: str) -> None:
        for entry in self._children:
            if entry.spec.name == name and entry.paused:
                entry.paused = False
                entry.delay = None
                self._start(entry)

    def tick(self) -> None:
        """One look at every child: schedule restarts and carry out those that are due."""
        now = self._clock()
        for entry in self._children:
            if entry.paused:
                continue
            if entry.restart_at is not None:
                if now >= entry.restart_at:
                    entry.restart_at = None
                    entry.restarts += 1
                    log.warning("restarting %s (restart %d)", entry.spec.name, entry.restarts)
                    self._start(entry)
                continue
            code = entry.child.returncode()
            if code is not None:
                entry.delay = next_delay(entry.delay, now - entry.started_at)
                entry.restart_at = now + entry.delay
                log.warning(
                    "%s exited with code %s; restarting in %.0fs",
                    entry.spec.name,
                    code,
                    entry.delay,
                )

    def stop(self) -> None:
        for entry in reversed(self._children):
            entry.child.stop(grace=15)

    def _start(self, entry: _Supervised) -> None:
        entry.child.start()
        entry.started_at = self._clock()
