"""The efficiency processor's statements read what a batch touches by index, not whole tables,
however much history the tables hold.

The planner chooses a plan per execution from the table's statistics: over a few thousand rows
a join of a batch's stations to a table by index and a hash of the whole table cost it about
the same, and once a table held 300,000 rows it hashed the whole of ``production_minute``,
``minute_bucket`` and ``hour_bucket`` for every batch of 10 stations (70-110 ms a statement,
against 0.3-10 ms by index). A cost that grows with the history, not with the batch, is the
cliff this test keeps away: each statement of a batch is explained, with its arguments, over
tables with 300,000 rows of history, and none may scan one of them whole.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import asyncpg
import pytest

from schemas import MachinePayload, MachineState, ProductionPayload, TopicAddress, route
from schemas.types import Kind
from services.efficiency import processor
from services.runtime.database import open_database
from services.stack.embedded.stack import Endpoints
from tests.support.buckets import START
from tests.support.database import fresh_database

pytestmark = pytest.mark.integration

STATIONS = 10
HISTORY_MINUTES = 30_000  # per station: 300,000 rows of each table
BIG = ("production_minute", "minute_bucket", "hour_bucket", "station_event")


@dataclass(frozen=True, slots=True)
class _Record:
    value: bytes
    offset: int
    topic: str = "t"
    partition: int = 0


class Explaining:
    """A connection that explains each statement with arguments before running it."""

    def __init__(self, connection: asyncpg.Connection) -> None:
        self._connection = connection
        self.plans: list[tuple[str, list[str]]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._connection, name)

    async def _explain(self, query: str, args: tuple[Any, ...]) -> None:
        if args:
            rows = await self._connection.fetch("EXPLAIN " + query, *args)
            self.plans.append((" ".join(query.split())[:80], [row[0] for row in rows]))

    async def fetch(self, query: str, *args: Any) -> Any:
        await self._explain(query, args)
        return await self._connection.fetch(query, *args)

    async def execute(self, query: str, *args: Any) -> Any:
        await self._explain(query, args)
        return await self._connection.execute(query, *args)


async def _history(connection: asyncpg.Connection) -> None:
    """30,000 minutes of each station's past, ending 9 days before the batches, in every
    big table."""
    since = START - timedelta(days=30)
    await connection.execute(
        """
        INSERT INTO production_minute
        SELECT 'f1', 'l1', 's' || s, $1::timestamptz + m * interval '1 minute',
               ARRAY[(s::bigint << 32) + m], ARRAY[0], ARRAY[1::bigint], ARRAY[0::bigint]
        FROM generate_series(0, $2 - 1) s, generate_series(0, $3 - 1) m""",
        since,
        STATIONS,
        HISTORY_MINUTES,
    )
    await connection.execute(
        """
        INSERT INTO minute_bucket (factory, line, station, minute, running_ms, idle_ms,
            starved_ms, blocked_ms, down_ms, setup_ms, planned_stop_ms, offline_ms,
            small_stop_ms, unknown_ms, total_count, good_count, scrap_count, startup_scrap,
            ideal_time_s, count_without_ideal)
        SELECT 'f1', 'l1', 's' || s, $1::timestamptz + m * interval '1 minute',
               60000, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 1
        FROM generate_series(0, $2 - 1) s, generate_series(0, $3 - 1) m""",
        since,
        STATIONS,
        HISTORY_MINUTES,
    )
    await connection.execute(
        """
        INSERT INTO hour_bucket SELECT factory, line, station,
            date_trunc('hour', $1::timestamptz) - (row_number() OVER ()) * interval '1 hour',
            running_ms, idle_ms, starved_ms, blocked_ms, down_ms, setup_ms, planned_stop_ms,
            offline_ms, small_stop_ms, unknown_ms, total_count, good_count, scrap_count,
            startup_scrap, ideal_time_s, count_without_ideal, down_by_reason
        FROM minute_bucket""",  # as many hours, before the minutes: only the count matters
        since,
    )
    await connection.execute(
        """
        INSERT INTO station_event (factory, line, event_id, station, kind, ts, state, reason)
        SELECT 'f1', 'l1', 'h-' || s || '-' || m, 's' || s, 'machine',
               $1::timestamptz + m * interval '1 minute', 'running', 'history'
        FROM generate_series(0, $2 - 1) s, generate_series(0, $3 - 1) m""",
        since,
        STATIONS,
        HISTORY_MINUTES,
    )
    await connection.execute("ANALYZE")


def _batch(first: int) -> list[_Record]:
    """Each station: a machine change, then production reports every 5 s for 5 minutes."""
    records = []
    for s in range(STATIONS):
        at = START + timedelta(minutes=first)
        address = TopicAddress("f1", "l1", f"s{s}", Kind.MACHINE)
        change = MachinePayload(event_id=f"m{first}-{s}", ts=at, state=MachineState.RUNNING)
        records.append(route(change, address))
        for n in range(60):
            address = TopicAddress("f1", "l1", f"s{s}", Kind.PRODUCTION)
            report = ProductionPayload(
                event_id=f"p{first}-{s}-{n}", ts=at + timedelta(seconds=5 * n), good=1
            )
            records.append(route(report, address))
    return [_Record(event.to_kafka_value(), n) for n, event in enumerate(records)]


async def test_no_statement_of_a_batch_scans_a_table_of_history_whole(stack: Endpoints) -> None:
    async with fresh_database(stack.database_url, "plans") as url:
        async with open_database(url, max_size=1):
            pass  # migrated
        connection = await asyncpg.connect(url)
        try:
            await _history(connection)
            explaining = Explaining(connection)
            for first in (0, 10, 20):  # the later batches find the earlier ones' rows
                async with connection.transaction():
                    await processor.apply_batch(explaining, _batch(first))  # type: ignore[arg-type]
        finally:
            await connection.close()
    assert len(explaining.plans) > 20
    scans = {
        (statement, table)
        for statement, plan in explaining.plans
        for line in plan
        for table in re.findall(r"Seq Scan on (\w+)", line)
        if table in BIG
    }
    assert not scans, scans
