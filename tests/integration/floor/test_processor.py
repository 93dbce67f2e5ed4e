"""The floor-state processor against real PostgreSQL (and, killed mid-stream, real Kafka).

Scenario tests apply batches with the processor's handler, each in its own transaction as the
consumer loop does; the reference for the rest is the same set of events applied in one batch.
Each test writes under a factory of its own, so tests can share the session's database.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiokafka.structs import ConsumerRecord

from schemas import Event, validate_message
from services.floor.processor import retaining
from services.runtime.database import migrate
from services.simulator.model import SimulationConfig, simulate
from services.stack.embedded.stack import Endpoints
from tests.support.kafka import publish_to_new_topic

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 2, 6, 0, tzinfo=UTC)
NOW = T0 + timedelta(days=1)
RETENTION = timedelta(days=90)  # as tests/support/floor_processor.py

_TABLES = {
    "floor_event": "line, event_id",
    "station_state": "line, station",
    "operator_presence": "line, operator_id",
    "material_stock": "line, material_id",
    "work_order": "line, order_id",
}


def _factory() -> str:
    return f"fl{uuid.uuid4().hex[:8]}"


class Floor:
    """Events of one factory's line ``l1``, at minutes from `T0`."""

    def __init__(self, factory: str) -> None:
        self.factory = factory

    def event(self, kind: str, event_id: str, minute: float, station: str, **fields: Any) -> Event:
        ts = (T0 + timedelta(minutes=minute)).isoformat()
        payload = json.dumps({"event_id": event_id, "ts": ts, **fields}).encode()
        return validate_message(f"floor/v1/{self.factory}/l1/{station}/{kind}", payload)

    def machine(self, event_id: str, minute: float, state: str, **fields: Any) -> Event:
        return self.event("machine", event_id, minute, fields.pop("station", "s1"), state=state,
                          **fields)  # fmt: skip

    def made(
        self, event_id: str, minute: float, good: int, scrap: int = 0, station: str = "s1"
    ) -> Event:
        return self.event("production", event_id, minute, station, good=good, scrap=scrap)

    def people(
        self, event_id: str, minute: float, action: str, operator: str, **fields: Any
    ) -> Event:
        station = fields.pop("station", "s1")
        return self.event("people", event_id, minute, station, action=action, operator_id=operator,
                          **fields)  # fmt: skip

    def material(self, event_id: str, minute: float, action: str, **fields: Any) -> Event:
        station = fields.pop("station", "s1")
        fields.setdefault("material_id", "m1")
        return self.event("material", event_id, minute, station, action=action, **fields)

    def order(
        self, event_id: str, minute: float, action: str, order: str = "WO-1", **fields: Any
    ) -> Event:
        if action == "start":
            fields = {"product_id": "bracket", "target_quantity": 100, **fields}
        return self.event("order", event_id, minute, "s1", action=action, order_id=order, **fields)


def _records(events: Sequence[Event]) -> list[ConsumerRecord[bytes, bytes]]:
    return [
        ConsumerRecord("t", 0, offset, 0, 0, None, e.to_kafka_value(), None, 0, 0, ())
        for offset, e in enumerate(events)
    ]


@pytest.fixture
async def connection(stack: Endpoints) -> AsyncIterator[Any]:
    connection = await asyncpg.connect(stack.database_url)
    try:
        await migrate(connection)
        yield connection
    finally:
        await connection.close()


async def _apply(connection: Any, *batches: Sequence[Event], now: datetime = NOW) -> None:
    handle = retaining(RETENTION, lambda: now)
    for batch in batches:
        async with connection.transaction():
            await handle(connection, _records(batch))


async def _rows(connection: Any, table: str, factory: str) -> list[dict[str, Any]]:
    found = await connection.fetch(
        f"SELECT * FROM {table} WHERE factory = $1 ORDER BY {_TABLES[table]}",  # noqa: S608
        factory,
    )
    return [
        {
            k: json.loads(v) if k.endswith("_by_station") else v
            for k, v in r.items()
            if k != "factory"
        }
        for r in found
    ]


async def _tables(connection: Any, factory: str) -> dict[str, list[dict[str, Any]]]:
    return {table: await _rows(connection, table, factory) for table in _TABLES}


def _at(minute: float) -> datetime:
    return T0 + timedelta(minutes=minute)


async def test_a_station_takes_its_latest_machine_event_whatever_the_arrival(
    connection: Any,
) -> None:
    f = Floor(_factory())
    await _apply(
        connection,
        [f.machine("m1", 0, "running"), f.made("p1", 20, 5)],
        [f.machine("m2", 10, "down", reason="jam"), f.machine("m2", 30, "offline")],  # a repeat
        [f.machine("m0", -5, "idle")],  # late: older than the state
        [
            f.machine("a-2", 10, "setup", station="s2"),
            f.machine("a-10", 10, "blocked", station="s2"),
        ],
        [f.made("p2", 40, 1, station="s3")],
    )
    stations = {r["station"]: r for r in await _rows(connection, "station_state", f.factory)}
    assert stations["s1"] == {
        "line": "l1", "station": "s1", "state": "down", "reason": "jam", "since": _at(10),
        "state_event_id": "m2", "last_seen": _at(20), "state_ts": _at(10),
    }  # fmt: skip
    assert (stations["s2"]["state"], stations["s2"]["state_event_id"]) == ("setup", "a-2")
    assert (stations["s3"]["state"], stations["s3"]["last_seen"]) == (None, _at(40))


async def test_a_repeated_state_keeps_its_since_and_a_late_change_splits_it(
    connection: Any,
) -> None:
    """A station's heartbeats (its state repeated) do not move ``since``; a late event of
    another state between them does, and the row is the same in every arrival order."""
    rows = []
    for order in range(3):
        f = Floor(_factory())
        beats = [f.machine(f"b{i}", 2 * i, "down", reason="jam") for i in range(6)]
        late = f.machine("late", 5, "running")
        if order == 0:  # one by one, the late change last
            batches = [[b] for b in beats] + [[late]]
        elif order == 1:  # newest first
            batches = [[b] for b in reversed([*beats, late])]
        else:  # all at once
            batches = [[*beats, late]]
        await _apply(connection, *batches[:-1])
        if order == 0:
            station = (await _rows(connection, "station_state", f.factory))[0]
            assert (station["since"], station["state_ts"]) == (_at(0), _at(10))
        await _apply(connection, batches[-1])
        (station,) = await _rows(connection, "station_state", f.factory)
        rows.append({k: v for k, v in station.items() if k != "factory"})
    assert rows[0]["since"] == _at(6)  # b3, the first jam after the late run
    assert rows[0]["state_event_id"] == "b5"
    assert rows[0] == rows[1] == rows[2]


async def test_an_operator_is_their_latest_people_event(connection: Any) -> None:
    f = Floor(_factory())
    await _apply(
        connection,
        [
            f.people("h1", 0, "check_in", "op-1", role="operator"),
            f.people("h2", 0, "check_in", "op-2"),
        ],
        [f.people("h3", 30, "check_out", "op-1", station="s2")],
        [f.people("h4", 10, "check_in", "op-1", role="lead")],  # late
    )
    rows = await _rows(connection, "operator_presence", f.factory)
    assert [
        (r["operator_id"], r["action"], r["station"], r["ts"], r["event_id"]) for r in rows
    ] == [
        ("op-1", "check_out", "s2", _at(30), "h3"),
        ("op-2", "check_in", "s1", _at(0), "h2"),
    ]


async def test_a_material_is_its_latest_level_plus_what_came_after(connection: Any) -> None:
    f = Floor(_factory())
    stock = await _stock_after(
        connection,
        f,
        [
            f.material("x1", 0, "level", quantity=100.0, unit="kg"),
            f.material("x2", 5, "loaded", quantity=50.0),
        ],
        [f.material("x3", 7, "consumed", quantity=30.0), f.material("x4", 8, "shortage")],
        [f.material("x5", 9, "replenished", quantity=40.0, station="s2")],
        [
            f.material("x6", -5, "level", quantity=999.0),
            f.material("x7", -2, "loaded", quantity=1.0),
        ],
        [f.material("x8", 6.5, "consumed", quantity=20.0)],  # late: not the latest consumption
    )
    assert stock == {
        "line": "l1", "material_id": "m1", "station": "s2", "unit": "kg", "quantity": 190.0,
        "level_ts": _at(0), "level_event_id": "x1", "last_ts": _at(9), "consumed": 30.0,
        "shortage": False, "status_ts": _at(9), "status_event_id": "x5",
    }  # fmt: skip
    stock = await _stock_after(
        connection, f, [f.material("x9", 6, "level", quantity=80.0, unit="t")]
    )  # late, but later than the level known: the new base
    assert (stock["quantity"], stock["level_event_id"], stock["unit"]) == (120.0, "x9", "t")
    stock = await _stock_after(connection, f, [f.material("x10", 12, "shortage")])
    assert (stock["shortage"], stock["status_event_id"], stock["last_ts"]) == (True, "x10", _at(12))


async def test_a_material_whose_level_retention_deleted_keeps_its_stored_base(
    connection: Any,
) -> None:
    f = Floor(_factory())
    await _apply(
        connection,
        [
            f.material("x1", 0, "level", quantity=100.0, unit="kg"),
            f.material("x2", 5, "loaded", quantity=50.0),
        ],
        [f.material("x3", 6, "consumed", quantity=7.0), f.material("x4", 7, "shortage")],
    )
    await connection.execute("DELETE FROM floor_event WHERE factory = $1", f.factory)  # retention
    stock = await _stock_after(
        connection,
        f,
        [f.material("x5", 10, "loaded", quantity=5.0), f.material("x6", 4, "loaded", quantity=1.0)],
    )
    assert stock == {
        "line": "l1", "material_id": "m1", "station": "s1", "unit": "kg", "quantity": 156.0,
        "level_ts": _at(0), "level_event_id": "x1", "last_ts": _at(10), "consumed": 7.0,
        "shortage": True, "status_ts": _at(7), "status_event_id": "x4",
    }  # fmt: skip


async def _stock_after(connection: Any, f: Floor, *batches: Sequence[Event]) -> dict[str, Any]:
    await _apply(connection, *batches)
    (stock,) = await _rows(connection, "material_stock", f.factory)
    return stock


async def test_an_order_counts_the_production_of_its_span_whenever_it_arrives(
    connection: Any,
) -> None:
    f = Floor(_factory())
    before_the_start = [
        f.made("p1", 1, 10, 1),
        f.made("p2", 2, 20, station="s2"),
        f.made("p0", -1, 99),
    ]
    await _apply(
        connection,
        before_the_start,
        [f.order("o1", 0, "start", ideal_cycle_time_s=1.5)],
        [f.made("p3", 3, 30, 3), f.made("p4", 3.5, 4)],
        [f.order("o2", 3.5, "end")],
        [f.made("p5", 4, 1000), f.order("o3", 3.5, "start", "WO-2")],
        [f.made("p6", 5, 7, station="s2"), f.order("o4", 2.5, "end")],  # an older end: ignored
    )
    orders = await _rows(connection, "work_order", f.factory)
    assert orders == [
        {
            "line": "l1", "order_id": "WO-1", "product_id": "bracket", "target_quantity": 100,
            "ideal_cycle_time_s": 1.5, "started_at": _at(0), "start_event_id": "o1",
            "ended_at": _at(3.5), "end_event_id": "o2",
            "good_by_station": {"s1": 40, "s2": 20}, "scrap_by_station": {"s1": 4, "s2": 0},
        },
        {
            "line": "l1", "order_id": "WO-2", "product_id": "bracket", "target_quantity": 100,
            "ideal_cycle_time_s": None, "started_at": _at(3.5), "start_event_id": "o3",
            "ended_at": None, "end_event_id": None,
            "good_by_station": {"s1": 1004, "s2": 7}, "scrap_by_station": {"s1": 0, "s2": 0},
        },
    ]  # fmt: skip
    await _apply(connection, [f.order("o5", 1.5, "start", target_quantity=50)])  # a later start
    (first, _) = await _rows(connection, "work_order", f.factory)
    assert (first["target_quantity"], first["good_by_station"]) == (50, {"s1": 30, "s2": 20})
    await _apply(connection, [f.order("o6", 6, "start"), f.made("p7", 6.5, 2)])  # started again
    (first, _) = await _rows(connection, "work_order", f.factory)
    assert (first["ended_at"], first["good_by_station"]) == (None, {"s1": 2})


def _extras(f: Floor, start: float) -> list[Event]:
    """A bit of every kind, spread over the hour from minute ``start`` on, with ts ties."""
    events: list[Event] = []
    for i in range(12):
        m = start + 5 * i
        events += [
            f.machine(
                f"xm{i}", m, random.Random(i).choice(["running", "down", "idle"]), station="x"
            ),
            f.machine(f"xm{i}b", m, "setup", station="x"),
            f.people(f"xh{i}", m, "check_in" if i % 3 else "check_out", f"op-{i % 4}"),
            f.material(
                f"xl{i}", m, "level" if i % 4 == 0 else "loaded", quantity=10.0 * i, unit="kg"
            ),
            f.material(f"xc{i}", m + 1, "consumed", quantity=2.5 * i, material_id="m2"),
            f.material(f"xs{i}", m + 2, "shortage" if i % 2 else "replenished", quantity=4.0),
            f.order(f"xo{i}", m + 0.5, "start" if i % 2 == 0 else "end", f"XO-{i // 4}"),
            f.made(f"xp{i}", m + 0.7, i, i % 3, station="x"),
        ]
    return events


def _simulated(factory: str, start: datetime) -> list[Event]:
    """An hour of one simulated line, renamed to ``factory``."""
    sim = simulate(
        SimulationConfig(factories=1, lines=1, seed=11, rate=2.0), start, start + timedelta(hours=1)
    )
    return [validate_message(e.topic.replace("/f1/", f"/{factory}/"), e.encode()) for e in sim]


def _scenario(factory: str) -> list[Event]:
    f = Floor(factory)
    return _simulated(factory, T0) + _extras(f, 0)


async def test_any_order_and_any_repeats_give_the_same_floor(connection: Any) -> None:
    first, second = _factory(), _factory()
    await _apply(connection, _scenario(first))
    arrivals = _scenario(second)
    arrivals += random.Random(5).sample(arrivals, len(arrivals) // 3)
    random.Random(6).shuffle(arrivals)
    batches, i = [], 0
    sizes = random.Random(7)
    while i < len(arrivals):
        size = sizes.choice([1, 7, 50, 400])
        batches.append(arrivals[i : i + size])
        i += size
    await _apply(connection, *batches)
    assert await _tables(connection, second) == await _tables(connection, first)
    assert len(await _rows(connection, "work_order", first)) >= 4


async def test_events_older_than_the_retention_are_skipped(
    connection: Any, caplog: pytest.LogCaptureFixture
) -> None:
    f = Floor(_factory())
    now = T0 + RETENTION + timedelta(minutes=10)
    with caplog.at_level(logging.WARNING, "floorstream.services.floor.processor"):
        await _apply(
            connection,
            [
                f.machine("old1", 5, "down", station="s9"),
                f.made("old2", 9, 1),
                f.machine("new", 10, "running"),
            ],
            now=now,
        )
    tables = await _tables(connection, f.factory)
    assert [r["event_id"] for r in tables["floor_event"]] == ["new"]
    assert [r["station"] for r in tables["station_state"]] == ["s1"]
    assert [r.getMessage() for r in caplog.records] == [
        f"skipped 2 event(s) older than the retention period (before {_at(10).isoformat()})"
    ]


# --- killed mid-stream, through Kafka ------------------------------------------------------


async def _publish(bootstrap: str, events: list[Event]) -> str:
    return await publish_to_new_topic(bootstrap, events, prefix="test.floor")


async def _lag(connection: Any, group: str, topic: str, total: int) -> int:
    done = await connection.fetchval(
        "SELECT coalesce(sum(next_offset), 0) FROM consumer_offset WHERE grp = $1 AND topic = $2",
        group,
        topic,
    )
    return total - int(done)


async def _until_lag_at_most(connection: Any, group: str, topic: str, total: int, lag: int) -> None:
    for _ in range(2400):
        if await _lag(connection, group, topic, total) <= lag:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the processor made no progress")


def _processor(stack: Endpoints, group: str, topic: str, log: Path) -> subprocess.Popen[bytes]:
    argv = [
        sys.executable, "-m", "tests.support.floor_processor", stack.kafka_bootstrap,
        stack.database_url, group, topic, NOW.isoformat(),
    ]  # fmt: skip
    with log.open("ab") as output:
        return subprocess.Popen(argv, stdout=output, stderr=subprocess.STDOUT, env=dict(os.environ))


async def test_killed_twice_mid_stream_the_floor_equals_an_undisturbed_run(
    stack: Endpoints, connection: Any, tmp_path: Path
) -> None:
    reference, killed = _factory(), _factory()
    await _apply(connection, _scenario(reference))
    arrivals = _scenario(killed)
    arrivals += arrivals[::5]  # redelivered
    random.Random(8).shuffle(arrivals)
    topic = await _publish(stack.kafka_bootstrap, arrivals)
    group, total, log = f"g-{killed}", len(arrivals), tmp_path / "floor.log"
    process = _processor(stack, group, topic, log)
    try:
        for step in range(2):
            await _until_lag_at_most(connection, group, topic, total, total * (3 - step) // 4)
            process.send_signal(signal.SIGKILL)  # kill -9, wherever it is in its batch
            process.wait()
            process = _processor(stack, group, topic, log)
        await _until_lag_at_most(connection, group, topic, total, 0)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(30)
    assert await _tables(connection, killed) == await _tables(connection, reference)
