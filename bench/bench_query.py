"""Query latency: the efficiency call over 30 days of one line's minute buckets (whole range, and
``granularity=day``), p50 / p99, as a ratio against a ``SELECT 1`` round trip through the same
API stack (``GET /readyz``) measured in the same run.

The app runs in this process and is called over ASGI (httpx), so both figures leave out the
network and uvicorn alike; the database is the embedded PostgreSQL.

    python bench/bench_query.py [--requests 200]
"""

from __future__ import annotations

import argparse
import asyncio
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

from floorstream.services.api.app import create_app
from floorstream.services.runtime.embedded.stack import EmbeddedStack, StackPlan
from floorstream.services.runtime.settings import ApiSettings

RESULTS = Path(__file__).parent / "results.json"
TOKEN = "b" * 32
START = datetime(2026, 9, 1, tzinfo=UTC)
DAYS = 30


async def _load(url: str) -> None:
    connection = await asyncpg.connect(url)
    try:
        minutes = DAYS * 24 * 60
        records = [
            ("bench", "l1", "s1", START + timedelta(minutes=i), 55_000, 0, 0, 0, 5_000, 0, 0, 0,
             0, 0, 100, 98, 2, 0, 50.0, 0, "{}")
            for i in range(minutes)
        ]  # fmt: skip
        await connection.copy_records_to_table("minute_bucket", records=records)
        await connection.execute(
            "INSERT INTO line (factory, line, settings) VALUES ('bench', 'l1', $1::jsonb)",
            json.dumps({"name": "Bench line", "timezone": "Asia/Shanghai"}),
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


def _p(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100)[q - 1]


async def _measure(url: str, count: int) -> dict[str, list[float]]:
    app = create_app(ApiSettings(database_url=url, bootstrap_token=SecretStr(TOKEN)))
    path = "/api/v1/factories/bench/lines/l1/efficiency"
    month = {"start": START.isoformat(), "end": (START + timedelta(days=DAYS)).isoformat()}
    async with app.router.lifespan_context(app):
        await _load(url)
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
            }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=200, help="requests per figure (200)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        with EmbeddedStack(StackPlan(Path(folder), durable=False)) as stack:
            figures = asyncio.run(_measure(stack.database_url, args.requests))
    baseline = statistics.median(figures["baseline: SELECT 1 via /readyz"])
    print(f"query benchmark: {args.requests} requests each, {os.cpu_count()} cores")  # noqa: T201
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    for name, values in figures.items():
        p50, p99 = statistics.median(values), _p(values, 99)
        print(
            f"  {name:32s} p50 {p50:7.2f} ms  p99 {p99:7.2f} ms  "  # noqa: T201
            f"{p50 / baseline:5.1f}x baseline p50"
        )
        results.setdefault("query", {})[name] = {
            "p50_ms": round(p50, 2),
            "p99_ms": round(p99, 2),
            "ratio_p50": round(p50 / baseline, 2),
        }
    results["query"]["conditions"] = {
        "requests": args.requests,
        "days": DAYS,
        "cores": os.cpu_count(),
        "transport": "ASGI in-process",
    }
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
