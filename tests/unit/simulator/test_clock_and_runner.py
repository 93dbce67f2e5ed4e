"""Simulated time against a fake wall clock: sped up, never ahead of now; the publishing loop."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from services.simulator.clock import Timeline, default_start
from services.simulator.model import SimulationConfig, simulate
from services.simulator.runner import run_simulation
from services.simulator.service import SimulatorOptions, serve
from services.simulator.types import SimEvent

NOW = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai, inside shift A


class FakeClock:
    """Time passes only when the code under test sleeps."""

    def __init__(self, now: datetime) -> None:
        self.current = now

    def now(self) -> datetime:
        return self.current

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0.0
        self.current += timedelta(seconds=seconds)


class FakeSink:
    """Records what was published and when; stops the service after ``stop_after`` messages."""

    def __init__(self, clock: FakeClock, stop: threading.Event, stop_after: int = -1) -> None:
        self.clock = clock
        self.stop = stop
        self.stop_after = stop_after
        self.sent: list[tuple[datetime, str, bytes]] = []

    @property
    def in_flight(self) -> int:
        return 0

    def publish(self, topic: str, payload: bytes) -> bool:
        self.sent.append((self.clock.now(), topic, payload))
        if len(self.sent) == self.stop_after:
            self.stop.set()
        return True


def _sent_times(sink: FakeSink) -> list[tuple[datetime, datetime]]:
    """(wall time of publishing, event time) of every message."""
    out = []
    for wall, _, payload in sink.sent:
        ts = payload.split(b'"ts":"')[1].split(b'"')[0].decode()
        out.append((wall, datetime.fromisoformat(ts)))
    return out


def test_the_timeline_runs_k_times_faster_and_is_capped_at_now() -> None:
    timeline = Timeline(NOW - timedelta(hours=1), NOW, speedup=60.0)
    assert timeline.simulated_at(NOW) == NOW - timedelta(hours=1)
    assert timeline.simulated_at(NOW + timedelta(seconds=30)) == NOW - timedelta(minutes=30)
    assert timeline.simulated_at(NOW + timedelta(minutes=5)) == NOW + timedelta(minutes=5)
    assert timeline.due(NOW - timedelta(minutes=30)) == NOW + timedelta(seconds=30)
    assert timeline.due(NOW + timedelta(hours=1)) == NOW + timedelta(hours=1)


def test_the_default_start_is_now_or_a_shift_ago_when_sped_up() -> None:
    assert default_start(NOW, 1.0) == NOW
    assert default_start(NOW, 10.0) == NOW - timedelta(hours=8)


def test_a_replay_catches_up_and_then_follows_the_wall_clock() -> None:
    clock, stop = FakeClock(NOW), threading.Event()
    sink = FakeSink(clock, stop)
    options = SimulatorOptions(
        config=SimulationConfig(rate=5.0),
        speedup=60.0,
        start=NOW - timedelta(hours=1),
        duration_s=2 * 3600.0,
    )
    start = NOW - timedelta(hours=1)
    model = list(simulate(options.config, start, start + timedelta(hours=2)))
    assert serve(options, sink, clock, stop) == len(sink.sent) == len(model) > 10_000
    assert [payload for _, _, payload in sink.sent] == [e.encode() for e in model]
    times = _sent_times(sink)
    for wall, event_time in times:
        assert event_time <= wall  # never ahead of the wall clock
        # 60 times faster until caught up with now (after 3600 / 59 s), then in real time.
        expected = max(NOW + (event_time - start) / 60, event_time)
        assert abs((wall - expected).total_seconds()) < 0.01
    catch_up = NOW + timedelta(seconds=3600 / 59)
    replayed = sum(event_time < NOW for _, event_time in times)
    assert replayed > 5_000 and sum(wall < catch_up for wall, _ in times) >= replayed
    assert times[-1][1] < NOW + timedelta(hours=1)
    assert clock.now() - NOW == pytest.approx(times[-1][1] - NOW, abs=timedelta(seconds=1))


def test_in_real_time_each_event_goes_out_at_its_time() -> None:
    clock, stop = FakeClock(NOW), threading.Event()
    sink = FakeSink(clock, stop)
    options = SimulatorOptions(config=SimulationConfig(rate=20.0), duration_s=600.0)
    serve(options, sink, clock, stop)
    # A run starts with a setup: nothing made, the stations heard from by their heartbeats.
    expected = list(simulate(options.config, NOW, NOW + timedelta(seconds=600)))
    assert len(sink.sent) == len(expected) > 90
    assert all(abs((wall - t).total_seconds()) < 0.001 for wall, t in _sent_times(sink))


def test_a_stop_ends_the_loop() -> None:
    clock, stop = FakeClock(NOW), threading.Event()
    sink = FakeSink(clock, stop, stop_after=10)
    assert serve(SimulatorOptions(), sink, clock, stop) == 10  # no duration: until stopped


def test_a_sink_that_gives_up_ends_the_loop() -> None:
    clock, stop = FakeClock(NOW), threading.Event()

    class Refusing(FakeSink):
        def publish(self, topic: str, payload: bytes) -> bool:
            return False

    event = SimEvent(NOW, "floor/v1/f1/l1/cut/machine", {"event_id": "e", "ts": "x"})
    timeline = Timeline(NOW, NOW)
    assert run_simulation([event, event], Refusing(clock, stop), clock, timeline, stop) == 0


def test_progress_is_logged_once_a_minute(caplog: pytest.LogCaptureFixture) -> None:
    clock, stop = FakeClock(NOW), threading.Event()
    sink = FakeSink(clock, stop)
    options = SimulatorOptions(config=SimulationConfig(rate=10.0), duration_s=360.0)
    with caplog.at_level("INFO", logger="floorstream.services.simulator"):
        serve(options, sink, clock, stop)
    progress = [r.getMessage() for r in caplog.records if "simulated time" in r.getMessage()]
    assert 5 <= len(progress) <= 8  # every 60 s of 360, and the summary
    assert "published" in progress[0] and "/s" in progress[0]
