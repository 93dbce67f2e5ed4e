"""The efficiency reads on a real PostgreSQL: whole hours from ``hour_bucket`` plus the edge
minutes sum to exactly what the minutes alone sum to, for any schedule, zone and range.

One station's minutes (random figures, some missing, ideal times that are not sums of powers
of two) are stored once, their hours kept by `rollup.refresh_hours` through overlapping and
repeated windows as a processor's batches would; then hypothesis draws line settings (zones
5:30 and 5:45 from UTC, daylight saving), a range, a granularity and a live-tail cut, and the
sums `buckets.sum_buckets` answers must equal those worked out here from the minutes, bit
for bit (the ideal time as the exact sum of each minute's shortest decimal, rounded once).
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal, localcontext
from typing import Any

import asyncpg
import pytest
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from schemas.line_settings import LineSettings
from services.api.scope import ALL_FACTORIES
from services.efficiency import read as buckets
from services.efficiency import rollup
from services.efficiency.core import (
    Interval,
    MinuteBucket,
    in_schedule,
    periods,
    scheduled_intervals,
)
from services.efficiency.store import BUCKET_COLUMNS
from services.runtime.database import migrate
from services.stack.embedded.stack import Endpoints
from tests.integration.api.support import a_factory

pytestmark = pytest.mark.integration

FIRST = datetime(2026, 3, 27, 21, 0, tzinfo=UTC)  # across Europe's spring change
DAYS = 4
_INTS = tuple(c for c in BUCKET_COLUMNS if c != "ideal_time_s")


def random_minutes(seed: int) -> dict[datetime, MinuteBucket]:
    rng, found = random.Random(seed), {}
    for i in range(DAYS * 24 * 60):
        if rng.random() < 0.15:
            continue  # nothing known: no row
        cuts = sorted(rng.randrange(0, 60_001) for _ in range(3))
        total = rng.randrange(0, 40)
        good = rng.randrange(0, total + 1)
        found[FIRST + timedelta(minutes=i)] = MinuteBucket(
            running_ms=cuts[0],
            down_ms=cuts[1] - cuts[0],
            planned_stop_ms=cuts[2] - cuts[1],
            unknown_ms=60_000 - cuts[2],
            total_count=total,
            good_count=good,
            scrap_count=total - good,
            startup_scrap=rng.randrange(0, total - good + 1),
            ideal_time_s=rng.choice([0.0, 0.1, 1 / 3, rng.uniform(0, 90)]) * total,
            count_without_ideal=rng.randrange(0, 3),
            down_by_reason=(("jam", cuts[1] - cuts[0]),) if cuts[1] > cuts[0] else (),
        )
    return found


def record(factory: str, minute: datetime, b: MinuteBucket) -> tuple[Any, ...]:
    reasons = "{" + ", ".join(f'"{k}": {v}' for k, v in b.down_by_reason) + "}"
    return (factory, "l1", "s1", minute, *(getattr(b, c) for c in BUCKET_COLUMNS), reasons)


@pytest.fixture(scope="module")
async def stored(stack: Endpoints) -> AsyncIterator[tuple[str, dict[datetime, MinuteBucket]]]:
    """One station's minutes and their hours, kept through several refreshes."""
    factory, minutes = a_factory(), random_minutes(9)
    db = await asyncpg.connect(stack.database_url)
    try:
        await migrate(db)  # the session's database is migrated by the first app otherwise
        columns = ["factory", "line", "station", "minute", *BUCKET_COLUMNS, "down_by_reason"]
        rows = [record(factory, m, b) for m, b in minutes.items()]
        await db.copy_records_to_table("minute_bucket", records=rows, columns=columns)
        windows = [
            (factory, "l1", "s1", FIRST + timedelta(minutes=a), FIRST + timedelta(minutes=b))
            for a, b in [(0, 2000), (1500, 1501), (1990, 5760), (17, 4000)]
        ]
        await rollup.refresh_hours(db, windows=windows)
        yield factory, minutes
    finally:
        await db.close()


def reference(
    minutes: dict[datetime, MinuteBucket], intervals: list[Interval], before: datetime
) -> MinuteBucket:
    """The minutes' sum worked out here: what a minute-only read must answer."""
    clipped = [(low, min(high, before)) for low, high in intervals if low < min(high, before)]
    chosen = list(in_schedule(sorted(minutes.items()), clipped))
    with localcontext() as exact:
        exact.prec = 100
        ideal = float(sum((Decimal(repr(b.ideal_time_s)) for b in chosen), Decimal(0)))
    return MinuteBucket(
        **{c: sum(getattr(b, c) for b in chosen) for c in _INTS}, ideal_time_s=ideal
    )


ZONES = ["UTC", "Asia/Kolkata", "Asia/Kathmandu", "America/St_Johns", "Europe/Berlin"]
clock = st.builds(time, st.integers(0, 23), st.sampled_from([0, 15, 30, 45, 7]))


@st.composite
def line_settings(draw: st.DrawFn) -> LineSettings:
    shifts = []
    for number in range(draw(st.integers(0, 2))):
        start, end = draw(clock), draw(clock)
        brk = draw(st.none() | st.tuples(clock, clock))
        breaks = [] if brk is None else [{"start": f"{brk[0]:%H:%M}", "end": f"{brk[1]:%H:%M}"}]
        shifts.append(
            {
                "name": f"S{number}",
                "start": f"{start:%H:%M}",
                "end": f"{end:%H:%M}",
                "breaks": breaks,
            }
        )
    try:
        return LineSettings.model_validate(
            {"name": "l1", "timezone": draw(st.sampled_from(ZONES)), "shifts": shifts}
        )
    except ValidationError:
        reject()


instant = st.integers(0, DAYS * 24 * 3600 - 1).map(lambda s: FIRST + timedelta(seconds=s))


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    line=line_settings(),
    bounds=st.tuples(instant, instant).filter(lambda pair: pair[0] != pair[1]).map(sorted),
    granularity=st.sampled_from([None, "hour", "shift", "day"]),
    cut=st.none() | instant,
)
async def test_hours_and_edges_sum_as_the_minutes(
    pool: asyncpg.Pool,
    stored: tuple[str, dict[datetime, MinuteBucket]],
    line: LineSettings,
    bounds: list[datetime],
    granularity: Any,
    cut: datetime | None,
) -> None:
    factory, minutes = stored
    start, end = bounds
    before = end if cut is None else cut.replace(second=0)
    chosen = [] if granularity is None else periods(line, start, end, granularity)
    groups = [scheduled_intervals(line, start, end), *(list(p.scheduled) for p in chosen)]
    target = buckets.SumTarget("l1", "s1", groups, before)
    (answer,) = await buckets.sum_buckets(
        pool, scope=ALL_FACTORIES, factory=factory, targets=[target]
    )
    assert answer == [reference(minutes, group, before) for group in groups]


async def test_the_hours_are_the_minutes_summed(
    pool: asyncpg.Pool, stored: tuple[str, dict[datetime, MinuteBucket]]
) -> None:
    factory, minutes = stored
    rows = await pool.fetch(
        "SELECT * FROM hour_bucket WHERE factory = $1 AND line = 'l1' ORDER BY hour", factory
    )
    hours: dict[datetime, list[MinuteBucket]] = {}
    for minute, bucket in minutes.items():
        hours.setdefault(rollup.floor_hour(minute), []).append(bucket)
    assert [row["hour"] for row in rows] == sorted(hours)
    for row in rows:
        inside = hours[row["hour"]]
        assert {c: row[c] for c in _INTS} == {c: sum(getattr(b, c) for b in inside) for c in _INTS}
        assert row["ideal_time_s"] == sum(Decimal(repr(b.ideal_time_s)) for b in inside)
        jams = sum(dict(b.down_by_reason).get("jam", 0) for b in inside)
        assert row["down_by_reason"] == (f'{{"jam": {jams}}}' if jams else "{}")


async def test_an_hour_whose_minutes_go_goes_and_others_stay(
    pool: asyncpg.Pool, stored: tuple[str, dict[datetime, MinuteBucket]]
) -> None:
    _, minutes = stored
    factory = a_factory()
    async with pool.acquire() as db:
        columns = ["factory", "line", "station", "minute", *BUCKET_COLUMNS, "down_by_reason"]
        rows = [record(factory, m, b) for m, b in minutes.items() if m < FIRST + timedelta(hours=3)]
        await db.copy_records_to_table("minute_bucket", records=rows, columns=columns)
        whole = (factory, "l1", "s1", FIRST, FIRST + timedelta(hours=3))
        await rollup.refresh_hours(db, windows=[whole])
        async with db.transaction():  # as a batch that replaced the second hour with nothing
            second = FIRST + timedelta(hours=1)
            await db.execute(
                "DELETE FROM minute_bucket WHERE factory = $1 AND minute >= $2 AND minute < $3",
                factory,
                second,
                second + timedelta(hours=1),
            )
            window = (
                factory,
                "l1",
                "s1",
                second + timedelta(minutes=5),
                second + timedelta(minutes=6),
            )
            await rollup.refresh_hours(db, windows=[window])
        hours = await db.fetch(
            "SELECT hour FROM hour_bucket WHERE factory = $1 ORDER BY hour", factory
        )
    assert [r["hour"] for r in hours] == [FIRST, FIRST + timedelta(hours=2)]


@pytest.fixture(scope="module")
async def pool(stack: Endpoints) -> AsyncIterator[asyncpg.Pool]:
    async with asyncpg.create_pool(stack.database_url, min_size=1, max_size=2) as created:
        yield created
