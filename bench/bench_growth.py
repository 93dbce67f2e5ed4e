"""Growth: the efficiency processor's per-event cost and memory as the factory grows, for the
same number of events spread over 10, 1,000 and 10,000 lines, as a ratio against the 10-line
run. Target: per-event cost within 1.5x from 10 to 10,000 lines; memory bounded.

Method: each run is a process of its own (so that its peak RSS is its own) that builds N
events (one station per line, one event in ten a machine change, the rest production
reports, spread evenly over the same 30 minutes whatever the line count), then applies them
with the processor's ``apply_batch`` in batches of ``--batch`` records, each in one
transaction on the embedded PostgreSQL, as the consumer loop does (Kafka left out). The
per-event cost is the wall time of the batches over N; memory is the process's RSS before the
batches and its peak (``getrusage``) after them. The tables are emptied between runs.

    python bench/bench_growth.py [--events 20000] [--batch 5000] [--lines 10,1000,10000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg

from common import conditions, record, say, table
from schemas import validate_message
from services.efficiency.processor import apply_batch
from services.runtime.database import open_database
from services.stack.embedded.stack import EmbeddedStack, StackPlan

START = datetime(2026, 11, 2, 0, 30, tzinfo=UTC)
SPAN = timedelta(minutes=30)
TARGET = "per-event cost within 1.5x from 10 to 10,000 lines; memory bounded"


@dataclass(frozen=True, slots=True)
class Record:
    """The part of a Kafka record the handler reads."""

    value: bytes
    offset: int
    topic: str = "bench"
    partition: int = 0


def build(count: int, lines: int) -> list[Record]:
    draw = random.Random(11)
    records = []
    for n in range(count):
        ts = (START + SPAN * n / count).isoformat()
        line = f"l{n % lines}"
        body: dict[str, object]
        if draw.random() < 0.1:
            kind = "machine"
            body = {"state": draw.choice(["running", "idle", "down"]), "reason": "bench"}
        else:
            kind, body = "production", {"good": 1, "scrap": 0}
        payload = json.dumps({"event_id": f"e{n}", "ts": ts, **body}).encode()
        event = validate_message(f"floor/v1/bench/{line}/press/{kind}", payload)
        records.append(Record(event.to_kafka_value(), n))
    return records


def _rss_mb() -> float:
    for row in Path("/proc/self/status").read_text().splitlines():
        if row.startswith("VmRSS:"):
            return int(row.split()[1]) / 1024
    return 0.0


async def child(url: str, count: int, lines: int, batch: int) -> dict[str, float]:
    records = build(count, lines)
    before = _rss_mb()
    connection = await asyncpg.connect(url)
    try:
        began = time.perf_counter()
        for at in range(0, count, batch):
            async with connection.transaction():
                await apply_batch(connection, records[at : at + batch])
        elapsed = time.perf_counter() - began
    finally:
        await connection.close()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"us_per_event": elapsed / count * 1e6, "rss_before_mb": before, "peak_rss_mb": peak}


async def _prepare(url: str) -> None:
    async with open_database(url, max_size=1):  # migrated
        pass


async def _empty(url: str) -> None:
    connection = await asyncpg.connect(url)
    try:
        tables = await connection.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
            " AND tablename <> 'schema_migrations'"
        )
        names = ", ".join(f'"{row["tablename"]}"' for row in tables)
        await connection.execute(f"TRUNCATE {names}")  # noqa: S608 - names from the catalogue
    finally:
        await connection.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=20_000, help="events per run (20,000)")
    parser.add_argument("--batch", type=int, default=5_000, help="records per batch (5,000)")
    parser.add_argument("--lines", default="10,1000,10000", help="line counts (10,1000,10000)")
    parser.add_argument("--child", nargs=2, metavar=("URL", "LINES"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        url, lines = args.child
        print(json.dumps(asyncio.run(child(url, args.events, int(lines), args.batch))))  # noqa: T201
        return
    counts = [int(n) for n in args.lines.split(",")]
    runs = {}
    with tempfile.TemporaryDirectory() as folder:
        plan = StackPlan(
            Path(folder), mqtt_url="mqtt://127.0.0.1:1", kafka_bootstrap="127.0.0.1:1"
        )  # PostgreSQL only
        with EmbeddedStack(plan) as stack:
            where = conditions(
                stack,
                servers=["postgresql"],
                events=args.events,
                batch=args.batch,
                machine_share=0.1,
                span_minutes=SPAN.total_seconds() / 60,
                via="apply_batch on one connection, one transaction per batch (no Kafka)",
            )
            asyncio.run(_prepare(stack.database_url))
            say(f"growth benchmark: {args.events:,} events per run, batches of {args.batch:,}")
            for lines in counts:
                asyncio.run(_empty(stack.database_url))
                argv = [sys.executable, __file__, "--events", str(args.events)]
                argv += ["--batch", str(args.batch), "--child", stack.database_url, str(lines)]
                out = subprocess.run(argv, check=True, capture_output=True, text=True).stdout  # noqa: S603
                runs[lines] = json.loads(out)
                say(f"  {lines:,} lines: {runs[lines]}")
    base = runs[counts[0]]
    rows = []
    for lines, run in runs.items():
        ratio = run["us_per_event"] / base["us_per_event"]
        memory = (run["rss_before_mb"], run["peak_rss_mb"])
        rows.append((f"{lines:,} lines", run["us_per_event"], ratio, *memory))
        record("growth", f"{lines} lines, per-event cost", run["us_per_event"], "us/event",
               baseline=base["us_per_event"], ratio=ratio, conditions=where | {"lines": lines},
               target=TARGET)  # fmt: skip
        record("growth", f"{lines} lines, peak RSS", run["peak_rss_mb"], "MiB",
               baseline=base["peak_rss_mb"], ratio=run["peak_rss_mb"] / base["peak_rss_mb"],
               conditions=where | {"lines": lines, "rss_before_mb": round(run["rss_before_mb"])},
               target=TARGET)  # fmt: skip
    table(
        f"growth benchmark: the efficiency processor, {args.events:,} events per run "
        f"(baseline: the {counts[0]:,}-line run)",
        ["", "us/event", "x baseline", "RSS before MiB", "peak RSS MiB"],
        rows,
    )


if __name__ == "__main__":
    main()
