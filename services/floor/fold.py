"""The pure part of the floor state: which of a batch's events count, and which win.

Every row of the floor state is a function of the set of events applied: of two events the
later by ``(ts, event_id)`` (`Mark`) wins, whatever their order of arrival. ``event_id`` ties
are broken by code point, which is the order of PostgreSQL's ``COLLATE "C"`` that the store
compares with, so Python and SQL agree on every winner.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from schemas import Kind, MaterialAction
from schemas.records import MachineRecord, Record

Mark = tuple[datetime, str]
"""``(ts, event_id)``: the order of events; ties of ``ts`` broken by ``event_id``."""


MaterialKey = tuple[str, str, str]
"""``(factory, line, material_id)``."""

E = TypeVar("E", bound=Record)
K = TypeVar("K", bound=Hashable)

ADDING = frozenset({MaterialAction.LOADED, MaterialAction.REPLENISHED})
"""Material actions whose quantity is added to the latest level."""


def mark(event: Record) -> Mark:
    return (event.ts, event.event_id)


def latest_per(events: Iterable[E], key: Callable[[E], K]) -> dict[K, E]:
    """Per key, the event with the greatest `Mark`."""
    latest: dict[K, E] = {}
    for event in events:
        k = key(event)
        if k not in latest or mark(event) > mark(latest[k]):
            latest[k] = event
    return latest


@dataclass(frozen=True, slots=True)
class StationSeen:
    """What one batch says about a station: when it was last heard of; its latest machine event;
    when that event's state began within the batch (`began`: the first of the latest events
    that repeat it, a station's heartbeats); the batch's earliest machine event (`first`); and
    whether all the batch's machine events of the station are of that state (`whole`).

    The store continues the stored `since` when the batch only extends the state in force, and
    otherwise recomputes it from the events kept (`store.upsert_stations`)."""

    factory: str
    line: str
    station: str
    last_seen: datetime
    machine: MachineRecord | None
    began: datetime | None = None
    first: datetime | None = None
    whole: bool = True


def stations_seen(events: Iterable[Record]) -> list[StationSeen]:
    """Per station of the batch: the greatest ``ts`` of any event, and its latest machine event
    with when its state began (see `StationSeen`)."""
    last: dict[tuple[str, str, str], datetime] = {}
    machines: dict[tuple[str, str, str], list[MachineRecord]] = {}
    for event in events:
        key = (event.factory, event.line, event.station)
        seen = last.get(key)
        if seen is None or event.ts > seen:
            last[key] = event.ts
        if event.kind is Kind.MACHINE:  # not isinstance: ABCMeta's is slow on pydantic models
            machines.setdefault(key, []).append(event)
    found = []
    for key, ts in last.items():
        changes = sorted(machines.get(key, ()), key=mark)
        if not changes:
            found.append(StationSeen(*key, ts, None))
            continue
        latest = changes[-1]
        run = len(changes) - 1
        while run > 0 and (changes[run - 1].state, changes[run - 1].reason) == (
            latest.state,
            latest.reason,
        ):
            run -= 1
        found.append(StationSeen(*key, ts, latest, changes[run].ts, changes[0].ts, run == 0))
    return found


def additions(events: Iterable[Record]) -> dict[MaterialKey, list[tuple[Mark, float]]]:
    """Per material: the quantities loaded or replenished in ``events``, with their marks."""
    found: dict[MaterialKey, list[tuple[Mark, float]]] = {}
    for event in events:
        if event.kind is Kind.MATERIAL and event.action in ADDING and event.quantity is not None:
            key = (event.factory, event.line, event.material_id)
            found.setdefault(key, []).append((mark(event), event.quantity))
    return found


@dataclass(frozen=True, slots=True)
class StockFound:
    """What ``floor_event`` holds of one material (its rows within the retention period)."""

    station: str  # of its latest event
    last_ts: datetime
    unit: str | None  # of its latest event that has one
    level: Mark | None  # its latest level with a quantity
    level_quantity: float | None
    added_after_level: float  # loaded and replenished after that level
    consumed: float | None  # of its latest consumed event with a quantity
    status: Mark | None  # its latest shortage or replenished event
    shortage: bool  # whether that one is a shortage


@dataclass(frozen=True, slots=True)
class Stock:
    """One ``material_stock`` row, without its key."""

    station: str
    unit: str | None
    quantity: float | None
    level: Mark | None
    last_ts: datetime
    consumed: float | None
    shortage: bool
    status: Mark | None


def merge_stock(
    found: StockFound, stored: Stock | None, added_now: Sequence[tuple[Mark, float]]
) -> Stock:
    """The material's row after a batch: recomputed from ``found``, falling back on ``stored``
    for what retention deleted from ``floor_event``.

    Retention deletes by ``ts``, so whatever ``floor_event`` still holds is newer than what it
    lost. The one loss that matters is the stored level: where ``floor_event`` holds no level at
    least as late as it, the stored quantity stays the base and the batch's own additions after
    that level (``added_now``) are added to it.
    """
    if found.level is not None and (
        stored is None or stored.level is None or found.level >= stored.level
    ):
        level, quantity = found.level, _plus(found.level_quantity, found.added_after_level)
    elif stored is not None and stored.level is not None:
        level = stored.level
        quantity = _plus(stored.quantity, sum(q for m, q in added_now if m > stored.level))
    else:
        level, quantity = None, None
    shortage, status = found.shortage, found.status
    if stored is not None and stored.status is not None:
        if status is None or stored.status > status:
            shortage, status = stored.shortage, stored.status
    return Stock(
        station=found.station,
        unit=found.unit if found.unit is not None or stored is None else stored.unit,
        quantity=quantity,
        level=level,
        last_ts=found.last_ts if stored is None else max(found.last_ts, stored.last_ts),
        consumed=(
            found.consumed if found.consumed is not None or stored is None else stored.consumed
        ),
        shortage=shortage,
        status=status,
    )


def _plus(base: float | None, added: float) -> float | None:
    return None if base is None else base + added
