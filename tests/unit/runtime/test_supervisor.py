from __future__ import annotations

import signal
import sys

import pytest

from services.stack import supervisor as supervision
from services.stack.supervisor import ServiceSpec, Supervisor, next_delay


@pytest.mark.parametrize(
    ("previous", "uptime", "expected"),
    [(None, 0.0, 1.0), (1.0, 0.5, 2.0), (16.0, 3.0, 30.0), (30.0, 1.0, 30.0), (30.0, 60.0, 1.0)],
)
def test_back_off_doubles_to_a_cap_and_resets_after_a_healthy_minute(
    previous: float | None, uptime: float, expected: float
) -> None:
    assert next_delay(previous, uptime) == expected


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_dead_child_is_restarted_after_its_back_off(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    crashing = ServiceSpec("crasher", [sys.executable, "-c", "raise SystemExit(3)"])
    sup = Supervisor([crashing], env={}, clock=clock)
    sup.start()
    first = sup.pids()["crasher"]
    sup._children[0].child._popen.wait()  # type: ignore[union-attr]
    sup.tick()  # notices the exit, schedules a restart in 1 s
    assert "crasher exited with code 3; restarting in 1s" in caplog.text
    sup.tick()
    assert sup.pids()["crasher"] == first  # not yet: the clock has not moved
    clock.now += 1.0
    sup.tick()
    assert sup.pids()["crasher"] != first
    assert "restarting crasher (restart 1)" in caplog.text
    sup.stop()


def test_stop_ends_every_child() -> None:
    sleeper = ServiceSpec("sleeper", [sys.executable, "-c", "import time; time.sleep(60)"])
    sup = Supervisor([sleeper, sleeper], env={})
    sup.start()
    sup.stop()
    for entry in sup._children:
        assert entry.child.returncode() == -signal.SIGTERM


def test_constants_make_sense() -> None:
    assert supervision.FIRST_DELAY_S < supervision.MAX_DELAY_S < supervision.HEALTHY_AFTER_S


def test_a_service_added_later_is_started_and_supervised(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    sup = Supervisor([], env={}, clock=clock)
    sup.add(ServiceSpec("late", [sys.executable, "-c", "raise SystemExit(4)"]))
    first = sup.pids()["late"]
    assert first is not None
    sup._children[0].child._popen.wait()  # type: ignore[union-attr]
    sup.tick()
    clock.now += 1.0
    sup.tick()
    assert sup.pids()["late"] != first
    assert "late exited with code 4" in caplog.text
    sup.stop()
