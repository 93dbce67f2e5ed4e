"""Migration 0012 repairs what events from a line's future left behind (issue 14): a station
held "Down since 2090", the raw events and the buckets after the bound.

The stuck tables are written by the processors' handlers called without cut-offs, which is
what the code before the fix did with every event; then 0012 runs again on them. The database
is one of the test's own: the migration deletes across every factory.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from aiokafka.structs import ConsumerRecord

from schemas import Event, ProductionEvent, validate_message
from services.efficiency import processor as efficiency
from services.efficiency import store as efficiency_store
from services.floor import processor as floor
from services.runtime.database import migrate
from services.stack.embedded.stack import Endpoints
from tests.support.buckets import hours_disagreeing
from tests.support.database import fresh_database

pytestmark = pytest.mark.integration

FACTORY = "f1"
YEAR_2090 = datetime(2090, 1, 1, tzinfo=UTC)


def _event(kind: str, event_id: str, ts: datetime, station: str, **fields: Any) -> Event:
    payload = json.dumps({"event_id": event_id, "ts": ts.isoformat(), **fields}).encode()
    return validate_message(f"floor/v1/{FACTORY}/l1/{station}/{kind}", payload)


def _records(events: Sequence[Event]) -> list[ConsumerRecord[bytes, bytes]]:
    return [
        ConsumerRecord("t", 0, offset, 0, 0, None, e.to_kafka_value(), None, 0, 0, ())
        for offset, e in enumerate(events)
    ]


async def _stations(connection: Any) -> dict[str, dict[str, Any]]:
    rows = await connection.fetch(
        "SELECT station, state, reason, since, state_event_id, last_seen FROM station_state"
        " WHERE factory = $1",
        FACTORY,
    )
    return {r["station"]: {k: v for k, v in r.items() if k != "station"} for r in rows}


async def test_a_station_held_in_the_future_is_repaired_from_its_remaining_events(
    stack: Endpoints,
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    soon = now + timedelta(hours=2)  # within a day: kept
    held = [
        # s1: running, then down "since 2090"
        _event("machine", "m1", now - timedelta(hours=2), "s1", state="running"),
        _event("production", "p1", now - timedelta(hours=1), "s1", good=5),
        _event("machine", "m2", YEAR_2090, "s1", state="down", reason="clock"),
        # s2: heard of only from 2090
        _event("machine", "only", YEAR_2090, "s2", state="down"),
        # s3: a valid state, but last seen in 2090
        _event("machine", "m3", now - timedelta(minutes=30), "s3", state="idle", reason="lunch"),
        _event("production", "p3", YEAR_2090, "s3", good=1),
        # s4: a state a little ahead
        _event("machine", "m4", soon, "s4", state="setup"),
    ]
    # s5: down three days ahead: the old code folded its minutes up to then
    folded = [
        _event("machine", "m5", now - timedelta(hours=1), "s5", state="running"),
        _event("machine", "m6", now + timedelta(days=3), "s5", state="down"),
    ]
    async with fresh_database(stack.database_url, "future") as url:
        connection = await asyncpg.connect(url)
        try:
            await migrate(connection)
            async with connection.transaction():  # as before the fix: no cut-offs
                await floor.apply_batch(connection, _records(held + folded))
                await efficiency_store.insert_new_events(connection, events=held)
                await efficiency.apply_batch(connection, _records(folded))
            assert (await _stations(connection))["s1"]["since"] == YEAR_2090  # stuck
            last_minute = "SELECT max(minute) FROM minute_bucket WHERE factory = $1"
            assert await connection.fetchval(last_minute, FACTORY) >= now + timedelta(days=2)
            # 0012 ran before 0014, when the floor's production was one row each in floor_event
            await connection.execute("DELETE FROM floor_production_minute")
            await connection.executemany(
                "INSERT INTO floor_event (factory, line, event_id, station, kind, ts, good, scrap)"
                " VALUES ($1, $2, $3, $4, 'production', $5, $6, $7)",
                [
                    (e.factory, e.line, e.event_id, e.station, e.ts, e.good, e.scrap)
                    for e in held
                    if isinstance(e, ProductionEvent)
                ],
            )

            await connection.execute("DELETE FROM schema_migrations WHERE version = 12")
            assert await migrate(connection) == [12]

            bound = now + timedelta(days=1)
            for table, column in [
                ("station_event", "ts"),
                ("floor_event", "ts"),
                ("minute_bucket", "minute"),
                ("hour_bucket", "hour"),
            ]:
                latest = await connection.fetchval(
                    f"SELECT max({column}) FROM {table} WHERE factory = $1",  # noqa: S608
                    FACTORY,
                )
                assert latest < bound + timedelta(hours=2), table
            assert await hours_disagreeing(url, FACTORY) == []
            stations = await _stations(connection)
            assert stations == {
                "s1": {"state": "running", "reason": None, "since": now - timedelta(hours=2),
                       "state_event_id": "m1", "last_seen": now - timedelta(hours=1)},
                "s3": {"state": "idle", "reason": "lunch", "since": now - timedelta(minutes=30),
                       "state_event_id": "m3", "last_seen": now - timedelta(minutes=30)},
                "s4": {"state": "setup", "reason": None, "since": soon, "state_event_id": "m4",
                       "last_seen": soon},
                "s5": {"state": "running", "reason": None, "since": now - timedelta(hours=1),
                       "state_event_id": "m5", "last_seen": now - timedelta(hours=1)},
            }  # fmt: skip

            # and a later valid event takes over again
            later = _event("machine", "m7", now, "s1", state="down", reason="jam")
            async with connection.transaction():
                await floor.apply_batch(connection, _records([later]))
            assert (await _stations(connection))["s1"]["state_event_id"] == "m7"
        finally:
            await connection.close()
