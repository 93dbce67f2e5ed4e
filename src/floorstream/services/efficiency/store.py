"""The efficiency processor's data access: keyword-only functions on one connection, each used
inside the batch's transaction (see `runtime.consumer`)."""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from floorstream.schemas import Event, MachineEvent, OrderEvent, ProductionEvent
from floorstream.schemas.types import MachineState, OrderAction
from floorstream.services.efficiency.core import MinuteBucket

Connection = Any  # an asyncpg connection (asyncpg has no type hints)

_COLUMNS = (
    "factory",
    "line",
    "event_id",
    "station",
    "kind",
    "ts",
    "state",
    "reason",
    "good",
    "scrap",
    "action",
    "order_id",
    "ideal_cycle_time_s",
)


@dataclass(frozen=True, slots=True)
class Change:
    event_id: str
    ts: datetime
    state: MachineState
    reason: str | None


@dataclass(frozen=True, slots=True)
class Made:
    event_id: str
    ts: datetime
    good: int
    scrap: int


@dataclass(frozen=True, slots=True)
class OrderRow:
    event_id: str
    ts: datetime
    action: OrderAction
    order_id: str
    ideal_cycle_time_s: float | None


def _row(event: Event) -> tuple[Any, ...]:
    state = reason = good = scrap = action = order_id = cycle = None
    if isinstance(event, MachineEvent):
        state, reason = event.state.value, event.reason
    elif isinstance(event, ProductionEvent):
        good, scrap = event.good, event.scrap
    elif isinstance(event, OrderEvent):
        action, order_id, cycle = event.action.value, event.order_id, event.ideal_cycle_time_s
    return (
        event.factory,
        event.line,
        event.event_id,
        event.station,
        event.kind.value,
        event.ts,
        state,
        reason,
        good,
        scrap,
        action,
        order_id,
        cycle,
    )


async def insert_new_events(connection: Connection, *, events: list[Event]) -> set[str]:
    """Store the events not stored yet; return the keys ``factory/line/event_id`` stored now.

    A repeat of an ``event_id`` on a line (a redelivery, a sender's retry) is not stored again.
    """
    if not events:
        return set()
    columns = list(zip(*(_row(event) for event in events), strict=True))
    rows = await connection.fetch(
        f"INSERT INTO station_event ({', '.join(_COLUMNS)})"  # noqa: S608 - constant columns
        " SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],"
        " $6::timestamptz[], $7::text[], $8::text[], $9::bigint[], $10::bigint[], $11::text[],"
        " $12::text[], $13::float8[]) ON CONFLICT DO NOTHING"
        " RETURNING factory, line, event_id",
        *columns,
    )
    return {f"{r['factory']}/{r['line']}/{r['event_id']}" for r in rows}


async def register_lines(connection: Connection, *, lines: set[tuple[str, str]]) -> None:
    """A line is known from its first valid event on."""
    await connection.execute(
        "INSERT INTO line (factory, line) SELECT * FROM unnest($1::text[], $2::text[])"
        " ON CONFLICT DO NOTHING",
        [f for f, _ in lines],
        [line for _, line in lines],
    )


async def small_stop_thresholds(
    connection: Connection, *, lines: set[tuple[str, str]]
) -> dict[tuple[str, str], float]:
    rows = await connection.fetch(
        "SELECT factory, line, coalesce((settings->>'small_stop_threshold_s')::float8, 0) AS t"
        " FROM line WHERE (factory, line) IN (SELECT * FROM unnest($1::text[], $2::text[]))",
        [f for f, _ in lines],
        [line for _, line in lines],
    )
    return {(r["factory"], r["line"]): r["t"] for r in rows}


async def neighbours(
    connection: Connection, *, factory: str, line: str, station: str, ts: datetime
) -> tuple[datetime | None, datetime | None]:
    """The station's machine changes just before and just after ``ts``."""
    row = await connection.fetchrow(
        "SELECT (SELECT max(ts) FROM station_event WHERE factory = $1 AND line = $2"
        "  AND station = $3 AND kind = 'machine' AND ts < $4) AS before,"
        " (SELECT min(ts) FROM station_event WHERE factory = $1 AND line = $2"
        "  AND station = $3 AND kind = 'machine' AND ts > $4) AS after",
        factory,
        line,
        station,
        ts,
    )
    return row["before"], row["after"]


async def next_order_change(
    connection: Connection, *, factory: str, line: str, ts: datetime
) -> datetime | None:
    value: datetime | None = await connection.fetchval(
        "SELECT min(ts) FROM station_event WHERE factory = $1 AND line = $2 AND kind = 'order'"
        " AND ts > $3",
        factory,
        line,
        ts,
    )
    return value


async def last_production(connection: Connection, *, factory: str, line: str) -> datetime | None:
    value: datetime | None = await connection.fetchval(
        "SELECT max(ts) FROM station_event WHERE factory = $1 AND line = $2"
        " AND kind = 'production'",
        factory,
        line,
    )
    return value


async def stations(connection: Connection, *, factory: str, line: str) -> list[str]:
    rows = await connection.fetch(
        "SELECT DISTINCT station FROM station_event WHERE factory = $1 AND line = $2"
        " AND kind IN ('machine', 'production')",
        factory,
        line,
    )
    return [r["station"] for r in rows]


_ORDERS = """
SELECT event_id, ts, action, order_id, ideal_cycle_time_s FROM station_event
WHERE factory = $1 AND line = $2 AND kind = 'order' AND ts <= $4
  AND ts >= coalesce(
      (SELECT max(ts) FROM station_event
       WHERE factory = $1 AND line = $2 AND kind = 'order' AND action = 'start' AND ts < $3),
      $3)
"""


async def fold_inputs(
    connection: Connection,
    *,
    factory: str,
    line: str,
    station: str,
    since: datetime,
    until: datetime,
) -> tuple[list[Change], list[Made], list[OrderRow]]:
    """What `fold_station` needs for a window whose context is ``[since, until]``: the station's
    changes in it with the one before and the one after, its production in it, and the line's
    orders up to ``until`` from the last ``start`` before ``since`` on."""
    changes = await connection.fetch(
        "(SELECT event_id, ts, state, reason FROM station_event WHERE factory = $1 AND line = $2"
        "  AND station = $3 AND kind = 'machine' AND ts >= $4 AND ts <= $5)"
        " UNION (SELECT event_id, ts, state, reason FROM station_event WHERE factory = $1"
        "  AND line = $2 AND station = $3 AND kind = 'machine' AND ts = (SELECT max(ts) FROM"
        "  station_event WHERE factory = $1 AND line = $2 AND station = $3 AND kind = 'machine'"
        "  AND ts < $4))"
        " UNION (SELECT event_id, ts, state, reason FROM station_event WHERE factory = $1"
        "  AND line = $2 AND station = $3 AND kind = 'machine' AND ts = (SELECT min(ts) FROM"
        "  station_event WHERE factory = $1 AND line = $2 AND station = $3 AND kind = 'machine'"
        "  AND ts > $5))",
        factory,
        line,
        station,
        since,
        until,
    )
    made = await connection.fetch(
        "SELECT event_id, ts, good, scrap FROM station_event WHERE factory = $1 AND line = $2"
        " AND station = $3 AND kind = 'production' AND ts >= $4 AND ts <= $5",
        factory,
        line,
        station,
        since,
        until,
    )
    orders = await connection.fetch(_ORDERS, factory, line, since, until)
    return (
        [Change(r["event_id"], r["ts"], MachineState(r["state"]), r["reason"]) for r in changes],
        [Made(r["event_id"], r["ts"], r["good"], r["scrap"]) for r in made],
        [
            OrderRow(
                r["event_id"],
                r["ts"],
                OrderAction(r["action"]),
                r["order_id"],
                r["ideal_cycle_time_s"],
            )
            for r in orders
        ],
    )


BUCKET_COLUMNS = tuple(f.name for f in fields(MinuteBucket) if f.name != "down_by_reason")
"""The numeric columns of ``minute_bucket``: one per field of `MinuteBucket`."""


async def replace_buckets(
    connection: Connection,
    *,
    factory: str,
    line: str,
    station: str,
    start: datetime,
    end: datetime,
    buckets: dict[datetime, MinuteBucket],
) -> None:
    """Replace the station's minutes in ``[start, end)``; minutes with nothing known go."""
    await connection.execute(
        "DELETE FROM minute_bucket WHERE factory = $1 AND line = $2 AND station = $3"
        " AND minute >= $4 AND minute < $5",
        factory,
        line,
        station,
        start,
        end,
    )
    rows = [
        (
            factory,
            line,
            station,
            minute,
            *(getattr(b, c) for c in BUCKET_COLUMNS),
            json.dumps(dict(b.down_by_reason)),
        )
        for minute, b in buckets.items()
        if b != _NOTHING
    ]
    if rows:
        await connection.copy_records_to_table(
            "minute_bucket",
            records=rows,
            columns=["factory", "line", "station", "minute", *BUCKET_COLUMNS, "down_by_reason"],
        )


_NOTHING = MinuteBucket()
