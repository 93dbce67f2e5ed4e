"""Query latency: the efficiency call over 30 days of one line's minute buckets (whole range, and
``granularity=day``), and the factory call over one 8-hour shift of a factory of 100 lines
(minute buckets for each), p50 / p99, as a ratio against a ``SELECT 1`` round trip through the
same API stack (``GET /readyz``) measured in the same run. Target: p99 <= 20 ms for both.

The app runs in this process and is called over ASGI (httpx), so both figures leave out the
network and uvicorn alike; the database is the embedded PostgreSQL.

    python bench/bench_query.py [--requests 200] [--factory-requests 50]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
from pydantic import SecretStr

from common import conditions, percentile, record, table
from services.api.app import create_app
from services.efficiency import rollup
from services.runtime.settings import ApiSettings
from services.stack.embedded.stack import EmbeddedStack, StackPlan

TOKEN = "b" * 32
START = datetime(2026, 9, 1, tzinfo=UTC)
DAYS = 30
FACTORY_LINES = 100
SHIFT = timedelta(hours=8)


async def _load(url: str) -> None:
    connection = await asyncpg.connect(url)
    try:
        minutes = DAYS * 24 * 60
        records = [
            ("bench", "l1", "s1", START + timedelta(minutes=i), 55_000, 0, 0, 0, 5_000, 0, 0, 0,
             0, 0, 100, 98, 2, 0, 50.0, 0, "{}")
            for i in range(minutes)
        ]  # fmt: skip
        shift = int(SHIFT.total_seconds()) // 60
        records += [
            ("bench-factory", f"l{n}", "s1", START + timedelta(minutes=i), 55_000, 0, 0, 0,
             5_000, 0, 0, 0, 0, 0, 100, 98, 2, 0, 50.0, 0, "{}")
            for n in range(FACTORY_LINES)
            for i in range(shift)
        ]  # fmt: skip
        await connection.copy_records_to_table("minute_bucket", records=records)
        # Their hours, as the processor keeps them in the transaction that writes the minutes.
        await rollup.refresh_hours(
            connection,
            windows=[("bench", "l1", "s1", START, START + timedelta(days=DAYS))]
            + [
                ("bench-factory", f"l{n}", "s1", START, START + SHIFT) for n in range(FACTORY_LINES)
            ],
        )
        settings = json.dumps({"name": "Bench line", "timezone": "Asia/Shanghai"})
        await connection.executemany(
            "INSERT INTO line (factory, line, settings) VALUES ($1, $2, $3::jsonb)",
            [("bench", "l1", settings)]
            + [("bench-factory", f"l{n}", settings) for n in range(FACTORY_LINES)],
        )
    finally:
        await connection.close()


async def _latencies(call: Callable[[], Awaitable[httpx.Response]], count: int) -> list[float]:
    for _ in range(10):  # warm up
        assert (await call()).status_code == 200
    times = []
    for _ in range(count):
        began = time.perf_counter()
        response = await call()
        times.append((time.perf_counter() - began) * 1000)
        assert response.status_code == 200, response.text
    return times


async def _measure(url: str, count: int, factory_count: int) -> dict[str, list[float]]:
    app = create_app(ApiSettings(database_url=url, bootstrap_token=SecretStr(TOKEN)))
    path = "/api/v1/factories/bench/lines/l1/efficiency"
    month = {"start": START.isoformat(), "end": (START + timedelta(days=DAYS)).isoformat()}
    shift = {"start": START.isoformat(), "end": (START + SHIFT).isoformat()}
    async with app.router.lifespan_context(app):
        await _load(url)
        gc.collect()  # as `floorstream api` does before it serves
        gc.freeze()
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://api", headers={"Authorization": f"Bearer {TOKEN}"}
        ) as http:
            return {
                "baseline: SELECT 1 via /readyz": await _latencies(
                    lambda: http.get("/readyz"), count
                ),
                "efficiency, 30 days": await _latencies(
                    lambda: http.get(path, params=month), count
                ),
                "efficiency, 30 days by day": await _latencies(
                    lambda: http.get(path, params=month | {"granularity": "day"}), count
                ),
                "factory of 100 lines, one shift": await _latencies(
                    lambda: http.get("/api/v1/factories/bench-factory/efficiency", params=shift),
                    factory_count,
                ),
            }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=200, help="requests per figure (200)")
    parser.add_argument(
        "--factory-requests", type=int, default=50, help="requests of the factory call (50)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        with EmbeddedStack(StackPlan(Path(folder), durable=False)) as stack:
            where = conditions(
                stack,
                requests=args.requests,
                factory_requests=args.factory_requests,
                days=DAYS,
                factory_lines=FACTORY_LINES,
                shift_hours=SHIFT.total_seconds() / 3600,
                transport="ASGI in-process",
            )
            figures = asyncio.run(
                _measure(stack.database_url, args.requests, args.factory_requests)
            )
    baseline = figures.pop("baseline: SELECT 1 via /readyz")
    base_p50, base_p99 = statistics.median(baseline), percentile(baseline, 99)
    rows: list[tuple[object, ...]] = [("SELECT 1 via /readyz (baseline)", base_p50, base_p99, 1.0)]
    for name, values in figures.items():
        p50, p99 = statistics.median(values), percentile(values, 99)
        rows.append((name, p50, p99, p99 / base_p99))
        for label, value, base in (("p50", p50, base_p50), ("p99", p99, base_p99)):
            record("query", f"{name} {label}", value, "ms", baseline=base, ratio=value / base,
                   conditions=where, target="p99 <= 20 ms")  # fmt: skip
    table(
        f"query benchmark: {args.requests} requests each ({args.factory_requests} of the "
        f"factory call), {os.cpu_count()} cores",
        ["", "p50 ms", "p99 ms", "p99 x baseline"],
        rows,
    )


if __name__ == "__main__":
    main()
