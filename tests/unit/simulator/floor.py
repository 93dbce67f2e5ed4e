"""Reading a simulated event stream back: records, station state intervals, order intervals."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from services.simulator.types import SimEvent


@dataclass(frozen=True)
class Record:
    """One event, its topic taken apart and its ``ts`` parsed."""

    index: int
    time: datetime
    factory: str
    line: str
    station: str
    kind: str
    payload: dict[str, Any]
    event: SimEvent

    @property
    def line_key(self) -> tuple[str, str]:
        return self.factory, self.line


def records(events: Iterable[SimEvent]) -> list[Record]:
    out = []
    for index, event in enumerate(events):
        _, _, factory, line, station, kind = event.topic.split("/")
        when = datetime.fromisoformat(str(event.payload["ts"]))
        payload = dict(event.payload)
        out.append(Record(index, when, factory, line, station, kind, payload, event))
    return out


@dataclass(frozen=True)
class Interval:
    start: datetime
    end: datetime
    state: str
    reason: str | None

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()


def state_intervals(day: list[Record], end: datetime) -> dict[tuple[str, str, str], list[Interval]]:
    """Each station's machine states as intervals, the last one closed at ``end``."""
    changes: dict[tuple[str, str, str], list[Record]] = defaultdict(list)
    for record in day:
        if record.kind == "machine":
            changes[(record.factory, record.line, record.station)].append(record)
    out: dict[tuple[str, str, str], list[Interval]] = {}
    for key, recs in changes.items():
        ends = [r.time for r in recs[1:]] + [end]
        out[key] = [
            Interval(r.time, stop, r.payload["state"], r.payload.get("reason"))
            for r, stop in zip(recs, ends, strict=True)
        ]
    return out


@dataclass(frozen=True)
class OrderSpan:
    order_id: str
    start: datetime
    end: datetime
    ideal_cycle_time_s: float


def order_spans(day: list[Record], line: tuple[str, str], end: datetime) -> list[OrderSpan]:
    """The orders of ``line``; one still running at ``end`` is closed there."""
    spans = []
    open_orders: dict[str, Record] = {}
    for record in day:
        if record.kind != "order" or record.line_key != line:
            continue
        if record.payload["action"] == "start":
            open_orders[record.payload["order_id"]] = record
        else:
            started = open_orders.pop(record.payload["order_id"])
            cycle = started.payload["ideal_cycle_time_s"]
            spans.append(OrderSpan(record.payload["order_id"], started.time, record.time, cycle))
    for order_id, started in open_orders.items():
        cycle = started.payload["ideal_cycle_time_s"]
        spans.append(OrderSpan(order_id, started.time, end, cycle))
    return spans


def overlap_s(a_start: datetime, a_end: datetime, b_start: datetime, b_end: datetime) -> float:
    return max(0.0, (min(a_end, b_end) - max(a_start, b_start)).total_seconds())


def lines_of(day: list[Record]) -> list[tuple[str, str]]:
    return sorted({record.line_key for record in day})
