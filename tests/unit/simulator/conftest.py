"""Simulated days shared by the simulator's tests (generated once per session, no server)."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from services.simulator.model import SimulationConfig, simulate
from tests.unit.simulator.floor import Record, records

SHANGHAI = ZoneInfo("Asia/Shanghai")
# A Monday, midnight in f1's time zone: the day holds both shifts and three off-shift stretches.
DAY_START = datetime(2026, 11, 2, tzinfo=SHANGHAI)
DAY_RATE = 1.0  # production reports a second; low, so that a whole day stays quick to check


@pytest.fixture(scope="session", params=[1, 2], ids=lambda seed: f"seed{seed}")
def day(request: pytest.FixtureRequest) -> list[Record]:
    """One simulated day of one factory with two lines."""
    config = SimulationConfig(factories=1, lines=2, seed=request.param, rate=DAY_RATE)
    return records(simulate(config, DAY_START, DAY_START + timedelta(days=1)))
