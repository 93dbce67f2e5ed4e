"""The efficiency processor's buckets in tests: a simulated hour of events, the reference
buckets of the pure core folding them all at once, and what PostgreSQL holds."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import asyncpg

from schemas import Event, MachineEvent, OrderEvent, ProductionEvent, validate_message
from services.efficiency.core import MinuteBucket, fold_station, silent_intervals
from services.simulator.model import SimulationConfig, simulate

START = datetime(2026, 11, 2, 0, 30, tzinfo=UTC)  # 08:30 in the simulated factory's zone
HOURS = 1


def simulated_hour(factory: str, *, hours: int = HOURS) -> list[Event]:
    """An hour (or ``hours``) of one simulated line, renamed to ``factory``, as the gateway
    would route it."""
    sim = simulate(
        SimulationConfig(factories=1, lines=1, seed=7, rate=2.0),
        START,
        START + timedelta(hours=hours),
    )
    return [validate_message(e.topic.replace("/f1/", f"/{factory}/"), e.encode()) for e in sim]


def reference_buckets(
    events: list[Event],
    *,
    stale_after_s: float = 300,
    hours: int = HOURS,
    small_stop_threshold_s: float = 0,
) -> dict[tuple[str, datetime], MinuteBucket]:
    """The pure core's buckets of the set of events (of `simulated_hour` with as many
    ``hours``); silences from every event of a station."""
    changes = [e for e in events if isinstance(e, MachineEvent)]
    made = [e for e in events if isinstance(e, ProductionEvent)]
    orders = [e for e in events if isinstance(e, OrderEvent)]
    start = START.replace(second=0) - timedelta(hours=1)
    end = START + timedelta(hours=hours + 1)
    reference = {}
    for station in {e.station for e in changes + made}:
        buckets = fold_station(
            [c for c in changes if c.station == station],
            [p for p in made if p.station == station],
            orders,
            window_start=start,
            window_end=end,
            small_stop_threshold_s=small_stop_threshold_s,
            silent=silent_intervals(
                (e.ts for e in events if e.station == station), stale_after_s=stale_after_s
            ),
        )
        reference |= {(station, m): b for m, b in buckets.items() if b != MinuteBucket()}
    return reference


async def stored_buckets(url: str, factory: str) -> dict[tuple[str, datetime], MinuteBucket]:
    connection = await asyncpg.connect(url)
    try:
        rows = await connection.fetch("SELECT * FROM minute_bucket WHERE factory = $1", factory)
    finally:
        await connection.close()
    fields = set(MinuteBucket.__dataclass_fields__) - {"down_by_reason"}
    return {
        (r["station"], r["minute"]): MinuteBucket(
            **{f: r[f] for f in fields},
            down_by_reason=tuple(sorted(json.loads(r["down_by_reason"]).items())),
        )
        for r in rows
    }


_HOURS_DISAGREE = """
WITH m AS (
    SELECT station, date_trunc('hour', minute, 'UTC') AS hour, sum(running_ms) AS running_ms,
           sum(down_ms) AS down_ms, sum(unknown_ms) AS unknown_ms, sum(total_count) AS total,
           sum(good_count) AS good, sum(ideal_time_s::text::numeric) AS ideal
    FROM minute_bucket WHERE factory = $1 GROUP BY 1, 2
), h AS (
    SELECT station, hour, running_ms, down_ms, unknown_ms, total_count AS total,
           good_count AS good, ideal_time_s AS ideal
    FROM hour_bucket WHERE factory = $1
)
SELECT * FROM m FULL JOIN h USING (station, hour)
WHERE (m.running_ms, m.down_ms, m.unknown_ms, m.total, m.good, m.ideal)
      IS DISTINCT FROM (h.running_ms, h.down_ms, h.unknown_ms, h.total, h.good, h.ideal)
"""


async def hours_disagreeing(url: str, factory: str) -> list[asyncpg.Record]:
    """The hours whose rollup is not the sum of their stored minutes (none, when exact)."""
    connection = await asyncpg.connect(url)
    try:
        return list(await connection.fetch(_HOURS_DISAGREE, factory))
    finally:
        await connection.close()
