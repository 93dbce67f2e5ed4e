"""`Outage`: a dependency that goes away is logged once, then summarised, then its return."""

from __future__ import annotations

import logging

import pytest

from services.runtime.outage import Outage, duration


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage() for record in caplog.records]


@pytest.fixture
def outage() -> tuple[Outage, Clock]:
    clock = Clock()
    return Outage(logging.getLogger("test.outage"), "kafka", clock=clock, detail="retrying"), clock


def test_the_first_failure_is_logged_with_its_error(
    outage: tuple[Outage, Clock], caplog: pytest.LogCaptureFixture
) -> None:
    tracker, _ = outage
    with caplog.at_level(logging.WARNING):
        tracker.failed(ConnectionRefusedError("connection refused"))
    assert tracker.away
    assert _lines(caplog) == [
        "kafka unavailable (ConnectionRefusedError: connection refused); retrying"
    ]


def test_retries_are_summarised_at_most_once_a_minute(
    outage: tuple[Outage, Clock], caplog: pytest.LogCaptureFixture
) -> None:
    tracker, clock = outage
    with caplog.at_level(logging.WARNING):
        tracker.failed("down")
        for _ in range(40):  # a retry every second for 40 s: nothing more
            clock.now += 1
            tracker.failed("down")
        assert len(caplog.records) == 1
        for _ in range(140):  # on to 3 minutes
            clock.now += 1
            tracker.failed(OSError("still down"))
    assert _lines(caplog)[1:] == [
        "kafka still unavailable after 1m00s (60 retries): OSError: still down",
        "kafka still unavailable after 2m00s (120 retries): OSError: still down",
        "kafka still unavailable after 3m00s (180 retries): OSError: still down",
    ]


def test_recovery_logs_how_long_it_lasted_and_resets(
    outage: tuple[Outage, Clock], caplog: pytest.LogCaptureFixture
) -> None:
    tracker, clock = outage
    with caplog.at_level(logging.WARNING):
        tracker.recovered()  # no outage: nothing to say
        tracker.failed("down")
        clock.now += 192
        tracker.failed("down")
        tracker.recovered()
        tracker.recovered()
    assert _lines(caplog)[1:] == [
        "kafka still unavailable after 3m12s (1 retries): down",
        "kafka back after 3m12s (1 retries)",
    ]
    assert not tracker.away and tracker.since is None
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        tracker.failed("down again")  # a new outage is logged afresh
    assert _lines(caplog) == ["kafka unavailable (down again); retrying"]


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0.25, "0.2s"), (9.5, "9.5s"), (41, "41s"), (192, "3m12s"), (7500, "2h05m")],
)
def test_durations_read_short(seconds: float, text: str) -> None:
    assert duration(seconds) == text


def test_recovery_can_say_what_was_done(
    outage: tuple[Outage, Clock], caplog: pytest.LogCaptureFixture
) -> None:
    tracker, clock = outage
    with caplog.at_level(logging.WARNING):
        tracker.failed("connection lost")
        clock.now += 2
        tracker.recovered("resubscribed to floor/v1/#")
    assert _lines(caplog)[-1] == "kafka back after 2.0s (0 retries); resubscribed to floor/v1/#"
