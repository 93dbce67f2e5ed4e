"""The simulator service's one wiring point: options in, events published until done or stopped."""

from __future__ import annotations

import logging
import signal
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import FrameType

from services.runtime.mqtt_url import MqttAddress
from services.simulator.clock import Clock, SystemClock, Timeline, default_start
from services.simulator.model import SimulationConfig, simulate
from services.simulator.publisher import EventSink, MqttPublisher
from services.simulator.runner import run_simulation

log = logging.getLogger(f"floorstream.{__name__}")


@dataclass(frozen=True, slots=True)
class SimulatorOptions:
    """What ``floorstream simulate`` was asked for (see its ``--help``)."""

    config: SimulationConfig = field(default_factory=SimulationConfig)
    speedup: float = 1.0
    start: datetime | None = None  # default: now, or eight hours ago with a speedup
    duration_s: float | None = None  # simulated seconds; None: until stopped
    max_in_flight: int = 100


def serve(options: SimulatorOptions, sink: EventSink, clock: Clock, stop: threading.Event) -> int:
    """Publish the simulated factory to ``sink`` until the duration is over or ``stop`` is set;
    the number of events published."""
    now = clock.now()
    start = options.start if options.start is not None else default_start(now, options.speedup)
    end = None if options.duration_s is None else start + timedelta(seconds=options.duration_s)
    config = options.config
    log.info(
        "simulating %d factories x %d lines from %s at %gx, %g counter readings/s, seed %d",
        config.factories,
        config.lines,
        start.isoformat(timespec="seconds"),
        options.speedup,
        config.rate,
        config.seed,
    )
    timeline = Timeline(start, now, options.speedup)
    return run_simulation(simulate(config, start, end), sink, clock, timeline, stop)


def run_service(options: SimulatorOptions, address: MqttAddress) -> int:
    """Run the simulator against the broker at ``address`` until done or SIGINT/SIGTERM.

    The exit code: 0 when done or stopped, 1 after an unexpected error (logged).
    """
    stop = threading.Event()
    client_id = f"floorstream-simulator-{uuid.uuid4().hex[:8]}"
    try:
        with (
            stop_on_signals(stop),
            MqttPublisher(
                address, client_id=client_id, stop=stop, max_in_flight=options.max_in_flight
            ) as publisher,
        ):
            serve(options, publisher, SystemClock(stop), stop)
    except Exception:
        log.exception("simulator stopped on an error")
        return 1
    log.info("simulator stopped")
    return 0


@contextmanager
def stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """Set ``stop`` on SIGINT or SIGTERM while inside; the previous handlers come back after.

    Only the main thread may install signal handlers; elsewhere this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handle(signum: int, frame: FrameType | None) -> None:
        log.info("%s: stopping", signal.Signals(signum).name)
        stop.set()

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
